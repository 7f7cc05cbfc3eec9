/**
 * Does an embedded gateway's memory grow without bound under small requests? One gateway (4+2,
 * D@RE on, background work quiet, started as the benches start it, plus `--expose-gc` and the
 * probe bench/lib/leak-probe.cjs), then ROUNDS rounds, each on new keys and a new SDK client:
 * OPS 4 KiB PUTs ×16, OPS GETs ×32 (kept-alive connections), FRESH presigned GETs ×16 over bare
 * node:https, each on a connection of its own (one in ten for a missing key, one in ten with a
 * bad signature: the 404 and 403 paths), OPS DELETEs ×16; then the client is destroyed.
 * After each round (round 0: idle, after start-up and one bucket), two lines. "as is": the round's
 * RSS peak (VmHWM, reset after every sample), the RSS now, V8's heap, ArrayBuffers, glibc's main
 * arena, and the GCs
 * the gateway ran during the round. "gc'd", after two forced full GCs: RSS, heap used, old space,
 * ArrayBuffers, the RSS split by /proc/<pid>/smaps into glibc's main arena ([heap]), other
 * threads' arenas (64 MiB-aligned anonymous mappings: a heuristic), other anonymous memory (V8's
 * pages, big malloc'd buffers, stacks) and file pages; open sockets, descriptors, threads, libuv
 * resources. A leak shows as heap used (after the GC), sockets or descriptors rising round after
 * round; memory the allocator keeps, or garbage waiting for a GC, as a flat gc'd line under an
 * "as is" RSS that swings.
 * Usage: node --import tsx bench/soak-rss.ts [CHECKOUT[+env:K=V…]] (default: this checkout).
 * Env: ROUNDS (default 12), OPS (default 4000: about one 4 KiB GET cell of the full bench), FRESH (default OPS/10), SNAP=2,9 (heap snapshots
 * after those rounds, into SNAP_DIR, default a temp dir that is kept and printed).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { DeleteObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import type { TestServer } from '../test/helpers/server.ts'
import { loadavg, specEnv } from './lib/ab.ts'
import { onCleanup } from './lib/cleanup.ts'
import { createBucket, getCell, keyFor, putCell } from './lib/s3-load.ts'
import { clientForServer } from './lib/targets.ts'
import { load, type LoadResult } from './lib/timing.ts'

const ROUNDS = Number(process.env.ROUNDS ?? 12)
const OPS = Number(process.env.OPS ?? 4000)
const FRESH = Number(process.env.FRESH ?? Math.round(OPS / 10))
const SNAP = new Set((process.env.SNAP ?? '').split(',').filter(Boolean).map(Number))
const SIZE = 4096
const BUCKET = 'soak'
/** Every cell is bounded in time as well as in operations. */
const CELL_MAX_MS = 15 * 60_000
const MiB = 1 << 20

const [spec = resolve(import.meta.dirname, '..')] = process.argv.slice(2)
const [root, ...parts] = spec.split('+') as [string, ...string[]]
const probeDir = mkdtempSync(join(tmpdir(), 'coffer-soak-probe-'))
const snapDir = process.env.SNAP_DIR ?? (SNAP.size ? mkdtempSync(join(tmpdir(), 'coffer-soak-snap-')) : '')
const { startServer } = (await import(
  `${resolve(root)}/test/helpers/server.ts`
)) as typeof import('../test/helpers/server.ts')
const server: TestServer = await startServer({
  env: {
    COFFER_HEAL_INTERVAL_MS: '3600000',
    COFFER_SCRUB_INTERVAL_MS: '3600000',
    LEAK_PROBE_DIR: probeDir,
    ...specEnv(parts),
  },
  wrap: (cmd, argv) => ({
    cmd,
    argv: ['--expose-gc', '--require', join(import.meta.dirname, 'lib/leak-probe.cjs'), ...argv],
  }),
})
const stop = onCleanup('soak gateway', () => server.stop(), { pid: server.pid, dir: server.dataDir })
const removeProbeDir = onCleanup('probe dir', () => rmSync(probeDir, { recursive: true, force: true }), {
  dir: probeDir,
})

// ---- what the gateway holds ----------------------------------------------------------------

