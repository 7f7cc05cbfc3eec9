/**
 * Same-run A/B of the read path between checkouts (e.g. main and a branch, each with its
 * node_modules): every checkout's gateway is started at once (embedded, 4+2, D@RE on), then
 * rounds interleave them (order reversed every other round), with the bare HTTPS ceiling
 * (bench/https-ceiling.ts) measured once per round. Per checkout and round: 2 GETs of one
 * 256 MiB object, 24 GETs of 16 MiB 8 at a time (three waves, as bench/s3.ts runs that cell),
 * 96 GETs of 1 MiB 8 at a time, 4 KiB GET and HEAD with 16 clients for TINY_MS
 * each (ops/s and gateway CPU ms per op), 15 ListObjectsV2 pages of 1,000 at random positions in
 * 10,000 keys; gateway CPU (user + system, /proc) per GiB sent, and for the big cells also split
 * by thread (`_main`: the request thread; `_other`: libuv's pool with the file reads, V8's
 * helpers, the hash worker; `_client`: this bench process, the SDK client). Prints medians, and the load
 * average after each round (figures mean little without it).
 * `--raw` adds two GETs of the 256 MiB object through a presigned URL with a bare node:https client,
 * the ceiling's (`get256raw`): the gateway without the SDK's costs on the client side.
 * Usage: node --import tsx bench/read-ab.ts CHECKOUT [CHECKOUT …] [--nobig] [--raw] [--nomid] [--nosmall] [--notiny] [--nolist]
 * Env: ROUNDS (default 2), BIG_MIB (256), PAGES (15), TINY_MS (3000), PROF=dir (gateways run
 * with --cpu-prof into dir/<n>; WINDOW lines on stderr give the monotonic µs bounds of each phase),
 * NODE_FLAGS='--trace-gc …' (more flags for every gateway), GC_LOG=1 (prints the last 60 GC lines
 * of each gateway's stdout at the end).
 */
import { execFileSync } from 'node:child_process'
import { Agent, request } from 'node:https'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import { patternStream } from '../test/helpers/big-object.ts'
import { startCeiling } from './https-ceiling.ts'
import { AbResults, abArgs, cpuOf, loadavg, mbPerS as mbs, roundOrder, startGateways } from './lib/ab.ts'
import { fillCofferMeta, listKey, threadCpu } from './lib/s3-load.ts'

const { roots, flags } = abArgs()
const rounds = Number(process.env.ROUNDS ?? 2)
const MiB = 1024 * 1024
const BIG = Number(process.env.BIG_MIB ?? 256) * MiB

const MID = 16 * MiB

/**
 * CPU seconds so far of a process's request thread (tid = pid) and of its other threads (libuv's
 * pool with the file reads, V8's GC helpers, the hash worker: Node 20 leaves them all unnamed).
 */
function threadsOf(pid: number): { main: number; other: number } {
  const t = threadCpu(pid)
  if (!t) throw new Error(`no /proc for ${pid}`)
  return t
}
const clientCpu = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}
/** Records CPU per GiB of `what` split by thread, from snapshots taken before the cell. */
function recThreads(
  name: string,
  what: string,
  pid: number,
  before: ReturnType<typeof threadsOf>,
  c0: number,
  gib: number,
) {
  const after = threadsOf(pid)
  for (const k of ['main', 'other'] as const) rec(name, `${what}_${k}`, (after[k] - before[k]) / gib)
  rec(name, `${what}_client`, (clientCpu() - c0) / gib)
}

/**
 * GET of a presigned URL with a bare node:https client drained as the ceiling's client drains
 * (bench/https-ceiling.ts): the gateway's share of a GET without the SDK's per-chunk costs.
 */
function rawGet(url: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      let n = 0
      res.on('data', (c: Buffer) => (n += c.length))
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`HTTP ${res.statusCode}`))))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

