/**
 * S3 end-to-end suite through TLS with the AWS SDK v3: Coffer embedded (4+2 over 6 drives) and
 * over 6 `coffer node` processes, beside s3rver and a bare HTTPS ceiling measured in the same run,
 * and with `--peer ceph` beside Ceph RGW (bench/lib/ceph-peer.ts).
 */
import { execFileSync } from 'node:child_process'
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { OFFLOAD_MIN_BYTES } from '../src/s3/auth/checksums.ts'
import { patternStream, peakRss } from '../test/helpers/big-object.ts'
import { httpsGet } from '../test/helpers/server.ts'
import { startCeiling } from './https-ceiling.ts'
import { startCephPeer } from './lib/ceph-peer.ts'
import type { SuiteResult, Table } from './lib/report.ts'
import {
  createBucket,
  fillCofferMeta,
  fillS3rverFiles,
  getCell,
  listCell,
  listKey,
  cellCpu,
  putCell,
  roundTripOk,
  threadCpu,
} from './lib/s3-load.ts'
import { RssWatch } from './lib/rss-watch.ts'
import { S3Record } from './lib/s3-record.ts'
import { summarize } from './lib/stats.ts'
import type { SuiteContext } from './lib/suite.ts'
import { sizeName } from './lib/table.ts'
import {
  clientFor,
  nodeCommandAvailable,
  startCofferEmbedded,
  startCofferNodes,
  startS3rver,
  type S3Target,
} from './lib/targets.ts'
import { load, type LoadOptions } from './lib/timing.ts'

const KiB = 1024
const MiB = 1024 * KiB
const SMALL = 4 * KiB
const BUCKET = 'bench'

/** Names as they appear in the tables. */
const T = {
  coffer: 'coffer (SDK default)',
  cofferNoWorkers: 'coffer --hash-workers 0',
  cofferPlain: 'coffer (plain SDK)',
  nodes: 'coffer 6 nodes',
  nodesPlain: 'coffer 6 nodes (plain SDK)',
  s3rver: 's3rver',
  ceiling: 'HTTPS ceiling',
  ceph: 'ceph rgw',
}

type Shape = [size: number, concurrency: number]
const cross = (sizes: number[], concs: number[]): Shape[] => sizes.flatMap((s) => concs.map((c) => [s, c] as Shape))

/** Everything the suite will do, decided up front so the progress bar knows its length. */
interface Plan {
  big: number
  throughput: Shape[]
  plain: Shape[]
  small: Shape[]
  degraded: Shape[]
  nodes: Shape[]
  /**
   * Six-node cells with the WHEN_REQUIRED client: the rows compared with Ceph RGW, whose client
   * runs so (cephTable); set only with the Ceph peer.
   */
  nodesPlain: Shape[]
  nodesSmall: Shape[]
  listSizes: number[]
  /** Listing over six nodes: metadata lives in the gateway, the same as embedded, but the gateway shares the cores with its nodes. */
  nodesListSizes: number[]
  s3rverListSizes: number[]
  /** Keys PUT into the Ceph peer for its listing rows (it has no bulk insert). */
  cephListSizes: number[]
  listPages: number
  listMs: number
  timed: (size: number, conc: number) => LoadOptions
}

