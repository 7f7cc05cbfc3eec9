/**
 * Entry of `npm run bench`: runs the selected suites (codec, crypto, storage, s3), prints their tables and
 * writes JSON + Markdown (+ SVG chart) reports under bench/results/. See bench/README.md.
 */
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs, SUITES, USAGE, type SuiteName } from './lib/args.ts'
import { cleanupAll } from './lib/cleanup.ts'
import { createProgress } from './lib/progress.ts'
import { machineInfo, writeReport, type Report, type SuiteResult } from './lib/report.ts'
import type { Suite } from './lib/suite.ts'
import { throughputChart } from './lib/svg.ts'
import { textTable } from './lib/table.ts'

const REPO_ROOT = resolve(import.meta.dirname, '..')

// The AWS SDK warns once per process that future releases need Node 22; that is not a benchmark
// result, and it would tear the progress bar. Every other warning still prints.
process.removeAllListeners('warning')
process.on('warning', (w) => {
  if (w.name !== 'NodeVersionSupportWarning') console.error(`${w.name}: ${w.message}`)
})

const suites: Record<SuiteName, () => Promise<Suite>> = {
  codec: async () => (await import('./codec.ts')).runCodec,
  crypto: async () => (await import('./crypto.ts')).runCrypto,
  storage: async () => (await import('./storage.ts')).runStorage,
  s3: async () => (await import('./s3.ts')).runS3,
  gc: async () => (await import('./gc.ts')).runGc,
  gateways: async () => (await import('./gateways.ts')).runGateways,
  versions: async () => (await import('./versions.ts')).runVersions,
  access: async () => (await import('./access.ts')).runAccess,
  lifecycle: async () => (await import('./lifecycle.ts')).runLifecycle,
  placement: async () => (await import('./placement.ts')).runPlacement,
}

function print(result: SuiteResult): void {
  console.log(`\n== ${result.name} (${(result.ms / 1000).toFixed(0)} s)`)
  for (const t of result.tables) {
    console.log(`\n${t.title}\n${textTable(t.columns, t.rows)}`)
    for (const n of t.notes ?? []) console.log(`  · ${n}`)
  }
  for (const n of result.notes) console.log(`  ! ${n}`)
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  if (args.help) {
    console.log(USAGE)
    return 0
  }
  if (args.problems.length) {
    for (const p of args.problems) console.error(`bench: ${p}`)
    console.error(USAGE)
    return 2
  }
  const selected = args.only.length ? SUITES.filter((s) => args.only.includes(s)) : [...SUITES]
  const progress = createProgress(args.progress && process.stderr.isTTY === true)
  const startedAt = new Date().toISOString()
  const machine = machineInfo(REPO_ROOT)
  if (machine.load.start > 0.5)
    console.error(
      `bench: load average is ${machine.load.start.toFixed(2)} before the run: other work on this machine will skew the figures`,
    )
  const t0 = performance.now()
  const results: SuiteResult[] = []
  let failed = false
  try {
    for (const name of selected) {
      try {
        const result = await (await suites[name]())({
          quick: args.quick,
          minutes: args.minutes,
          progress,
          repoRoot: REPO_ROOT,
          peers: args.peers,
          cephScript: resolve(args.cephScript ?? join(REPO_ROOT, '../shared/peers/ceph/ceph-peer.sh')),
        })
        results.push(result)
      } catch (e) {
        // One broken suite must not lose the others' figures: report it and go on.
        failed = true
        const message = e instanceof Error ? (e.stack ?? e.message) : String(e)
        results.push({
          name,
          ms: 0,
          tables: [],
          metrics: [],
          notes: [`suite failed: ${message.split('\n').slice(0, 4).join(' / ')}`],
        })
      } finally {
        await cleanupAll()
      }
    }
  } finally {
    progress.stop()
  }
  for (const r of results) print(r)
  machine.load.end = loadavg()[0]
  const report: Report = {
    startedAt,
    mode: args.quick ? 'quick' : 'full',
    only: args.only,
    ms: performance.now() - t0,
    machine,
    suites: results,
  }
  const svg = throughputChart(results.flatMap((r) => r.metrics))
  const files = writeReport(resolve(args.out ?? join(REPO_ROOT, 'bench/results')), report, svg)
  console.log(
    `\nTotal ${(report.ms / 1000).toFixed(0)} s. Reports: ${files.filter((f) => /latest\./.test(f)).join(', ')}`,
  )
  return failed ? 1 : 0
}

process.exitCode = await main().catch(async (e: unknown) => {
  console.error(e)
  await cleanupAll()
  return 1
})
