/**
 * Same-run A/B of distributed mode between checkouts (e.g. main and a branch, each with its
 * node_modules): for every checkout a gateway over 6 `coffer node` processes (4+2) is started at
 * once, then rounds interleave them (order reversed every other round). Per checkout and round:
 * PUT and GET of one BIG_MIB object (2 each, 1 stream), 24 PUTs and then GETs of 16 MiB 8 at a time
 * (the full run's ×8 cells), 1 MiB PUT ×1 and ×8, GET ×8, 4 KiB PUT ×1,
 * 4 KiB PUT ×16 and 4 KiB GET ×16 (SMALL_MS each); CPU seconds (user + system, /proc) of the gateway and of the six nodes
 * per GiB for the big transfers. Prints medians and the load average after each round.
 * Usage: node --import tsx bench/nodes-ab.ts CHECKOUT [CHECKOUT …]
 * Env: ROUNDS (default 3), BIG_MIB (64), SMALL_MS (1500), PROF=dir (gateway and nodes run with
 * --cpu-prof into dir/<checkout n>/), THREADS=1 (each phase's CPU seconds per thread of the
 * gateway and of the six nodes summed, and the machine's idle, iowait and steal time and disk
 * busy time and flushes, on stderr), BIG_ONLY=1 (only the BIG_MIB and 16 MiB ×8 cells).
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join, resolve } from 'node:path'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { patternStream } from '../test/helpers/big-object.ts'
import type { TestServer } from '../test/helpers/server.ts'
import { node24Path } from '../bin/node24.mjs'
import { cpuOf, initCluster, startNode, stopNode, systemStat, threadCpuOf } from './lib/node-proc.ts'
import { tlsAgent } from '../test/helpers/s3-client.ts'

/**
 * A CHECKOUT may carry Node flags for its storage nodes (`main+nodes:--single-threaded-gc`) or its
 * gateway (`main+gw:--max-semi-space-size=16`), and environment for its nodes
 * (`main+nodes-env:COFFER_DIRECT_IO=off`), or run gateway and nodes on Node 24 (`main+node24`,
 * bin/node24.mjs's binary): the same code with and without a setting, interleaved like two
 * checkouts; results are keyed by the argument as given.
 */
const specs = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--'))
  .map((arg) => {
    const [dir, ...parts] = arg.split('+') as [string, ...string[]]
    const flags = (p: string) => parts.filter((x) => x.startsWith(p)).map((x) => x.slice(p.length))
    const nodeEnv = Object.fromEntries(
      flags('nodes-env:').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    )
    return {
      label: parts.length ? arg : resolve(dir),
      root: resolve(dir),
      nodeFlags: flags('nodes:'),
      gwFlags: flags('gw:'),
      nodeEnv,
      node24: parts.includes('node24'),
    }
  })
/** Node 24 for `+node24` specs: bin/node24.mjs installs it into its cache on first use. */
const node24Bin = (): string => node24Path({ install: true, log: (s: string) => console.error(s) }) as string
const roots = specs.map((s) => s.label)
const rounds = Number(process.env.ROUNDS ?? 3)
const MiB = 1024 * 1024
const BIG = Number(process.env.BIG_MIB ?? 64) * MiB
const SMALL = 4096
const X8 = 16 * MiB
/** Above the inline threshold: every one goes to the nodes as six 256 KiB shards. */
const MID = MiB
const SMALL_MS = Number(process.env.SMALL_MS ?? 1500)

