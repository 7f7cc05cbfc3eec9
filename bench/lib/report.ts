/**
 * The result model every suite fills (tables for people, metrics for machines) and the writer of
 * bench/results/<timestamp>.{json,md,svg} plus latest.*. Uses node:fs/os only.
 */
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { markdownTable } from './table.ts'

/** One row of a table is already formatted text; `notes` explain caveats under the table. */
export interface Table {
  title: string
  columns: string[]
  rows: string[][]
  notes?: string[]
}

/** A raw figure for the JSON report (and the chart); value null means "not available". */
export interface Metric {
  suite: string
  /** What was measured, e.g. "encode 4+2 256KiB" or "PUT 1MiB c8". */
  case: string
  /** Who was measured, e.g. "baseline", "simd", "coffer", "s3rver". */
  target: string
  value: number | null
  unit: string
  extra?: Record<string, number | string | null>
}

export interface SuiteResult {
  name: string
  ms: number
  tables: Table[]
  metrics: Metric[]
  notes: string[]
}

export interface MachineInfo {
  cpu: string
  cores: number
  memoryGiB: number
  node: string
  kernel: string
  commit: string
  /** 1-minute load average when the run started and ended: other work on the machine skews figures. */
  load: { start: number; end?: number }
}

export interface Report {
  startedAt: string
  mode: 'quick' | 'full'
  only: string[]
  ms: number
  machine: MachineInfo
  suites: SuiteResult[]
}

export function machineInfo(repoRoot: string): MachineInfo {
  let commit = 'unknown'
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: repoRoot,
      encoding: 'utf8',
    }).trim()
    if (dirty) commit += ' (with uncommitted changes)'
  } catch {
    /* not a git checkout: keep "unknown" */
  }
  const c = cpus()
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
    commit,
    load: { start: loadavg()[0]! },
  }
}

export function renderMarkdown(report: Report, svgName: string | undefined): string {
  const m = report.machine
  const out: string[] = [
    `# Coffer benchmark (${report.mode}${report.only.length ? `, only ${report.only.join(',')}` : ''})`,
    '',
    `Run ${report.startedAt}, took ${(report.ms / 1000).toFixed(0)} s. Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB RAM, ` +
      `Linux ${m.kernel}, Node ${m.node}; commit ${m.commit}. Load average (1 min) ${m.load.start.toFixed(2)} at start, ${m.load.end?.toFixed(2) ?? '?'} at end.`,
    '',
    `Reproduce: \`npm run bench${report.mode === 'quick' ? ' -- --quick' : ''}${report.only.length ? ` ${report.mode === 'quick' ? '' : '-- '}--only ${report.only.join(',')}` : ''}\`. ` +
      'MB/s = 10^6 bytes per second; every figure sits beside a baseline measured in the same run.',
    '',
  ]
  for (const s of report.suites) {
    out.push(`## ${s.name} (${(s.ms / 1000).toFixed(0)} s)`, '')
    for (const t of s.tables) {
      out.push(`### ${t.title}`, '', markdownTable(t.columns, t.rows), '')
      for (const n of t.notes ?? []) out.push(`- ${n}`)
      if (t.notes?.length) out.push('')
    }
    if (s.name === 's3' && svgName) out.push(`![PUT/GET throughput by object size](${svgName})`, '')
    for (const n of s.notes) out.push(`- ${n}`)
    if (s.notes.length) out.push('')
  }
  return out.join('\n')
}

/** Writes <stamp>.{json,md[,svg]} and copies them to latest.*; returns the paths written. */
export function writeReport(dir: string, report: Report, svg: string | undefined): string[] {
  mkdirSync(dir, { recursive: true })
  const stamp = report.startedAt.replace(/[:.]/g, '-')
  const files: string[] = []
  const put = (name: string, text: string) => {
    writeFileSync(join(dir, name), text)
    files.push(join(dir, name))
  }
  put(`${stamp}.json`, `${JSON.stringify(report, null, 2)}\n`)
  if (svg) put(`${stamp}.svg`, svg)
  put(`${stamp}.md`, renderMarkdown(report, svg ? `${stamp}.svg` : undefined))
  put('latest.json', `${JSON.stringify(report, null, 2)}\n`)
  if (svg) copyFileSync(join(dir, `${stamp}.svg`), join(dir, 'latest.svg'))
  put('latest.md', renderMarkdown(report, svg ? 'latest.svg' : undefined))
  return files
}