function planFor(quick: boolean): Plan {
  const big = quick ? 64 * MiB : 256 * MiB
  // 16 MiB ×8 is one of the comparison rows against Ceph RGW (issue: faster than Ceph).
  const throughput = cross([MiB, 16 * MiB, big], [1, 8])
  const bigCount = quick ? 2 : 3
  // ×8 cells of 16 MiB run three waves' worth (24 requests, 8 at a time): one wave is about a
  // second of data, too short to be more than noise. Bigger objects keep one wave (8 × 64 or
  // 256 MiB is seconds already; three took the quick run past 5 minutes and would add ≈ 8 GiB per
  // target to the full one).
  const waves = (size: number) => (size > 16 * MiB ? 1 : 3)
  return {
    big,
    throughput,
    plain: quick
      ? [
          [MiB, 8],
          [big, 1],
        ]
      : throughput,
    small: cross([SMALL], [1, 8, 16, 32]),
    degraded: quick
      ? [
          [big, 1],
          [MiB, 8],
          [SMALL, 8],
        ]
      : [...throughput, [SMALL, 8]],
    nodes: quick
      ? [
          [MiB, 8],
          [big, 1],
        ]
      : throughput,
    nodesPlain: [],
    // ×16 beside ×1 and ×32: two of issue 15's comparison rows are 4 KiB ×16.
    nodesSmall: quick ? [[SMALL, 8]] : cross([SMALL], [1, 8, 16, 32]),
    listSizes: quick ? [10_000] : [10_000, 100_000, 1_000_000],
    nodesListSizes: [10_000],
    // s3rver walks its whole directory tree for every page: 100k keys is already slow.
    s3rverListSizes: quick ? [10_000] : [10_000, 100_000],
    cephListSizes: [10_000],
    listPages: quick ? 10 : 50,
    listMs: quick ? 4_000 : 30_000,
    timed: (size, concurrency) =>
      size >= 16 * MiB
        ? {
            concurrency,
            maxOps: concurrency === 1 ? bigCount : waves(size) * concurrency,
            minOps: concurrency === 1 ? bigCount : waves(size) * concurrency,
            maxMs: 0,
          }
        : {
            concurrency,
            maxOps: 50_000,
            minOps: concurrency,
            maxMs: size <= SMALL ? (quick ? 1_200 : 4_000) : quick ? 1_200 : 5_000,
          },
  }
}

function steps(p: Plan, withNodes: boolean, withCeph: boolean): number {
  const coffer = 2 * (p.throughput.length + p.plain.length + p.small.length + p.degraded.length) + p.listSizes.length
  const s3rver = 2 * (p.throughput.length + p.small.length) + p.s3rverListSizes.length
  const nodes = withNodes
    ? 2 * (p.nodes.length + p.nodesPlain.length + p.nodesSmall.length) +
      2 * (p.nodes.length + 1) +
      p.nodesListSizes.length
    : 0
  const noWorkers = 2 * (p.throughput.length + p.small.length)
  const ceph = withCeph ? 2 * (p.throughput.length + p.small.length) + p.cephListSizes.length : 0
  return coffer + noWorkers + s3rver + ceph + 2 * p.throughput.length + nodes
}

/** Lets the kernel write back what the PUTs left dirty, so GET figures do not pay for it. */
const settle = () => execFileSync('sync')

interface Run {
  ctx: SuiteContext
  rec: S3Record
  plan: Plan
  /** Each server's peak RSS cut per cell, by every target name served by that process. */
  watches: Map<string, RssWatch>
}

/** Runs `fn` as a segment of `target`'s RSS watch (when it has one): its result and peak RSS. */
async function watched<T>(run: Run, target: string, label: string, fn: () => Promise<T>) {
  const w = run.watches.get(target)
  return w ? w.measure(label, fn) : { value: await fn(), rss: undefined }
}
/**
 * `pid`: the server process, when its threads' CPU time should be recorded for PUT cells (per GB)
 * and 4 KiB GET cells (per request, beside the client's and the rest of the machine's).
 */
interface Cells {
  target: string
  client: S3Client
  prefix: string
  pid?: number
}

async function puts(run: Run, c: Cells, shapes: Shape[]): Promise<void> {
  for (const [size, conc] of shapes) {
    const label = `${c.target} PUT ${sizeName(size)} ×${conc}`
    run.ctx.progress.status(label)
    const cpu0 = c.pid ? threadCpu(c.pid) : undefined
    const { value: r, rss } = await watched(run, c.target, label, () =>
      putCell(c.client, BUCKET, c.prefix, size, run.plan.timed(size, conc)),
    )
    const cpu1 = c.pid ? threadCpu(c.pid) : undefined
    const cpu = cpu0 && cpu1 ? { main: cpu1.main - cpu0.main, other: cpu1.other - cpu0.other } : undefined
    run.rec.add({ target: c.target, op: 'PUT', size, conc, degraded: false, r, cpu, rss })
    run.ctx.progress.step(label)
  }
}

