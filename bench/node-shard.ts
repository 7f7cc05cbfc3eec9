/**
 * Same-run A/B of the gateway → node shard PUT between checkouts (e.g. main and a branch, each
 * with its node_modules): per checkout one `coffer node` process and that checkout's gateway
 * transport (createGatewayFetch + RemoteStore, in this process); rounds interleave the checkouts
 * (order reversed every other round). Per round: shard PUTs of SIZE bytes sent as the stripe
 * writer sends them (header, block, CRC) for LOOP_MS at concurrency 1 and CONC, and with OPS=put,get
 * (or get) whole-shard GETs of SIZE bytes read through RemoteStore the same way; ops/s, ms per op
 * and the node's CPU ms per PUT (/proc) and this process's (the gateway side: RemoteStore and the
 * cluster fetch; process.cpuUsage). Prints medians and the load average.
 * Usage: node --import tsx bench/node-shard.ts CHECKOUT [CHECKOUT …]
 * Env: ROUNDS (3), SIZE (262144), CONC (8), LOOP_MS (3000), OPS (put), PROF=dir (each node runs with --cpu-prof
 * into dir/<checkout n>/; NODE_FLAGS: further node flags for the nodes, e.g. --perf-basic-prof).
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join, resolve } from 'node:path'
import type { ShardStore } from '../src/storage/shard-store.ts'
import { cpuOf, initCluster, startNode, stopNode } from './lib/node-proc.ts'

const roots = process.argv.slice(2).map((r) => resolve(r))
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const SIZE = Number(process.env.SIZE ?? 262144)
const CONC = Number(process.env.CONC ?? 8)
const LOOP_MS = Number(process.env.LOOP_MS ?? 3000)

interface Target {
  root: string
  node: ChildProcess
  store: ShardStore
  close(): void
  tmp: string
}
const targets: Target[] = []
for (const [n, root] of roots.entries()) {
  const { loadCluster } = (await import(`${root}/src/runtime/cluster.ts`)) as typeof import('../src/runtime/cluster.ts')
  const { createGatewayFetch } = (await import(
    `${root}/src/runtime/cluster-fetch.ts`
  )) as typeof import('../src/runtime/cluster-fetch.ts')
  const { createRemoteStore } = (await import(
    `${root}/src/storage/remote/client.ts`
  )) as typeof import('../src/storage/remote/client.ts')
  const tmp = mkdtempSync(join(os.tmpdir(), 'coffer-node-shard-'))
  initCluster(root, join(tmp, 'cluster.json'))
  const cluster = await loadCluster(join(tmp, 'cluster.json'))
  const prof = [
    ...(process.env.PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROF}/${n}`] : []),
    ...(process.env.NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
  ]
  const { child, port } = await startNode(root, cluster.path, join(tmp, 'node'), prof)
  const fetch = await createGatewayFetch(cluster)
  const store = createRemoteStore({ url: `https://127.0.0.1:${port}`, fetch, timeoutMs: 30_000 })
  targets.push({ root, node: child, store, close: () => fetch.close(), tmp })
}

const body = new Uint8Array(SIZE).fill(7)
const shard = () =>
  new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(body.subarray(0, 64)) // header
      c.enqueue(body.subarray(64)) // block
      c.enqueue(body.subarray(0, 4)) // its CRC
      c.close()
    },
  })
let seq = 0
const res: Record<string, number[]> = {}
const rec = (k: string, v: number) => {
  res[k] ??= []
  res[k].push(v)
}

const ops = new Set((process.env.OPS ?? 'put').split(','))

async function loop(t: Target, conc: number, op: 'PUT' | 'GET'): Promise<void> {
  const c0 = cpuOf(t.node.pid!)
  const g0 = process.cpuUsage()
  const t0 = performance.now()
  let n = 0
  let worst = 0
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (performance.now() - t0 < LOOP_MS) {
        const p0 = performance.now()
        if (op === 'PUT') await t.store.put(`s${seq++}`, shard())
        else {
          const r = t.store.get(`warm${seq++ % 10}`, 0, SIZE).getReader()
          let got = 0
          for (let c = await r.read(); !c.done; c = await r.read()) got += c.value.length
          if (got !== SIZE) throw new Error(`GET returned ${got} bytes`)
        }
        worst = Math.max(worst, performance.now() - p0)
        n++
      }
    }),
  )
  const ms = performance.now() - t0
  rec(`${t.root}\tx${conc} slowest ${op} ms`, worst)
  rec(`${t.root}\tx${conc} ${op}/s`, (n / ms) * 1000)
  rec(`${t.root}\tx${conc} ms per ${op}`, (ms * conc) / n)
  rec(`${t.root}\tx${conc} node CPU ms per ${op}`, ((cpuOf(t.node.pid!) - c0) * 1000) / n)
  const g = process.cpuUsage(g0)
  rec(`${t.root}\tx${conc} gateway CPU ms per ${op}`, (g.user + g.system) / 1000 / n)
}

for (const t of targets) for (let i = 0; i < 10; i++) await t.store.put(`warm${i}`, shard())
for (let r = 0; r < ROUNDS; r++) {
  for (const t of r % 2 ? [...targets].reverse() : targets) {
    for (const op of ['PUT', 'GET'] as const) {
      if (!ops.has(op.toLowerCase())) continue
      await loop(t, 1, op)
      await loop(t, CONC, op)
    }
  }
  console.error(`round ${r} load ${os.loadavg()[0]!.toFixed(1)}`)
}
for (const t of targets) {
  t.close()
  await stopNode(t.node)
  rmSync(t.tmp, { recursive: true, force: true })
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!
console.log(`shard ${SIZE} bytes, ${ROUNDS} rounds of ${LOOP_MS} ms`)
for (const [k, v] of Object.entries(res))
  console.log(`${k}\tmedian ${med(v).toFixed(2)}\tall ${v.map((x) => x.toFixed(1)).join(' ')}`)
console.log(
  `load ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
)