const drain = async (body: unknown) => {
  let n = 0
  for await (const c of body as AsyncIterable<Uint8Array>) n += c.length
  return n
}
interface Target {
  /** The checkout argument as given (its label in the results). */
  root: string
  server: TestServer
  nodes: ChildProcess[]
  client: S3Client
  tmp: string
}
const targets: Target[] = []
for (const [n, { label, root, nodeFlags, gwFlags, nodeEnv, node24 }] of specs.entries()) {
  const { startServer } = (await import(`${root}/test/helpers/server.ts`)) as typeof import('../test/helpers/server.ts')
  const tmp = mkdtempSync(join(os.tmpdir(), 'coffer-nodes-ab-'))
  const cluster = join(tmp, 'cluster.json')
  initCluster(root, cluster)
  const dir = `${process.env.PROF}/${n}`
  const prof = process.env.PROF ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []
  const started = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      startNode(root, cluster, join(tmp, `n${i}`), [...prof, ...nodeFlags], nodeEnv, node24 ? node24Bin() : undefined),
    ),
  )
  const server = await startServer({
    ...(node24 ? { runtime: 'node24' as const } : {}),
    dataDir: join(tmp, 'gateway'),
    args: ['--cluster', cluster, '--nodes', started.map((s) => `https://127.0.0.1:${s.port}`).join(',')],
    env: { COFFER_HEAL_INTERVAL_MS: '3600000', COFFER_SCRUB_INTERVAL_MS: '3600000', COFFER_READ_TIMEOUT_MS: '10000' },
    wrap:
      process.env.PROF || gwFlags.length ? (cmd, argv) => ({ cmd, argv: [...prof, ...gwFlags, ...argv] }) : undefined,
  })
  const client = new S3Client({
    endpoint: server.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      httpsAgent: tlsAgent(server, 64),
      requestTimeout: 300_000,
    }),
  })
  await client.send(new CreateBucketCommand({ Bucket: 'abench' }))
  await client.send(new PutObjectCommand({ Bucket: 'abench', Key: 'warm', Body: Buffer.alloc(SMALL, 1) }))
  for (let i = 0; i < 256; i++)
    await client.send(new PutObjectCommand({ Bucket: 'abench', Key: `s${i}`, Body: Buffer.alloc(SMALL, i) }))
  for (let i = 0; i < 32; i++)
    await client.send(new PutObjectCommand({ Bucket: 'abench', Key: `m${i}`, Body: Buffer.alloc(MID, i) }))
  targets.push({ root: label, server, nodes: started.map((s) => s.child), client, tmp })
}

const res: Record<string, Record<string, number[]>> = {}
const rec = (who: string, what: string, v: number) => {
  const byWhat = res[who] ?? {}
  res[who] = byWhat
  const values = byWhat[what] ?? []
  byWhat[what] = values
  values.push(v)
}
const mbs = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000)
const nodesCpu = (t: Target) => t.nodes.reduce((s, c) => s + cpuOf(c.pid!), 0)

/** Ops/s of `conc` loops for SMALL_MS; a failed op is counted (and printed) under `errors`, not in the rate. */
async function closedLoop(who: string, conc: number, op: (i: number) => Promise<void>): Promise<number> {
  const t0 = performance.now()
  let ops = 0
  await Promise.all(
    Array.from({ length: conc }, async (_, c) => {
      for (let j = 0; performance.now() - t0 < SMALL_MS; j++) {
        try {
          await op(c * 100_000 + j)
          ops++
        } catch (e) {
          errors.set(who, (errors.get(who) ?? 0) + 1)
          console.error(`${who}: ${(e as Error).name}: ${(e as Error).message}`)
        }
      }
    }),
  )
  return ops / ((performance.now() - t0) / 1000)
}
const errors = new Map<string, number>()
let midOps = 0
/**
 * With PROF or MARKS: each phase's start on the profiles' clock (CLOCK_MONOTONIC, µs), to cut them
 * (or a system-wide `perf record`, whose clock is the same) by phase.
 */
const mark = (who: string, phase: string) => {
  if (process.env.PROF || process.env.MARKS) console.error(`phase ${who} ${phase} ${process.hrtime.bigint() / 1000n}`)
  if (process.env.THREADS) threadPhase(who, phase)
}
/** With THREADS: the CPU of the phase that just ended, per thread name, gateway and nodes apart. */
let lastThreads:
  | {
      label: string
      t: Target
      gw: Map<string, number>
      nodes: Map<string, number>
      sys: ReturnType<typeof systemStat>
      at: number
    }
  | undefined
