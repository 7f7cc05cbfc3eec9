// Preloaded into a gateway by bench/soak-rss.ts (`node --expose-gc --require <this> …`): on
// SIGUSR2 it reads LEAK_PROBE_DIR/cmd.json ({ seq, gc, snapshot? }), optionally runs full GCs
// and writes a heap snapshot, then writes what the process holds to LEAK_PROBE_DIR/out-<seq>.json:
// process.memoryUsage(), V8's heap statistics and spaces, and the live libuv resources by type
// (sockets, timers, servers …), and how many GCs of each kind ran since the previous answer (a
// PerformanceObserver; forced ones left out). The bench reads /proc
// itself (RSS, smaps). Bench-only; never loaded by the server.
const { readFileSync, renameSync, writeFileSync } = require('node:fs')
const { join } = require('node:path')
const { constants, PerformanceObserver } = require('node:perf_hooks')
const v8 = require('node:v8')

const dir = process.env.LEAK_PROBE_DIR

/** When the probe's own GCs ran (performance.now()), so the count of the gateway's leaves them out. */
const forced = []

/** Two full GCs a turn apart, so objects freed by finalizers or weak callbacks of the first go too. */
async function fullGc() {
  if (typeof global.gc !== 'function') throw new Error('leak-probe: start the gateway with --expose-gc')
  const window = [performance.now(), Number.POSITIVE_INFINITY]
  forced.push(window)
  if (forced.length > 8) forced.shift()
  global.gc()
  await new Promise((r) => setImmediate(r))
  global.gc()
  window[1] = performance.now()
}

function countBy(list) {
  const out = {}
  for (const k of list) out[k] = (out[k] ?? 0) + 1
  return out
}

const GC_KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
}
let gcs = {}

async function answer() {
  const cmd = JSON.parse(readFileSync(join(dir, 'cmd.json'), 'utf8'))
  const gcCounts = gcs
  gcs = {}
  if (cmd.gc) await fullGc()
  if (cmd.snapshot) v8.writeHeapSnapshot(cmd.snapshot)
  const handles = typeof process._getActiveHandles === 'function' ? process._getActiveHandles() : []
  const out = {
    seq: cmd.seq,
    memory: process.memoryUsage(),
    heap: v8.getHeapStatistics(),
    spaces: Object.fromEntries(
      v8.getHeapSpaceStatistics().map((s) => [s.space_name, { used: s.space_used_size, size: s.space_size }]),
    ),
    resources: countBy(process.getActiveResourcesInfo()),
    // Handles by constructor: TLSSocket / Socket / Server … (a socket per open connection).
    handles: countBy(handles.map((h) => h?.constructor?.name ?? typeof h)),
    gcs: gcCounts,
  }
  const file = join(dir, `out-${cmd.seq}.json`)
  writeFileSync(`${file}.tmp`, JSON.stringify(out))
  renameSync(`${file}.tmp`, file)
}

if (dir) {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (forced.some(([from, to]) => e.startTime >= from && e.startTime <= to)) continue
      const kind = GC_KINDS[e.detail?.kind] ?? String(e.detail?.kind)
      gcs[kind] = (gcs[kind] ?? 0) + 1
    }
  }).observe({ entryTypes: ['gc'] })
  process.on('SIGUSR2', () => {
    answer().catch((e) => {
      try {
        writeFileSync(join(dir, 'error.txt'), String(e?.stack ?? e))
      } catch {}
    })
  })
}