/** GETs over what the PUT cells of this target and prefix stored. */
async function gets(
  run: Run,
  c: Cells,
  shapes: Shape[],
  kind: { degraded?: boolean; pair?: boolean } = {},
): Promise<void> {
  settle()
  for (const [size, conc] of shapes) {
    const stored = Math.max(
      0,
      ...run.rec.cells.filter((x) => x.target === c.target && x.op === 'PUT' && x.size === size).map((x) => x.r.ops),
    )
    const label = `${c.target} GET ${sizeName(size)} ×${conc}${kind.degraded ? ' degraded' : ''}`
    run.ctx.progress.status(label)
    if (stored > 0) {
      // 4 KiB GETs: where the CPU went (server, client, the rest of the machine), per request.
      const cpu = c.pid && size === SMALL ? cellCpu(c.pid) : undefined
      const { value: r, rss } = await watched(run, c.target, label, () =>
        getCell(c.client, BUCKET, c.prefix, size, stored, run.plan.timed(size, conc)),
      )
      const spent = cpu?.()
      run.rec.add({
        target: c.target,
        op: 'GET',
        size,
        conc,
        degraded: !!kind.degraded,
        pair: kind.pair,
        r,
        cpu: spent,
        rss,
      })
    }
    run.ctx.progress.step(label)
  }
}

const prefixOf = (size: number) => (size === SMALL ? 'small' : 'tp')

/** Healthy GETs, then degrade(), then the same GETs: back to back, so only the fault differs. */
async function degradedPairs(run: Run, t: S3Target, c: Omit<Cells, 'prefix'>, shapes: Shape[]): Promise<void> {
  for (const s of shapes) await gets(run, { ...c, prefix: prefixOf(s[0]) }, [s], { pair: true })
  const before = await degradedReads(t)
  await t.degrade!()
  for (const s of shapes) await gets(run, { ...c, prefix: prefixOf(s[0]) }, [s], { degraded: true })
  const after = await degradedReads(t)
  if (before !== undefined && after !== undefined)
    run.rec.notes.push(
      `${c.target}: the server counted ${after - before} degraded reads during the degraded GETs (health stats).`,
    )
}

async function degradedReads(t: S3Target): Promise<number | undefined> {
  if (!t.server) return undefined
  try {
    const h = JSON.parse((await httpsGet(t.server, '/_coffer/health')).body) as { stats?: { degradedReads?: number } }
    return h.stats?.degradedReads
  } catch {
    return undefined
  }
}

async function verify(run: Run, target: string, client: S3Client, sizes: number[]): Promise<void> {
  for (const size of sizes)
    if (!(await roundTripOk(client, BUCKET, size)))
      run.rec.notes.push(`${target}: a ${sizeName(size)} object read back DIFFERENT bytes`)
}

/** Starts cutting the peak RSS of `pid` per cell, for the cells of every name in `targets`. */
function watch(run: Run, pid: number | undefined, ...targets: string[]): void {
  if (pid === undefined) return
  const w = new RssWatch(pid)
  for (const t of targets) run.watches.set(t, w)
}

/**
 * The server's peak RSS over the whole run: with a watch, the largest of its segments and the one
 * that set it, beside its ×8 cells of the biggest objects (issue 15: ≤ 300 MiB with eight 256 MiB
 * transfers); `pids` after the first are other processes of the target (nodes, Ceph daemons).
 */