function threadPhase(who: string, phase: string): void {
  // The six nodes' threads summed by role (threadCpuOf's keys).
  const snap = (pids: number[]) => {
    const m = new Map<string, number>()
    for (const pid of pids) for (const [k, v] of threadCpuOf(pid)) m.set(k, (m.get(k) ?? 0) + v)
    return m
  }
  const diff = (a: Map<string, number>, b: Map<string, number>) =>
    [...b]
      .map(([k, v]) => [k, v - (a.get(k) ?? 0)] as const)
      .filter(([, d]) => d >= 0.01)
      .sort((x, y) => y[1] - x[1])
      .map(([k, d]) => `${k}=${d.toFixed(2)}`)
      .join(' ')
  if (lastThreads) {
    const { label, t, gw, nodes, sys: sys0, at } = lastThreads
    const gwNow = snap([t.server.pid])
    const nodesNow = snap(t.nodes.map((c) => c.pid!))
    console.error(`threads ${label} gateway: ${diff(gw, gwNow)} | nodes: ${diff(nodes, nodesNow)}`)
    // The machine over the phase: CPU states as % of all CPU time, each disk's busy ms and flushes.
    const sys = systemStat()
    const ticks = (k: string) => (sys.cpu[k] ?? 0) - (sys0.cpu[k] ?? 0)
    const all = Object.keys(sys.cpu).reduce((n, k) => n + ticks(k), 0) || 1
    const pct = (k: string) => `${k} ${((100 * ticks(k)) / all).toFixed(1)}%`
    const ms = performance.now() - at
    const disks = Object.entries(sys.disks).map(([name, d]) => {
      const b = sys0.disks[name] ?? d
      return `${name} busy ${((100 * (d.busyMs! - b.busyMs!)) / ms).toFixed(0)}% writes ${d.writes! - b.writes!} flushes ${d.flushes! - b.flushes!} (${d.flushMs! - b.flushMs!} ms)`
    })
    console.error(
      `machine ${label} ${(ms / 1000).toFixed(1)} s: ${['idle', 'iowait', 'steal', 'user', 'system', 'softirq'].map(pct).join(' ')} | ${disks.join(' | ')}`,
    )
  }
  const t = targets.find((x) => x.root === who)
  lastThreads = t && {
    label: `${who} ${phase}`,
    t,
    gw: snap([t.server.pid]),
    nodes: snap(t.nodes.map((c) => c.pid!)),
    sys: systemStat(),
    at: performance.now(),
  }
}

/**
 * A round that throws prints the end of each gateway's stderr first (what it answered, and why),
 * and takes its gateways and nodes down with it: left running, they sat idle beside later runs.
 */
