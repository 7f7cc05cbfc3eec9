/**
 * A hand-written SVG grouped bar chart: S3 PUT and GET throughput by object size and concurrency,
 * one bar per target (Coffer, its baselines). Pure: metrics in, SVG text out.
 */
import type { Metric } from './report.ts'

const COLORS = ['#1f6feb', '#8250df', '#2da44e', '#bf8700', '#cf222e', '#57606a']
const W = 980
const PANEL_H = 300
const TOP = 70
const LEFT = 60
const GAP = 50
const BOTTOM = 60

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** A round axis maximum above `x`: 1, 2 or 5 times a power of ten. */
function niceMax(x: number): number {
  if (!(x > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(x))
  for (const f of [1, 2, 5, 10]) if (f * p >= x) return f * p
  return 10 * p
}

export interface ChartSeries {
  /** Group label on the x axis, e.g. "1MiB ×8". */
  groups: string[]
  targets: string[]
  /** value[op][group][target] in MB/s; null = not available. */
  values: Record<string, (number | null)[][]>
}

/** Picks the S3 throughput metrics (extra.kind === 'throughput', healthy only). */
export function throughputSeries(metrics: readonly Metric[]): ChartSeries | undefined {
  const rows = metrics.filter((m) => m.suite === 's3' && m.extra?.kind === 'throughput' && !m.extra?.degraded)
  if (rows.length === 0) return undefined
  const groupOf = (m: Metric) => `${m.extra!.sizeName} ×${m.extra!.concurrency}`
  const order = (m: Metric) => Number(m.extra!.size) * 1000 + Number(m.extra!.concurrency)
  const groups = [...new Map(rows.sort((a, b) => order(a) - order(b)).map((m) => [groupOf(m), true])).keys()]
  // Coffer's own bars first, then the baselines, each group in the order it was measured.
  const seen = [...new Set(rows.map((m) => m.target))]
  const targets = [...seen.filter((t) => t.startsWith('coffer')), ...seen.filter((t) => !t.startsWith('coffer'))]
  const values: ChartSeries['values'] = {}
  for (const op of ['PUT', 'GET']) {
    values[op] = groups.map((g) =>
      targets.map((t) => rows.find((m) => m.extra!.op === op && groupOf(m) === g && m.target === t)?.value ?? null),
    )
  }
  return { groups, targets, values }
}

export function throughputChart(metrics: readonly Metric[]): string | undefined {
  const s = throughputSeries(metrics)
  if (!s) return undefined
  const ops = ['PUT', 'GET']
  const panelW = (W - LEFT - GAP - 20) / 2
  const all = ops.flatMap((op) => s.values[op]!.flat()).filter((v): v is number => v !== null)
  const max = niceMax(Math.max(1, ...all))
  const H = TOP + PANEL_H + BOTTOM + 20 * Math.ceil(s.targets.length / 3)
  const y = (v: number) => TOP + PANEL_H - (v / max) * PANEL_H
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">S3 throughput over TLS by object size × concurrency (MB/s, higher is better)</text>`,
  ]
  // Legend
  s.targets.forEach((t, i) => {
    const lx = LEFT + (i % 3) * 290
    const ly = 40 + Math.floor(i / 3) * 16
    out.push(
      `<rect x="${lx}" y="${ly - 9}" width="12" height="10" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${lx + 17}" y="${ly}">${esc(t)}</text>`,
    )
  })
  const legendRows = Math.ceil(s.targets.length / 3)
  const shift = (legendRows - 1) * 16
  out.push(`<g transform="translate(0, ${shift})">`)
  ops.forEach((op, p) => {
    const x0 = LEFT + p * (panelW + GAP)
    out.push(
      `<text x="${x0 + panelW / 2}" y="${TOP - 8}" text-anchor="middle" font-size="13" font-weight="600">${op}</text>`,
    )
    for (let i = 0; i <= 5; i++) {
      const v = (max / 5) * i
      out.push(
        `<line x1="${x0}" x2="${x0 + panelW}" y1="${y(v)}" y2="${y(v)}" stroke="#d0d7de" stroke-width="${i === 0 ? 1 : 0.5}"/>`,
      )
      out.push(`<text x="${x0 - 6}" y="${y(v) + 4}" text-anchor="end" fill="#57606a">${Math.round(v)}</text>`)
    }
    const groupW = panelW / s.groups.length
    const barW = Math.min(28, (groupW - 12) / s.targets.length)
    s.groups.forEach((g, gi) => {
      const gx = x0 + gi * groupW + (groupW - barW * s.targets.length) / 2
      s.targets.forEach((t, ti) => {
        const v = s.values[op]![gi]![ti]!
        const bx = gx + ti * barW
        if (v === null) {
          out.push(
            `<text x="${bx + barW / 2}" y="${y(0) - 4}" text-anchor="middle" font-size="8" fill="#8c959f" transform="rotate(-90 ${bx + barW / 2} ${y(0) - 4})">n/a</text>`,
          )
          return
        }
        out.push(
          `<rect x="${bx + 1}" y="${y(v)}" width="${barW - 2}" height="${y(0) - y(v)}" fill="${COLORS[ti % COLORS.length]}"><title>${esc(`${t}: ${op} ${g} ${v.toFixed(0)} MB/s`)}</title></rect>`,
        )
        out.push(
          `<text x="${bx + barW / 2}" y="${y(v) - 3}" text-anchor="middle" font-size="8.5">${v >= 100 ? v.toFixed(0) : v.toFixed(1)}</text>`,
        )
      })
      out.push(`<text x="${x0 + gi * groupW + groupW / 2}" y="${y(0) + 16}" text-anchor="middle">${esc(g)}</text>`)
    })
  })
  out.push(
    `<text x="${W / 2}" y="${TOP + PANEL_H + 38}" text-anchor="middle" fill="#57606a">object size × concurrent requests; 127.0.0.1, client and server on the same machine</text>`,
  )
  out.push('</g>', '</svg>')
  return `${out.join('\n')}\n`
}