function recordRss(
  run: Run,
  target: string,
  pids: number[],
  note: string,
  others = 'node processes',
  restPeaks?: number[],
): void {
  try {
    const first = peakRss(pids[0]!)
    const rest = restPeaks ?? pids.slice(1).map((p) => peakRss(p))
    const w = run.watches.get(target)
    const top = w?.peak()
    const big = (op: 'PUT' | 'GET') => run.rec.find(target, op, run.plan.big, 8)?.rss
    run.rec.rss.push({
      target,
      bytes: Math.max(first, top?.bytes ?? 0),
      note,
      ...(w && top
        ? {
            setBy: w.resets ? top.label : 'not per cell here (clear_refs refused)',
            setFrom: w.resets ? top.startBytes : undefined,
            bigPut8: w.resets ? big('PUT') : undefined,
            bigGet8: w.resets ? big('GET') : undefined,
            segments: w.resets ? [...w.segments] : [],
          }
        : {}),
    })
    if (rest.length)
      run.rec.rss.push({
        target: `${target}: largest of the rest`,
        bytes: Math.max(...rest),
        note: `the largest of ${rest.length} live ${others}`,
      })
  } catch (e) {
    run.rec.notes.push(`${target}: peak RSS not readable (${(e as Error).message})`)
  }
}

async function listing(
  run: Run,
  target: string,
  client: S3Client,
  sizes: number[],
  fill: (bucket: string, n: number) => Promise<void>,
  how = 'inserted directly (not by PUT)',
): Promise<void> {
  for (const n of sizes) {
    const bucket = `list-${n}`
    const count = n.toLocaleString('en-US')
    run.ctx.progress.status(`${target}: filling ${count} keys`)
    await createBucket(client, bucket)
    const t0 = performance.now()
    await watched(run, target, `filling ${count} listing keys`, () => fill(bucket, n))
    run.rec.notes.push(`${target}: ${count} listing keys ${how} in ${((performance.now() - t0) / 1000).toFixed(2)} s.`)
    run.ctx.progress.status(`${target}: listing ${count} keys`)
    const { value: r } = await watched(run, target, `list ${count} keys`, () =>
      listCell(client, bucket, n, run.plan.listPages, run.plan.listMs),
    )
    for (const x of [r.plain, r.delimited])
      if (x.errors) run.rec.notes.push(`${target} list ${count}: ${x.errors} errors, first: ${x.firstError}`)
    run.rec.lists.push({ target, n, r })
    run.ctx.progress.step(`${target} list ${count}`)
  }
}

/** Runs `each` over the shapes for target `a`, then for `b` (when present), shape by shape. */
async function paired(
  a: Cells,
  b: Cells | undefined,
  shapes: Shape[],
  each: (c: Cells, s: Shape[]) => Promise<void>,
): Promise<void> {
  for (const s of shapes) {
    await each(a, [s])
    if (b) await each(b, [s])
  }
}

/**
 * The before/after of hashing on a worker thread: a second embedded server with `--hash-workers 0`
 * (MD5 and checksums on the request thread), same SDK client settings, its cells run right after
 * the default server's cell of the same shape so both see the same machine.
 */
async function startBefore(run: Run): Promise<{ t: S3Target; c: Cells } | undefined> {
  try {
    const t = await startCofferEmbedded(['--hash-workers', '0'])
    watch(run, t.pids[0], T.cofferNoWorkers)
    const client = clientFor(t, 'default')
    await createBucket(client, BUCKET)
    await verify(run, T.cofferNoWorkers, client, [MiB])
    return { t, c: { target: T.cofferNoWorkers, client, prefix: 'tp', pid: t.pids[0] } }
  } catch (e) {
    run.rec.missing.set(T.cofferNoWorkers, `failed: ${(e as Error).message.split('\n')[0]}`)
    return undefined
  }
}

