/** @jsxImportSource hono/jsx */
/**
 * The operator's charts of the last hour (request rate, throughput, latency p50/p99), drawn on
 * the server as SVG from the in-memory ring (src/util/request-metrics.ts): no chart library, no
 * script, no inline style (colours come from classes in console.css), so the CSP stays strict.
 * Each chart is an image with a title and a text summary for screen readers.
 */
import type { SeriesPoint } from '../util/request-metrics.ts'
import { formatBytes } from './layout.tsx'

/** The drawing area inside the SVG's viewBox; labels sit in the margins. */
const W = 600
const H = 150
const LEFT = 96
const TOP = 12
const BOTTOM = 30
const VIEW_W = LEFT + W + 8
const VIEW_H = TOP + H + BOTTOM

/** The smallest 1, 2 or 5 × 10^k at or above `n` (the top of a chart's axis); 1 for nothing. */
export function niceCeiling(n: number): number {
  if (!(n > 0) || !Number.isFinite(n)) return 1
  const power = 10 ** Math.floor(Math.log10(n))
  for (const step of [1, 2, 5, 10]) if (step * power >= n * (1 - 1e-12)) return step * power
  return 10 * power
}

/**
 * The `points` of each polyline for one series: x spread evenly over the width, y scaled to `max`
 * (0 at the bottom). A missing value (a latency in an idle bucket) breaks the line in two.
 */
export function polylines(values: readonly (number | undefined)[], max: number, w = W, h = H): string[] {
  const step = values.length > 1 ? w / (values.length - 1) : 0
  const runs: [number, number][][] = [[]]
  values.forEach((v, i) => {
    if (v === undefined || !Number.isFinite(v)) {
      if (runs[runs.length - 1]!.length) runs.push([])
      return
    }
    runs[runs.length - 1]!.push([LEFT + i * step, TOP + h - (Math.min(Math.max(v, 0), max) / max) * h])
  })
  return runs
    .filter((r) => r.length > 0)
    .map((r) => {
      // A lone point draws nothing as a polyline: a short flat stroke makes it show.
      if (r.length === 1) r.push([r[0]![0] + 2, r[0]![1]])
      // The middle of a flat run adds nothing to the picture (an idle hour is two points, not 360).
      const points = r.filter((p, i) => i === 0 || i === r.length - 1 || p[1] !== r[i - 1]![1] || p[1] !== r[i + 1]![1])
      return points.map(([x, y]) => `${round(x)},${round(y)}`).join(' ')
    })
}

const round = (n: number) => Math.round(n * 10) / 10

export interface ChartLine {
  label: string
  values: (number | undefined)[]
}

/** One line chart: 1 to 3 series sharing a y axis, the time axis the last hour. */
export function LineChart(props: { id: string; title: string; format: (n: number) => string; lines: ChartLine[] }) {
  const all = props.lines.flatMap((l) => l.values.filter((v): v is number => v !== undefined && Number.isFinite(v)))
  const max = niceCeiling(Math.max(0, ...all))
  const latest = props.lines.map((l) => {
    const last = [...l.values].reverse().find((v) => v !== undefined)
    const peak = Math.max(0, ...l.values.filter((v): v is number => v !== undefined))
    return `${l.label}: latest ${last === undefined ? 'none' : props.format(last)}, peak ${props.format(peak)}`
  })
  const minutes = Math.round((props.lines[0]?.values.length ?? 0) / 6)
  return (
    <figure class="chart" id={props.id}>
      <figcaption>
        {props.title}
        <span class="legend">
          {props.lines.map((l, i) => (
            <span class={`key s${i}`}>{l.label}</span>
          ))}
        </span>
      </figcaption>
      <svg
        viewBox={`0 0 ${VIEW_W} ${VIEW_H}`}
        role="img"
        aria-labelledby={`${props.id}-t ${props.id}-d`}
        xmlns="http://www.w3.org/2000/svg"
      >
        <title id={`${props.id}-t`}>{`${props.title}, last ${minutes} minutes`}</title>
        <desc id={`${props.id}-d`}>{latest.join('; ')}</desc>
        <g class="grid">
          {[0, 0.5, 1].map((f) => (
            <line x1={LEFT} x2={LEFT + W} y1={TOP + H - f * H} y2={TOP + H - f * H} />
          ))}
        </g>
        <g class="axis">
          {[0, 0.5, 1].map((f) => (
            <text x={LEFT - 8} y={TOP + H - f * H + 6} text-anchor="end">
              {props.format(max * f)}
            </text>
          ))}
          <text x={LEFT} y={VIEW_H - 6}>{`−${minutes} min`}</text>
          <text x={LEFT + W / 2} y={VIEW_H - 6} text-anchor="middle">{`−${Math.round(minutes / 2)} min`}</text>
          <text x={LEFT + W} y={VIEW_H - 6} text-anchor="end">
            now
          </text>
        </g>
        {props.lines.map((l, i) => (
          <g class={`line s${i}`} data-series={l.label}>
            {polylines(l.values, max).map((points) => (
              <polyline points={points} />
            ))}
          </g>
        ))}
      </svg>
    </figure>
  )
}

const perSecond = (n: number) => `${n < 10 ? round(n) : Math.round(n)}/s`
const bytesPerSecond = (n: number) => `${formatBytes(Math.round(n))}/s`
const millis = (n: number) => (n >= 1000 ? `${round(n / 1000)} s` : `${n < 10 ? round(n) : Math.round(n)} ms`)

/** The three charts of the health page, from the ring's series (one point per bucket). */
export function RequestCharts(props: { series: SeriesPoint[]; bucketMs: number }) {
  const s = props.series
  const seconds = props.bucketMs / 1000
  const total = s.reduce((n, p) => n + p.requests, 0)
  return (
    <section aria-labelledby="charts-title" id="charts" data-refresh="10">
      <h2 id="charts-title">S3 requests, last hour</h2>
      <p class="hint">
        <span id="requests-last-hour">{total}</span> requests through this gateway in the last hour; points every{' '}
        {seconds} s, latency to the response headers.{' '}
        <a href="?#charts" class="refresh">
          Refresh
        </a>
      </p>
      <div class="charts">
        <LineChart
          id="chart-rate"
          title="Request rate"
          format={perSecond}
          lines={[
            { label: 'requests', values: s.map((p) => p.requests / seconds) },
            { label: 'errors (5xx)', values: s.map((p) => p.errors / seconds) },
          ]}
        />
        <LineChart
          id="chart-throughput"
          title="Throughput"
          format={bytesPerSecond}
          lines={[
            { label: 'in', values: s.map((p) => p.bytesIn / seconds) },
            { label: 'out', values: s.map((p) => p.bytesOut / seconds) },
          ]}
        />
        <LineChart
          id="chart-latency"
          title="Latency"
          format={millis}
          lines={[
            { label: 'p50', values: s.map((p) => p.p50) },
            { label: 'p99', values: s.map((p) => p.p99) },
          ]}
        />
      </div>
    </section>
  )
}