process.on('uncaughtExceptionMonitor', () => {
  for (const t of targets) {
    console.error(`--- ${t.root} gateway stderr (end)\n${t.server.stderr().slice(-6000)}`)
    for (const pid of [t.server.pid, ...t.nodes.map((c) => c.pid)])
      try {
        if (pid !== undefined) process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    rmSync(t.tmp, { recursive: true, force: true })
  }
})
for (let r = 0; r < rounds; r++) {
  for (const t of r % 2 ? [...targets].reverse() : targets) {
    const name = t.root
    let g0 = cpuOf(t.server.pid)
    let n0 = nodesCpu(t)
    mark(name, 'put_big')
    for (let j = 0; j < 2; j++) {
      const t0 = performance.now()
      await t.client.send(
        new PutObjectCommand({
          Bucket: 'abench',
          Key: 'big',
          Body: patternStream(BIG, j + 1).stream,
          ContentLength: BIG,
        }),
      )
      rec(name, 'put_big_x1_MBps', mbs(BIG, performance.now() - t0))
    }
    rec(name, 'put_big_gw_cpu_s_GiB', (cpuOf(t.server.pid) - g0) / ((2 * BIG) / 2 ** 30))
    rec(name, 'put_big_nodes_cpu_s_GiB', (nodesCpu(t) - n0) / ((2 * BIG) / 2 ** 30))
    g0 = cpuOf(t.server.pid)
    n0 = nodesCpu(t)
    mark(name, 'get_big')
    for (let j = 0; j < 2; j++) {
      const t0 = performance.now()
      const o = await t.client.send(new GetObjectCommand({ Bucket: 'abench', Key: 'big' }))
      if ((await drain(o.Body)) !== BIG) throw new Error('short')
      rec(name, 'get_big_x1_MBps', mbs(BIG, performance.now() - t0))
    }
    rec(name, 'get_big_gw_cpu_s_GiB', (cpuOf(t.server.pid) - g0) / ((2 * BIG) / 2 ** 30))
    rec(name, 'get_big_nodes_cpu_s_GiB', (nodesCpu(t) - n0) / ((2 * BIG) / 2 ** 30))
    // The full run's 16 MiB ×8 cells: 24 PUTs, then 24 GETs of them, 8 at a time.
    for (const op of ['put', 'get'] as const) {
      const g = cpuOf(t.server.pid)
      const nc = nodesCpu(t)
      mark(name, `${op}_16m_x8`)
      const t0 = performance.now()
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (let j = 0; j < 3; j++) {
            const Key = `x${w}-${j}`
            if (op === 'put')
              await t.client.send(
                new PutObjectCommand({
                  Bucket: 'abench',
                  Key,
                  Body: patternStream(X8, w * 3 + j).stream,
                  ContentLength: X8,
                }),
              )
            else {
              const o = await t.client.send(new GetObjectCommand({ Bucket: 'abench', Key }))
              if ((await drain(o.Body)) !== X8) throw new Error('short')
            }
          }
        }),
      )
      const gib = (24 * X8) / 2 ** 30
      rec(name, `${op}_16m_x8_MBps`, mbs(24 * X8, performance.now() - t0))
      rec(name, `${op}_16m_x8_gw_cpu_s_GiB`, (cpuOf(t.server.pid) - g) / gib)
      rec(name, `${op}_16m_x8_nodes_cpu_s_GiB`, (nodesCpu(t) - nc) / gib)
    }
    const mid = Buffer.alloc(MID, 9)
    /** A closed loop of 1 MiB operations: MB/s, and gateway and node CPU seconds per GiB moved. */
    const midLoop = async (what: string, op: (i: number) => Promise<void>, conc = 8) => {
      mark(name, what)
      const g = cpuOf(t.server.pid)
      const nc = nodesCpu(t)
      const ops0 = midOps
      const rate = await closedLoop(name, conc, async (i) => {
        await op(i)
        midOps++
      })
      const gib = ((midOps - ops0) * MID) / 2 ** 30
      rec(name, `${what}_MBps`, (rate * MID) / 1e6)
      rec(name, `${what}_gw_cpu_s_GiB`, (cpuOf(t.server.pid) - g) / gib)
      rec(name, `${what}_nodes_cpu_s_GiB`, (nodesCpu(t) - nc) / gib)
    }
    if (process.env.BIG_ONLY) continue
    await midLoop(
      'put_1m_x1',
      async (i) => {
        await t.client.send(new PutObjectCommand({ Bucket: 'abench', Key: `q${r}-${i}`, Body: mid }))
      },
      1,
    )
    await midLoop('put_1m_x8', async (i) => {
      await t.client.send(new PutObjectCommand({ Bucket: 'abench', Key: `q${r}-${i}`, Body: mid }))
    })
    await midLoop('get_1m_x8', async (i) => {
      const o = await t.client.send(new GetObjectCommand({ Bucket: 'abench', Key: `m${i % 32}` }))
      if ((await drain(o.Body)) !== MID) throw new Error('short')
    })
    const body = Buffer.alloc(SMALL, 7)
    const put = async (i: number) => {
      await t.client.send(new PutObjectCommand({ Bucket: 'abench', Key: `p${r}-${i}`, Body: body }))
    }
    mark(name, 'small')
    rec(name, 'put_4k_x1_ops', await closedLoop(name, 1, put))
    rec(name, 'put_4k_x16_ops', await closedLoop(name, 16, put))
    rec(
      name,
      'get_4k_x16_ops',
      await closedLoop(name, 16, async (i) => {
        const o = await t.client.send(new GetObjectCommand({ Bucket: 'abench', Key: `s${i % 256}` }))
        if ((await drain(o.Body)) !== SMALL) throw new Error('short')
      }),
    )
  }
  mark('-', 'end')
  for (const t of targets)
    for (const [what, v] of Object.entries(res[t.root] ?? {}))
      console.error(`  ${t.root} ${what} ${v.at(-1)?.toFixed(2)}`)
  console.error(
    `round ${r} load ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  )
}
for (const t of targets) {
  t.client.destroy()
  await t.server.stop()
  await Promise.all(t.nodes.map(stopNode))
  rmSync(t.tmp, { recursive: true, force: true })
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!
for (const [who, m] of Object.entries(res))
  for (const [what, v] of Object.entries(m))
    console.log(
      `${who.padEnd(26)} ${what.padEnd(24)} median ${med(v).toFixed(2)}  all ${v.map((x) => x.toFixed(1)).join(' ')}`,
    )
if (roots.length === 2) {
  const [a, b] = roots as [string, string]
  for (const what of Object.keys(res[a] ?? {}))
    console.log(`ratio ${what.padEnd(24)} ${(med(res[b]![what]!) / med(res[a]![what]!)).toFixed(2)}× (${b} / ${a})`)
}
console.log(`errors ${JSON.stringify([...errors])}`)
console.log(
  `load ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
)