async function embedded(run: Run): Promise<void> {
  const { plan } = run
  run.ctx.progress.status('starting coffer (embedded 4+2)')
  const t = await startCofferEmbedded()
  watch(run, t.pids[0], T.coffer, T.cofferPlain)
  const client = clientFor(t, 'default')
  const plain = clientFor(t, 'when-required')
  let before: { t: S3Target; c: Cells } | undefined
  try {
    await createBucket(client, BUCKET)
    await verify(run, T.coffer, client, [MiB, plan.big])
    run.ctx.progress.status('starting coffer --hash-workers 0')
    before = await startBefore(run)
    const main = { target: T.coffer, client, prefix: 'tp', pid: t.pids[0] }
    await paired(main, before?.c, plan.throughput, (c, s) => puts(run, c, s))
    await paired(main, before?.c, plan.throughput, (c, s) => gets(run, c, s))
    const small = { ...main, prefix: 'small' }
    const smallBefore = before && { ...before.c, prefix: 'small' }
    await paired(small, smallBefore, plan.small, (c, s) => puts(run, c, s))
    await paired(small, smallBefore, plan.small, (c, s) => gets(run, c, s))
    if (before) {
      recordRss(run, T.cofferNoWorkers, before.t.pids, 'the same, hashing on the request thread (no worker thread)')
      before.c.client.destroy()
      await before.t.stop()
      before = undefined
    }
    const p = { target: T.cofferPlain, client: plain, prefix: 'tp-plain' }
    await puts(run, p, plan.plain)
    await gets(run, p, plan.plain)
    await createBucket(client, 'bench-template')
    await putCell(client, 'bench-template', 'template', 0, { concurrency: 1, maxOps: 1, maxMs: 0 })
    await listing(run, T.coffer, client, plan.listSizes, (bucket, n) =>
      fillCofferMeta(t.server!.dataDir, 'bench-template', bucket, n),
    )
    await degradedPairs(run, t, { target: T.coffer, client, pid: t.pids[0] }, plan.degraded)
    await t.restore!()
    recordRss(run, T.coffer, t.pids, 'gateway + 6 local drives, one process')
  } finally {
    client.destroy()
    plain.destroy()
    before?.c.client.destroy()
    await before?.t.stop()
    await t.stop()
  }
}

async function s3rver(run: Run): Promise<void> {
  run.ctx.progress.status('starting s3rver')
  const t = await startS3rver()
  watch(run, t.pids[0], T.s3rver)
  // s3rver cannot decode aws-chunked bodies with checksum trailers (the SDK's default since 2025).
  const client = clientFor(t, 'when-required')
  try {
    await createBucket(client, BUCKET)
    await verify(run, T.s3rver, client, [MiB, run.plan.big])
    const c = { target: T.s3rver, client, prefix: 'tp' }
    await puts(run, c, run.plan.throughput)
    await gets(run, c, run.plan.throughput)
    await puts(run, { ...c, prefix: 'small' }, run.plan.small)
    await gets(run, { ...c, prefix: 'small', pid: t.pids[0] }, run.plan.small)
    await listing(run, T.s3rver, client, run.plan.s3rverListSizes, (bucket, n) => fillS3rverFiles(t.dataDir, bucket, n))
    recordRss(run, T.s3rver, t.pids, 's3rver 3.7 (Koa, one file per object), TLS')
  } finally {
    client.destroy()
    await t.stop()
  }
}

/**
 * Ceph RGW, the store an operator would deploy instead: the same cells as s3rver. Its Pacific
 * release predates the SDK's default checksums, so its client runs WHEN_REQUIRED, as does the
 * Coffer column it is compared with (cephTable).
 */
async function ceph(run: Run): Promise<void> {
  run.ctx.progress.status('starting the Ceph RGW peer (about a minute)')
  const t = await startCephPeer(run.ctx.cephScript)
  watch(run, t.pids[0], T.ceph)
  const client = clientFor(t, 'when-required')
  try {
    await createBucket(client, BUCKET)
    await verify(run, T.ceph, client, [MiB, run.plan.big])
    const c = { target: T.ceph, client, prefix: 'tp' }
    await puts(run, c, run.plan.throughput)
    await gets(run, c, run.plan.throughput)
    await puts(run, { ...c, prefix: 'small' }, run.plan.small)
    await gets(run, { ...c, prefix: 'small', pid: t.pids[0] }, run.plan.small)
    await listing(
      run,
      T.ceph,
      client,
      run.plan.cephListSizes,
      (bucket, n) => fillByPut(client, bucket, n),
      'PUT (empty objects, 32 at a time)',
    )
    recordRss(run, T.ceph, t.pids, 'radosgw', 'Ceph daemons (mon, mgr, OSDs)')
  } finally {
    client.destroy()
    await t.stop()
  }
}

/** The listing keys as empty objects, PUT 32 at a time (for a store without a bulk insert). */
async function fillByPut(client: S3Client, bucket: string, n: number): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < n) {
        const i = next++
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: listKey(i, n), Body: '' }))
      }
    }),
  )
}

