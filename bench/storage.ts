/**
 * Storage suite: shard and object throughput below the S3 layer — a local drive (DiskStore), 4+2
 * erasure coding over six drives, a `coffer node` over loopback TLS — and the latency of one
 * metadata commit (synchronous=FULL as shipped, beside NORMAL), each beside a baseline.
 */
import { execFileSync } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initCluster } from '../src/runtime/cluster.ts'
import { createGatewayFetch } from '../src/runtime/cluster-fetch.ts'
import { loadSimdCodec } from '../src/runtime/codecs.ts'
import { createFsDisk } from '../src/runtime/fs-disk.ts'
import { nodeAdapter } from '../src/runtime/node.ts'
import { createPlatform } from '../src/runtime/platform.ts'
import { startStorageNode } from '../src/runtime/storage-node.ts'
import { createDiskStore, type DiskStore } from '../src/storage/disk-store.ts'
import { createErasureStorage } from '../src/storage/erasure-storage.ts'
import type { DataLayout } from '../src/storage/index.ts'
import { createRemoteStore } from '../src/storage/remote/client.ts'
import type { ShardStore } from '../src/storage/shard-store.ts'
import { silentLogger } from '../src/util/log.ts'
import { onCleanup } from './lib/cleanup.ts'
import { commitLatencies } from './lib/meta-commit.ts'
import type { Metric, SuiteResult } from './lib/report.ts'
import { percentile, summarize } from './lib/stats.ts'
import type { SuiteContext } from './lib/suite.ts'
import { fmtMbps, fmtMs, fmtOps, fmtRatio } from './lib/table.ts'

const MiB = 1024 * 1024
/** What a stripe writer hands a shard sink, and what the baselines write per call. */
const CHUNK = 256 * 1024

/** `total` bytes in CHUNK pieces, copies of one random buffer (generation costs nothing measurable). */
function source(total: number, pattern: Uint8Array): ReadableStream<Uint8Array> {
  let sent = 0
  return new ReadableStream<Uint8Array>(
    {
      pull(c) {
        if (sent >= total) return c.close()
        const n = Math.min(CHUNK, total - sent)
        c.enqueue(pattern.slice(0, n))
        sent += n
      },
    },
    { highWaterMark: 0 },
  )
}

async function drain(s: ReadableStream<Uint8Array>): Promise<number> {
  let n = 0
  const r = s.getReader()
  for (let x = await r.read(); !x.done; x = await r.read()) n += x.value.length
  return n
}

/** Baseline write: one file, CHUNK writes, fdatasync, close — what any durable writer must do. */
async function fsWrite(path: string, total: number, pattern: Uint8Array): Promise<void> {
  const f = await open(path, 'w')
  try {
    for (let at = 0; at < total; at += CHUNK) await f.write(pattern, 0, Math.min(CHUNK, total - at))
    await f.datasync()
  } finally {
    await f.close()
  }
}

/** Baseline read: CHUNK reads of one file into one buffer. */
async function fsRead(path: string, total: number): Promise<number> {
  const f = await open(path, 'r')
  const buf = new Uint8Array(CHUNK)
  let got = 0
  try {
    for (;;) {
      const { bytesRead } = await f.read(buf, 0, CHUNK, got)
      if (bytesRead === 0) break
      got += bytesRead
    }
  } finally {
    await f.close()
  }
  if (got !== total) throw new Error(`baseline read ${got} of ${total} bytes`)
  return got
}

interface Pair {
  what: string
  ours: string
  oursFn: (run: number) => Promise<unknown>
  base: string
  baseFn: (run: number) => Promise<unknown>
}