const drain = async (body: unknown) => {
  let n = 0
  for await (const c of body as AsyncIterable<Uint8Array>) n += c.length
  return n
}
const res = new AbResults()
const rec = res.rec.bind(res)
const targets = await startGateways(roots)
for (const { client, server } of targets) {
  await client.send(new CreateBucketCommand({ Bucket: 'bigb' }))
  await client.send(
    new PutObjectCommand({ Bucket: 'bigb', Key: 'big', Body: patternStream(BIG, 1).stream, ContentLength: BIG }),
  )
  for (let i = 0; i < 8; i++)
    await client.send(
      new PutObjectCommand({ Bucket: 'bigb', Key: `m${i}`, Body: Buffer.alloc(MiB, i), ContentLength: MiB }),
    )
  if (!flags.has('--nomid'))
    for (let i = 0; i < 8; i++)
      await client.send(
        new PutObjectCommand({
          Bucket: 'bigb',
          Key: `g${i}`,
          Body: patternStream(MID, 10 + i).stream,
          ContentLength: MID,
        }),
      )
  if (!flags.has('--notiny'))
    for (let i = 0; i < 16; i++)
      await client.send(
        new PutObjectCommand({ Bucket: 'bigb', Key: `t${i}`, Body: Buffer.alloc(4096, i), ContentLength: 4096 }),
      )
  if (!flags.has('--nolist')) {
    await client.send(new CreateBucketCommand({ Bucket: 'listb' }))
    await client.send(new PutObjectCommand({ Bucket: 'listb', Key: 'template', Body: '' }))
    await fillCofferMeta(server.dataDir, 'listb', 'listb', 10_000)
  }
}
execFileSync('sync')
const ceiling = await startCeiling()
await ceiling.put('/blob', patternStream(BIG, 1).stream, BIG)
for (let r = 0; r < rounds; r++) {
  for (const t of roundOrder(targets, r)) {
    const name = t.root
    if (!flags.has('--nobig')) {
      console.error(`WINDOW ${name} start ${process.hrtime.bigint() / 1000n}`)
      const c0 = cpuOf(t.server.pid)
      const th0 = threadsOf(t.server.pid)
      const cl0 = clientCpu()
      for (let j = 0; j < 2; j++) {
        const t0 = performance.now()
        const o = await t.client.send(new GetObjectCommand({ Bucket: 'bigb', Key: 'big' }))
        const n = await drain(o.Body)
        if (n !== BIG) throw new Error('short')
        rec(name, 'get256x1', mbs(BIG, performance.now() - t0))
      }
      console.error(`WINDOW ${name} end ${process.hrtime.bigint() / 1000n}`)
      rec(name, 'cpu_s_per_GiB', (cpuOf(t.server.pid) - c0) / ((2 * BIG) / 2 ** 30))
      recThreads(name, 'get256', t.server.pid, th0, cl0, (2 * BIG) / 2 ** 30)
      if (flags.has('--raw')) {
        const agent = new Agent({ ca: t.server.caPem, keepAlive: true })
        const url = await getSignedUrl(t.client, new GetObjectCommand({ Bucket: 'bigb', Key: 'big' }), {
          expiresIn: 600,
        })
        const r0 = cpuOf(t.server.pid)
        const rl0 = clientCpu()
        for (let j = 0; j < 2; j++) {
          const t0 = performance.now()
          if ((await rawGet(url, agent)) !== BIG) throw new Error('short')
          rec(name, 'get256raw', mbs(BIG, performance.now() - t0))
        }
        rec(name, 'get256raw_cpu', (cpuOf(t.server.pid) - r0) / ((2 * BIG) / 2 ** 30))
        rec(name, 'get256raw_client', (clientCpu() - rl0) / ((2 * BIG) / 2 ** 30))
        agent.destroy()
      }
    }
    if (!flags.has('--nomid')) {
      console.error(`WINDOW mid start ${process.hrtime.bigint() / 1000n}`)
      const c0 = cpuOf(t.server.pid)
      const th0 = threadsOf(t.server.pid)
      const cl0 = clientCpu()
      const t0 = performance.now()
      let done = 0
      await Promise.all(
        Array.from({ length: 8 }, async (_, c) => {
          for (let j = 0; j < 3; j++) {
            const o = await t.client.send(new GetObjectCommand({ Bucket: 'bigb', Key: `g${c}` }))
            const got = await drain(o.Body)
            if (got !== MID) throw new Error('short')
            done += got
          }
        }),
      )
      rec(name, 'get16x8', mbs(done, performance.now() - t0))
      console.error(`WINDOW mid end ${process.hrtime.bigint() / 1000n}`)
      rec(name, 'get16x8_cpu_s_per_GiB', (cpuOf(t.server.pid) - c0) / (done / 2 ** 30))
      recThreads(name, 'get16x8', t.server.pid, th0, cl0, done / 2 ** 30)
    }
    if (!flags.has('--nosmall')) {
      const c0 = cpuOf(t.server.pid)
      console.error(`WINDOW small start ${process.hrtime.bigint() / 1000n}`)
      const t0 = performance.now()
      let done = 0
      await Promise.all(
        Array.from({ length: 8 }, async (_, c) => {
          for (let j = 0; j < 12; j++) {
            const o = await t.client.send(new GetObjectCommand({ Bucket: 'bigb', Key: `m${c}` }))
            const got = await drain(o.Body)
            done += got
          }
        }),
      )
      rec(name, 'get1x8', mbs(done, performance.now() - t0))
      console.error(`WINDOW small end ${process.hrtime.bigint() / 1000n}`)
      rec(name, 'get1x8_cpu_s_per_GiB', (cpuOf(t.server.pid) - c0) / (done / 2 ** 30))
    }
    if (!flags.has('--notiny')) {
      // 4 KiB GET and HEAD with 16 clients, time-bounded: the fixed per-request cost.
      for (const what of ['get4k', 'head4k'] as const) {
        const c0 = cpuOf(t.server.pid)
        console.error(`WINDOW ${what} start ${process.hrtime.bigint() / 1000n}`)
        const t0 = performance.now()
        const until = t0 + Number(process.env.TINY_MS ?? 3000)
        let ops = 0
        await Promise.all(
          Array.from({ length: 16 }, async (_, c) => {
            while (performance.now() < until) {
              if (what === 'get4k') {
                const o = await t.client.send(new GetObjectCommand({ Bucket: 'bigb', Key: `t${c}` }))
                if ((await drain(o.Body)) !== 4096) throw new Error('short')
              } else await t.client.send(new HeadObjectCommand({ Bucket: 'bigb', Key: `t${c}` }))
              ops++
            }
          }),
        )
        const s = (performance.now() - t0) / 1000
        console.error(`WINDOW ${what} end ${process.hrtime.bigint() / 1000n}`)
        rec(name, `${what}x16_ops`, ops / s)
        rec(name, `${what}_cpu_ms_per_op`, ((cpuOf(t.server.pid) - c0) * 1000) / ops)
      }
    }
    if (!flags.has('--nolist')) {
      const lat: number[] = []
      console.error(`WINDOW list start ${process.hrtime.bigint() / 1000n}`)
      for (let j = 0; j < Number(process.env.PAGES ?? 15); j++) {
        const t0 = performance.now()
        const out = await t.client.send(
          new ListObjectsV2Command({ Bucket: 'listb', MaxKeys: 1000, StartAfter: listKey((j * 487) % 9000, 10_000) }),
        )
        lat.push(performance.now() - t0)
        if ((out.KeyCount ?? 0) < 500) throw new Error('short page')
      }
      console.error(`WINDOW list end ${process.hrtime.bigint() / 1000n}`)
      lat.sort((a, b) => a - b)
      rec(name, 'list_p50_ms', lat[Math.floor(lat.length / 2)]!)
    }
  }
  if (!flags.has('--nobig')) {
    const c0 = cpuOf(ceiling.pid)
    const cl0 = clientCpu()
    const t0 = performance.now()
    await ceiling.get('/blob')
    rec('ceiling', 'get256x1', mbs(BIG, performance.now() - t0))
    rec('ceiling', 'cpu_s_per_GiB', (cpuOf(ceiling.pid) - c0) / (BIG / 2 ** 30))
    rec('ceiling', 'get256_client', (clientCpu() - cl0) / (BIG / 2 ** 30))
  }
  console.error(`round ${r} load ${loadavg()}`)
}
if (process.env.GC_LOG)
  for (const t of targets)
    console.error(
      t.server
        .stdout()
        .split('\n')
        .filter((l) => l.includes('ms: '))
        .slice(-60)
        .join('\n'),
    )
for (const t of targets) await t.server.stop()
await ceiling.stop()
res.print()