async function ceiling(run: Run): Promise<void> {
  run.ctx.progress.status('starting the HTTPS ceiling')
  const c = await startCeiling()
  watch(run, c.pid, T.ceiling)
  try {
    const stored = new Map<number, number>()
    for (const [size, conc] of run.plan.throughput) {
      const buf = size <= 8 * MiB ? new Uint8Array(size).fill(7) : undefined
      const label = `${T.ceiling} PUT ${sizeName(size)} ×${conc}`
      const { value: put, rss } = await watched(run, T.ceiling, label, () =>
        load(
          async (i) => {
            await c.put(`/tp/${size}/${i}`, buf ?? patternStream(size, i + 1).stream, size)
            return size
          },
          run.plan.timed(size, conc),
        ),
      )
      stored.set(size, Math.max(stored.get(size) ?? 0, put.ops))
      run.rec.add({ target: T.ceiling, op: 'PUT', size, conc, degraded: false, r: put, rss })
      run.ctx.progress.step(label)
    }
    settle()
    for (const [size, conc] of run.plan.throughput) {
      const n = stored.get(size) ?? 0
      const label = `${T.ceiling} GET ${sizeName(size)} ×${conc}`
      const { value: get, rss } = await watched(run, T.ceiling, label, () =>
        load((i) => c.get(`/tp/${size}/${i % n}`), run.plan.timed(size, conc)),
      )
      run.rec.add({ target: T.ceiling, op: 'GET', size, conc, degraded: false, r: get, rss })
      run.ctx.progress.step(label)
    }
    recordRss(run, T.ceiling, [c.pid], 'bare node:https, one file per path')
  } finally {
    await c.stop()
  }
}

async function nodes(run: Run): Promise<void> {
  run.ctx.progress.status('starting 6 coffer nodes + gateway')
  const t = await startCofferNodes()
  watch(run, t.pids[0], T.nodes, T.nodesPlain)
  const client = clientFor(t, 'default')
  try {
    await createBucket(client, BUCKET)
    await verify(run, T.nodes, client, [run.plan.big])
    const c = { target: T.nodes, client, prefix: 'tp' }
    await puts(run, c, run.plan.nodes)
    await gets(run, c, run.plan.nodes)
    // The rows compared with Ceph RGW again, with its client's settings (no checksum, no aws-chunked
    // trailer), as the embedded column of that table is: SDK defaults cost 5–18 % of a PUT's MB/s
    // in the embedded columns (bench/results/latest.md, "coffer (plain SDK)").
    if (run.plan.nodesPlain.length) {
      const plain = clientFor(t, 'when-required')
      try {
        const p = { target: T.nodesPlain, client: plain, prefix: 'tp-plain' }
        await puts(run, p, run.plan.nodesPlain)
        await gets(run, p, run.plan.nodesPlain)
      } finally {
        plain.destroy()
      }
    }
    await puts(run, { ...c, prefix: 'small' }, run.plan.nodesSmall)
    await gets(run, { ...c, prefix: 'small', pid: t.pids[0] }, run.plan.nodesSmall)
    if (run.plan.nodesListSizes.length) {
      await createBucket(client, 'bench-template')
      await putCell(client, 'bench-template', 'template', 0, { concurrency: 1, maxOps: 1, maxMs: 0 })
      await listing(run, T.nodes, client, run.plan.nodesListSizes, (bucket, n) =>
        fillCofferMeta(t.server!.dataDir, 'bench-template', bucket, n),
      )
    }
    // The nodes' peaks before two of them are killed; the gateway's after the degraded GETs too.
    let nodePeaks: number[] = []
    try {
      nodePeaks = t.pids.slice(1).map((p) => peakRss(p))
    } catch (e) {
      run.rec.notes.push(`${T.nodes}: the nodes' peak RSS not readable (${(e as Error).message})`)
    }
    await degradedPairs(run, t, { target: T.nodes, client, pid: t.pids[0] }, [...run.plan.nodes, [SMALL, 8]])
    recordRss(run, T.nodes, [t.pids[0]!], 'gateway (nodes listed separately)', 'node processes', nodePeaks)
  } finally {
    client.destroy()
    await t.stop()
  }
}