interface ProbeOut {
  memory: NodeJS.MemoryUsage
  heap: { used_heap_size: number; total_heap_size: number }
  spaces: Record<string, { used: number; size: number }>
  resources: Record<string, number>
  handles: Record<string, number>
  gcs: Record<string, number>
}

let seq = 0
/** Asks the probe in the gateway (SIGUSR2) and waits for its answer (bounded). */
async function probe(gc: boolean, snapshot?: string): Promise<ProbeOut> {
  const n = ++seq
  writeFileSync(join(probeDir, 'cmd.json'), JSON.stringify({ seq: n, gc, snapshot }))
  process.kill(server.pid, 'SIGUSR2')
  const file = join(probeDir, `out-${n}.json`)
  for (let waited = 0; waited < 120_000; waited += 50) {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as ProbeOut
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  let why = ''
  try {
    why = readFileSync(join(probeDir, 'error.txt'), 'utf8')
  } catch {}
  throw new Error(`leak probe: no answer within 120 s ${why}`)
}

/** RSS by kind from /proc/<pid>/smaps, MiB. Thread arenas: anonymous rw mappings starting on a
 * 64 MiB boundary (glibc aligns each non-main arena's heap to HEAP_MAX_SIZE) — a heuristic. */
function smapsSplit(pid: number): { mainArena: number; threadArenas: number; otherAnon: number; file: number } {
  const out = { mainArena: 0, threadArenas: 0, otherAnon: 0, file: 0 }
  let kind: keyof typeof out = 'otherAnon'
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (head) {
      const start = BigInt(`0x${head[1]}`)
      const path = head[4]!
      if (path === '[heap]') kind = 'mainArena'
      else if (path.startsWith('/')) kind = 'file'
      else if (path === '' && head[3]!.startsWith('rw') && start % BigInt(64 * MiB) === 0n) kind = 'threadArenas'
      else kind = 'otherAnon'
      continue
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line)
    if (rss) out[kind] += Number(rss[1]) / 1024
  }
  return out
}

/** RSS now and its high-water mark since the last reset (MiB), threads, open file descriptors. */
function procStatus(pid: number): { rss: number; hwm: number; threads: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN)
  return {
    rss: field('VmRSS') / 1024,
    hwm: field('VmHWM') / 1024,
    threads: field('Threads'),
    fds: readdirSync(`/proc/${pid}/fd`).length,
  }
}

/** Resets VmHWM to the RSS of this moment (the kernel's clear_refs, as bench/lib/rss-watch.ts). */
const resetHwm = (pid: number) => writeFileSync(`/proc/${pid}/clear_refs`, '5')

const mib = (b: number) => (b / MiB).toFixed(1)

/**
 * Two lines per round: "as is" (the round's RSS peak, RSS now, heap and buffers before any forced
 * GC, the GCs the gateway ran during the round), then "gc'd" (after two forced full GCs: RSS,
 * heap, buffers, the smaps split, sockets, descriptors, threads, libuv resources).
 */
async function sample(round: number): Promise<void> {
  const before = procStatus(server.pid)
  const split = smapsSplit(server.pid)
  const pre = await probe(false)
  const snapshot = SNAP.has(round) ? join(snapDir, `round-${round}.heapsnapshot`) : undefined
  const p = await probe(true, snapshot)
  // V8 unmaps the pages a GC freed on a background thread: read the RSS once that is done.
  await new Promise((r) => setTimeout(r, 500))
  const after = procStatus(server.pid)
  const s = smapsSplit(server.pid)
  const sockets = (p.handles.TLSSocket ?? 0) + (p.handles.Socket ?? 0)
  const list = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')
  const r = `round ${String(round).padStart(2)}`
  console.log(
    [
      `${r} as is:`,
      `peak ${before.hwm.toFixed(1)}`,
      `rss ${before.rss.toFixed(1)}`,
      `heapUsed ${mib(pre.memory.heapUsed)}`,
      `heapTotal ${mib(pre.memory.heapTotal)}`,
      `arrayBuffers ${mib(pre.memory.arrayBuffers)}`,
      `external ${mib(pre.memory.external)}`,
      `main-arena ${split.mainArena.toFixed(1)}`,
      `gcs [${list(pre.gcs)}]`,
    ].join('  '),
  )
  console.log(
    [
      `${r} gc'd:`,
      `rss ${after.rss.toFixed(1)}`,
      `heapUsed ${mib(p.memory.heapUsed)}`,
      `old ${mib(p.spaces.old_space?.used ?? 0)}`,
      `heapTotal ${mib(p.memory.heapTotal)}`,
      `arrayBuffers ${mib(p.memory.arrayBuffers)}`,
      `external ${mib(p.memory.external)}`,
      `| main-arena ${s.mainArena.toFixed(1)} thread-arenas ${s.threadArenas.toFixed(1)}`,
      `other-anon ${s.otherAnon.toFixed(1)} file ${s.file.toFixed(1)}`,
      `| sockets ${sockets} fds ${after.fds} threads ${after.threads} [${list(p.resources)}]`,
      snapshot ? `| snapshot ${snapshot}` : '',
      `| load ${loadavg()}`,
    ].join('  '),
  )
  resetHwm(server.pid)
}