export async function runStorage(ctx: SuiteContext): Promise<SuiteResult> {
  const started = performance.now()
  const total = (ctx.quick ? 64 : 256) * MiB
  const runs = ctx.quick ? 3 : 5
  const pattern = randomFillSync(new Uint8Array(CHUNK))
  const root = await mkdtemp(join(tmpdir(), 'coffer-bench-storage-'))
  const removeRoot = onCleanup('storage bench dir', () => rm(root, { recursive: true, force: true }), { dir: root })
  const platform = createPlatform()
  const drives: DiskStore[] = []
  for (let i = 0; i < 6; i++) {
    const disk = createFsDisk(join(root, `drive-${i}`))
    await disk.check()
    drives.push(createDiskStore(`d${i}`, disk))
  }
  const one = drives[0] as DiskStore
  const erasure = createErasureStorage({ stores: drives, k: 4, m: 2, codec: await loadSimdCodec(), platform })
  const cluster = await initCluster(join(root, 'cluster.json'))
  const quiet = { out: () => {}, err: () => {} }
  const node = await startStorageNode(
    { clusterFile: join(root, 'cluster.json'), dataDir: join(root, 'node'), port: 0, host: '127.0.0.1' },
    nodeAdapter(),
    quiet,
    { cluster, logger: silentLogger },
  )
  const fetch = await createGatewayFetch(cluster)
  const stopNode = onCleanup('storage bench node', async () => {
    fetch.close()
    await node.stop()
  })
  const remote: ShardStore = createRemoteStore({
    url: node.endpoint,
    fetch,
    timeoutMs: 60_000,
  })
  const layouts = new Map<number, DataLayout>()
  const layoutOf = (r: number): DataLayout => {
    const l = layouts.get(r)
    if (!l) throw new Error(`no object written in run ${r}`)
    return l
  }
  const check = (what: string, n: number) => {
    if (n !== total) throw new Error(`${what}: ${n} of ${total} bytes`)
  }
  const pairs: Pair[] = [
    {
      what: 'shard PUT, local drive (fsync)',
      ours: 'DiskStore.put',
      oursFn: (r) => one.put(`bench.${r}`, source(total, pattern)),
      base: 'node:fs write + fdatasync',
      baseFn: (r) => fsWrite(join(root, `plain-${r}`), total, pattern),
    },
    {
      what: 'shard GET, local drive',
      ours: 'DiskStore.get',
      oursFn: async (r) => check('DiskStore.get', await drain(one.get(`bench.${r}`, 0, total))),
      base: 'node:fs read',
      baseFn: (r) => fsRead(join(root, `plain-${r}`), total),
    },
    {
      what: 'object write, 4+2 over 6 local drives',
      ours: 'ErasureStorage.write (SIMD codec)',
      oursFn: async (r) => layouts.set(r, (await erasure.write(`bench-object-${r}`, source(total, pattern))).layout),
      base: 'DiskStore.put, one copy',
      baseFn: (r) => one.put(`bench.${r}`, source(total, pattern)),
    },
    {
      what: 'object read, 4+2, all drives up',
      ours: 'ErasureStorage.read',
      oursFn: async (r) => check('ErasureStorage.read', await drain(erasure.read(layoutOf(r), 0, total))),
      base: 'DiskStore.get, one copy',
      baseFn: async (r) => check('DiskStore.get', await drain(one.get(`bench.${r}`, 0, total))),
    },
    {
      what: 'shard PUT, coffer node over loopback TLS',
      ours: 'RemoteStore.put',
      oursFn: (r) => remote.put(`bench.${r}`, source(total, pattern)),
      base: 'DiskStore.put, same process',
      baseFn: (r) => one.put(`bench.${r}`, source(total, pattern)),
    },
    {
      what: 'shard GET, coffer node over loopback TLS',
      ours: 'RemoteStore.get',
      oursFn: async (r) => check('RemoteStore.get', await drain(remote.get(`bench.${r}`, 0, total))),
      base: 'DiskStore.get, same process',
      baseFn: async (r) => check('DiskStore.get', await drain(one.get(`bench.${r}`, 0, total))),
    },
  ]
  ctx.progress.plan(pairs.length + 1)
  const rows: string[][] = []
  const metrics: Metric[] = []
  try {
    for (const p of pairs) {
      ctx.progress.status(`storage ${p.what}`)
      // No GET pays for earlier writes' writeback (as in the s3 suite).
      if (p.what.includes('GET') || p.what.includes('read')) execFileSync('sync')
      const ours: number[] = []
      const base: number[] = []
      // Interleaved, so drift (other load, writeback) hits both sides alike.
      for (let r = 0; r < runs; r++) {
        for (const [fn, out] of [
          [p.oursFn, ours],
          [p.baseFn, base],
        ] as const) {
          const t = performance.now()
          await fn(r)
          out.push(total / 1e6 / ((performance.now() - t) / 1000))
        }
      }
      const o = percentile(ours, 50)
      const b = percentile(base, 50)
      rows.push([p.what, p.ours, fmtMbps(o), p.base, fmtMbps(b), fmtRatio(o / b)])
      metrics.push(
        { suite: 'storage', case: p.what, target: p.ours, value: o, unit: 'MB/s' },
        { suite: 'storage', case: p.what, target: p.base, value: b, unit: 'MB/s' },
      )
      ctx.progress.step(`storage ${p.what}`)
    }
  } catch (e) {
    await removeRoot()
    throw e
  } finally {
    await stopNode()
  }
  ctx.progress.status('storage metadata commits')
  const commits = await commitLatencies(root, 3, ctx.quick ? 1000 : 3000)
  const full = summarize(commits.full)
  const normal = summarize(commits.normal)
  const commitRows = [
    [
      'commits/s, one at a time',
      fmtOps(1000 / full.mean),
      fmtOps(1000 / normal.mean),
      fmtRatio(normal.mean / full.mean),
    ],
    ['latency p50 (ms)', fmtMs(full.p50), fmtMs(normal.p50), fmtRatio(full.p50 / normal.p50)],
    ['latency p99 (ms)', fmtMs(full.p99), fmtMs(normal.p99), fmtRatio(full.p99 / normal.p99)],
  ]
  metrics.push(
    { suite: 'storage', case: 'metadata commit', target: 'synchronous=FULL', value: full.p50, unit: 'ms p50' },
    { suite: 'storage', case: 'metadata commit', target: 'synchronous=NORMAL', value: normal.p50, unit: 'ms p50' },
  )
  ctx.progress.step('storage metadata commits')
  await removeRoot()
  return {
    name: 'storage',
    ms: performance.now() - started,
    tables: [
      {
        title: `Shards and objects below S3 (${total / MiB} MiB per run, median of ${runs}, MB/s of payload)`,
        columns: ['what', 'ours', 'MB/s', 'baseline', 'baseline MB/s', 'ours/baseline'],
        rows,
        notes: [
          'Writes are durable on both sides (fdatasync; DiskStore also renames and syncs the directory).',
          'Reads come from the page cache after an untimed `sync`: they show CPU and copying, not the disk.',
          'The erasure rows write 1.5× the payload (4 data + 2 parity shards) over six directories of one disk.',
        ],
      },
      {
        title: `Metadata commit of one object row, embedded libSQL (${commits.full.length} + ${commits.normal.length} commits)`,
        columns: ['what', 'synchronous=FULL (shipped)', 'synchronous=NORMAL', 'FULL/NORMAL'],
        rows: commitRows,
        notes: [
          'FULL fsyncs the WAL before each commit returns, so an answered PUT survives a power loss; NORMAL syncs only at checkpoints.',
          'Interleaved rounds on two database files in the same directory; the service commits one row per PUT this way.',
        ],
      },
    ],
    metrics,
    notes: [],
  }
}