export async function runS3(ctx: SuiteContext): Promise<SuiteResult> {
  const started = performance.now()
  const plan = planFor(ctx.quick)
  const run: Run = { ctx, rec: new S3Record(), plan, watches: new Map() }
  const withNodes = nodeCommandAvailable()
  if (!withNodes) run.rec.missing.set(T.nodes, '`coffer node` is not in this checkout')
  const withCeph = ctx.peers.includes('ceph')
  if (withCeph && withNodes)
    plan.nodesPlain = [
      [plan.big, 1],
      [16 * MiB, 8],
    ]
  ctx.progress.plan(steps(plan, withNodes, withCeph))
  const phases: [string, (r: Run) => Promise<void>][] = [
    [T.coffer, embedded],
    [T.s3rver, s3rver],
    [T.ceiling, ceiling],
  ]
  if (withNodes) phases.push([T.nodes, nodes])
  if (withCeph) phases.push([T.ceph, ceph])
  for (const [name, phase] of phases) {
    try {
      await phase(run)
    } catch (e) {
      // Keep the other targets' figures: mark this one and go on.
      run.rec.missing.set(name, `failed: ${(e as Error).message.split('\n')[0]}`)
      run.rec.notes.push(`${name} failed: ${(e as Error).stack?.split('\n').slice(0, 3).join(' / ')}`)
    }
  }
  const peers = withCeph ? [T.ceph] : []
  const tables = run.rec.tables(
    [T.coffer, T.cofferNoWorkers, T.cofferPlain, T.nodes, T.nodesPlain, ...peers, T.s3rver, T.ceiling],
    T.coffer,
    [T.cofferNoWorkers, ...peers, T.s3rver, T.ceiling],
  )
  tables[0]!.notes = [
    `${sizeName(MiB)} objects run for a time; ${sizeName(16 * MiB)} and ${sizeName(plan.big)} objects for a count (×1: ${plan.timed(plan.big, 1).maxOps} in a row; ×8: ${plan.timed(16 * MiB, 8).maxOps} and ${plan.timed(plan.big, 8).maxOps} requests, 8 at a time). ` +
      'The SDK client runs in the bench process on the same machine as the server, sharing its cores. "–": not measured in this mode.',
    `${T.coffer}: @aws-sdk/client-s3 defaults (CRC32 checksum, aws-chunked trailer on PUT). ${T.cofferPlain}, ${T.nodesPlain} (with the Ceph peer: its rows only) and ${T.s3rver}: ` +
      'requestChecksumCalculation WHEN_REQUIRED (s3rver cannot decode checksum trailers).',
    `${T.coffer} runs one hash worker thread (the default): MD5 and the checksum of bodies from ${sizeName(OFFLOAD_MIN_BYTES)} are computed off the request thread. ` +
      `${T.cofferNoWorkers}: the same server and client with every byte hashed on the request thread; each of its cells runs right after ${T.coffer}'s cell of the same shape, so the two columns are the before/after.`,
    `${T.s3rver}: npm s3rver 3.7 behind TLS (its https option), filesystem store. ${T.ceiling}: bare node:https streaming into one file per path (no S3, no hashing), own process.`,
    `${T.nodes}: ${run.rec.missing.get(T.nodes) ?? 'gateway over 6 `coffer node` processes on this machine, 4+2, node traffic over TLS'}.`,
    'Coffer fsyncs shards before it answers a PUT; s3rver and the ceiling leave data in the page cache. `sync` runs (untimed) before each series of GETs.',
  ]
  const degradedTable = tables.find((t) => t.title.startsWith('GET with 2 of 6'))
  if (degradedTable) {
    degradedTable.notes = [
      'Embedded: two drive directories renamed away (as if unmounted). Nodes: two `coffer node` processes killed with SIGKILL. ' +
        'Healthy and degraded GETs of the same objects run back to back; healing and scrubbing are off during the run.',
    ]
  }
  if (withCeph) tables.unshift(cephTable(run))
  return { name: 's3', ms: performance.now() - started, tables, metrics: run.rec.metrics(), notes: run.rec.notes }
}