// ---- the workload --------------------------------------------------------------------------

function check(what: string, c: LoadResult): string {
  if (c.errors > 0) throw new Error(`${what}: ${c.errors} errors, first: ${c.firstError}`)
  return `${what} ${c.opsPerSec.toFixed(0)}/s`
}

/** One GET over a new TLS connection (no agent), answered with `status`; the body is drained. */
function bareGet(url: string, status: number): Promise<number> {
  return new Promise((resolveGet, reject) => {
    const req = request(url, { ca: server.caPem, agent: false, timeout: 30_000 }, (res) => {
      let n = 0
      res.on('data', (c: Buffer) => (n += c.length))
      res.on('end', () =>
        res.statusCode === status ? resolveGet(n) : reject(new Error(`GET ${url}: ${res.statusCode}, want ${status}`)),
      )
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('bare GET: no answer within 30 s')))
    req.on('error', reject)
    req.end()
  })
}

async function freshGets(client: S3Client, prefix: string): Promise<LoadResult> {
  return load(
    async (i) => {
      const missing = i % 10 === 1
      const Key = missing ? `${prefix}/missing/${i}` : keyFor(prefix, SIZE, i % OPS)
      const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key }), { expiresIn: 600 })
      // A changed last signature digit: the 403 path (a signature that does not match).
      if (i % 10 === 2)
        return bareGet(
          url.replace(/.$/, (d) => (d === '0' ? '1' : '0')),
          403,
        )
      return bareGet(url, missing ? 404 : 200)
    },
    { concurrency: 16, maxOps: FRESH, maxMs: CELL_MAX_MS },
  )
}

/** The SDK's default client (CRC32 trailers) with an agent of its own: new connections. */
const newClient = (): S3Client => clientForServer('soak', server, 'default')

async function round(r: number): Promise<string> {
  const client = newClient()
  const prefix = `r${r}`
  try {
    const opts = (concurrency: number) => ({ concurrency, maxOps: OPS, maxMs: CELL_MAX_MS })
    const put = check('put×16', await putCell(client, BUCKET, prefix, SIZE, opts(16)))
    const get = check('get×32', await getCell(client, BUCKET, prefix, SIZE, OPS, opts(32)))
    const fresh = check('fresh-conn get×16', await freshGets(client, prefix))
    const del = check(
      'delete×16',
      await load(async (i) => {
        await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: keyFor(prefix, SIZE, i) }))
        return 0
      }, opts(16)),
    )
    return [put, get, fresh, del].join(', ')
  } finally {
    client.destroy()
    // Let the gateway see the connections close before it is sampled.
    await new Promise((r) => setTimeout(r, 1000))
  }
}

try {
  console.log(
    `soak-rss: ${spec}, ${ROUNDS} rounds of ${OPS} PUT / GET / DELETE of ${SIZE} B and ${FRESH} fresh-connection GETs; ` +
      `MiB; gateway pid ${server.pid}${snapDir ? `; snapshots in ${snapDir}` : ''}`,
  )
  {
    const c = newClient()
    await createBucket(c, BUCKET)
    c.destroy()
  }
  await sample(0)
  for (let r = 1; r <= ROUNDS; r++) {
    const t0 = performance.now()
    const rates = await round(r)
    console.log(`round ${String(r).padStart(2)} ${((performance.now() - t0) / 1000).toFixed(0)} s: ${rates}`)
    await sample(r)
  }
} finally {
  await stop()
  await removeProbeDir()
}
