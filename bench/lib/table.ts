/**
 * Formatting of figures and tables: aligned text for the terminal, GitHub Markdown for the report.
 * Pure functions.
 */

/** What a cell shows when the thing measured does not exist (yet) in this checkout or runtime. */
export const NA = 'not available'

const fixed = (x: number): string => {
  if (!Number.isFinite(x)) return '–'
  const a = Math.abs(x)
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : 2
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** Throughput in MB/s (10^6 bytes). */
export const fmtMbps = (x: number | null | undefined): string => (x == null ? NA : fixed(x))
export const fmtOps = (x: number | null | undefined): string => (x == null ? NA : fixed(x))
/** Milliseconds, with two decimals below 10 ms. */
export const fmtMs = (x: number | null | undefined): string => (x == null ? NA : fixed(x))
export const fmtRatio = (x: number | null | undefined): string =>
  x == null || !Number.isFinite(x) ? '–' : `${x.toFixed(x >= 10 ? 1 : 2)}×`
export const fmtMiB = (bytes: number | null | undefined): string =>
  bytes == null ? NA : `${(bytes / 2 ** 20).toFixed(0)} MiB`

/** Human size of a power-of-two byte count: 4KiB, 1MiB, 256MiB. */
export function sizeName(bytes: number): string {
  if (bytes >= 2 ** 30 && bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30}GiB`
  if (bytes >= 2 ** 20 && bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20}MiB`
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024}KiB`
  return `${bytes}B`
}

const isNumeric = (s: string) => /^[-+]?[\d,.]+(×|%)?$/.test(s)

/** A plain-text table with numeric columns right-aligned. */
export function textTable(columns: string[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (isNumeric(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

export function markdownTable(columns: string[], rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|')
  const numericCol = columns.map(
    (_, i) => rows.length > 0 && rows.every((r) => isNumeric(r[i] ?? '') || r[i] === NA || r[i] === '–'),
  )
  return [
    `| ${columns.map(esc).join(' | ')} |`,
    `|${columns.map((_, i) => (numericCol[i] ? ' ---: ' : ' --- ')).join('|')}|`,
    ...rows.map((r) => `| ${columns.map((_, i) => esc(r[i] ?? '')).join(' | ')} |`),
  ].join('\n')
}