/**
 * The issue's comparison in one table: each Coffer shape over Ceph RGW's, embedded and six-node.
 * Throughput rows compare MB/s, 4 KiB rows ops/s, the listing row page p50 (Ceph's / Coffer's, so
 * that above 1 is Coffer ahead everywhere). Embedded Coffer is its WHEN_REQUIRED column where one
 * was measured (the client settings Ceph gets), else its SDK-default column (said per row).
 */
function cephTable(run: Run): Table {
  const rec = run.rec
  const rate = (target: string, op: 'PUT' | 'GET', size: number, conc: number) => {
    const c = rec.find(target, op, size, conc)
    if (!c?.r.ops || c.r.errors) return undefined
    return size <= SMALL ? c.r.opsPerSec : c.r.mbps
  }
  const fmt = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(2)}×`)
  const shapes: [op: 'PUT' | 'GET', size: number, conc: number][] = [
    ['PUT', run.plan.big, 1],
    ['GET', run.plan.big, 1],
    ['PUT', 16 * MiB, 8],
    ['GET', 16 * MiB, 8],
    ['PUT', SMALL, 1],
    ['PUT', SMALL, 16],
    ['GET', SMALL, 16],
  ]
  const rows = shapes.map(([op, size, conc]) => {
    const ceph = rate(T.ceph, op, size, conc)
    const plain = rate(T.cofferPlain, op, size, conc)
    const embedded = plain ?? rate(T.coffer, op, size, conc)
    const sixPlain = rate(T.nodesPlain, op, size, conc)
    const six = sixPlain ?? rate(T.nodes, op, size, conc)
    const ratio = (x: number | undefined) => (x === undefined || ceph === undefined ? undefined : x / ceph)
    return [
      `${op} ${sizeName(size)} ×${conc}`,
      size <= SMALL ? 'ops/s' : 'MB/s',
      ceph === undefined ? '–' : ceph.toFixed(1),
      fmt(ratio(embedded)),
      plain !== undefined ? 'WHEN_REQUIRED' : 'SDK default',
      fmt(ratio(six)),
      sixPlain !== undefined ? 'WHEN_REQUIRED' : 'SDK default',
    ]
  })
  const page = (target: string) => {
    const l = rec.lists.find((x) => x.target === target && x.n === 10_000)
    return l?.r.plain.ops ? summarize(l.r.plain.latencies).p50 : undefined
  }
  const cephPage = page(T.ceph)
  const cofferPage = page(T.coffer)
  const nodesPage = page(T.nodes)
  rows.push([
    'ListObjectsV2 page of 1,000 (10,000 keys)',
    'p50 ms',
    cephPage === undefined ? '–' : cephPage.toFixed(1),
    fmt(cephPage !== undefined && cofferPage ? cephPage / cofferPage : undefined),
    'SDK default',
    fmt(cephPage !== undefined && nodesPage ? cephPage / nodesPage : undefined),
    'SDK default',
  ])
  return {
    title: 'Coffer / Ceph RGW, same run (above 1: Coffer ahead)',
    columns: ['workload', 'unit', 'ceph rgw', 'embedded / ceph', 'embedded client', '6 nodes / ceph', '6 nodes client'],
    rows,
    notes: [
      'Ceph RGW 16.2 (Debian), six bluestore OSDs on sparse files, EC 4+2 data pool, radosgw over HTTPS, started by ../shared/peers/ceph/ceph-peer.sh for this run and torn down after it.',
      'Targets run one after another (not interleaved): other load on the machine during the run moves the ratios; compare runs on an idle machine.',
      'Goal (issue 15): embedded ≥ 2× on 4 KiB PUT ×16 and GET ×16, ≥ 1.5× on 16 MiB ×8, ≥ 1× elsewhere; six nodes ≥ 1× everywhere.',
    ],
  }
}
