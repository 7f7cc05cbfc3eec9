/**
 * Same-run A/B of the gateway → node path for *big* shard PUTs between checkouts (each with its
 * node_modules): per checkout SHARDS `coffer node` processes and that checkout's gateway transport
 * (createGatewayFetch + RemoteStore + ShardSink, in this process). One "object" is one shard of
 * SHARD_MIB per node, all written at once, fed as the stripe writer feeds them: a header, then per
 * stripe a 256 KiB block and its 4-byte CRC on every sink, the next stripe only once every sink has
 * room. What node-shard.ts does for one-block shards, for the 256 MiB ×1 row's shape (64 MiB per
 * node). Rounds interleave the checkouts (order reversed every other round).
 * Per checkout and round: MB/s of shard bytes, and CPU seconds per GiB of shard bytes: this
 * process (the gateway's transport side, process.cpuUsage) and the nodes together (/proc).
 * Usage: node --import tsx bench/shard-stream.ts CHECKOUT [CHECKOUT …]
 * Env: ROUNDS (4), SHARD_MIB (64), SHARDS (6), OBJECTS (2 per round).
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join, resolve } from 'node:path'
import type { ShardSink } from '../src/storage/shard-sink.ts'
import type { ShardStore } from '../src/storage/shard-store.ts'
import { cpuOf, initCluster, startNode, stopNode } from './lib/node-proc.ts'

const roots = process.argv.slice(2).map((r) => resolve(r))
const ROUNDS = Number(process.env.ROUNDS ?? 4)
const SHARD = Number(process.env.SHARD_MIB ?? 64) * 1024 * 1024
const SHARDS = Number(process.env.SHARDS ?? 6)
const OBJECTS = Number(process.env.OBJECTS ?? 2)
const BLOCK = 256 * 1024

interface Target {
  root: string
  nodes: ChildProcess[]
  stores: ShardStore[]
  Sink: typeof ShardSink
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
  const { ShardSink: Sink } = (await import(
    `${root}/src/storage/shard-sink.ts`
  )) as typeof import('../src/storage/shard-sink.ts')
  const tmp = mkdtempSync(join(os.tmpdir(), `coffer-shard-stream-${n}-`))
  initCluster(root, join(tmp, 'cluster.json'))
  const cluster = await loadCluster(join(tmp, 'cluster.json'))
  const started = await Promise.all(
    Array.from({ length: SHARDS }, (_, i) => startNode(root, cluster.path, join(tmp, `n${i}`))),
  )
  const fetch = await createGatewayFetch(cluster)
  const stores = started.map((s) => createRemoteStore({ url: `https://127.0.0.1:${s.port}`, fetch, timeoutMs: 60_000 }))
  targets.push({ root, nodes: started.map((s) => s.child), stores, Sink, close: () => fetch.close(), tmp })
}

const block = new Uint8Array(BLOCK).fill(7)
let seq = 0
/** One object: a shard of SHARD bytes to every node at once, stripe by stripe as the stripe writer does. */
async function putObject(t: Target): Promise<void> {
  const id = seq++
  const sinks = t.stores.map((s, i) => new t.Sink(i, s, `o${id}.${i}`, 2 * BLOCK))
  for (const s of sinks) s.push(block.subarray(0, 64))
  for (let at = 0; at < SHARD; at += BLOCK) {
    for (const s of sinks) {
      // A fresh block per shard and stripe, as the encoder hands them on.
      s.push(block.slice())
      s.push(new Uint8Array(4))
    }
    await Promise.all(sinks.map((s) => s.ready(60_000)))
  }
  for (const s of sinks) s.close()
  const ok = await Promise.all(sinks.map((s) => s.done))
  if (!ok.every(Boolean)) throw new Error(`object ${id}: ${sinks.map((s) => String(s.failure)).join(', ')}`)
}

const res: Record<string, number[]> = {}
const rec = (k: string, v: number) => {
  res[k] ??= []
  res[k].push(v)
}
const nodesCpu = (t: Target) => t.nodes.reduce((s, c) => s + cpuOf(c.pid!), 0)

for (const t of targets) await putObject(t) // warm: connections, JIT
for (let r = 0; r < ROUNDS; r++) {
  for (const t of r % 2 ? [...targets].reverse() : targets) {
    const n0 = nodesCpu(t)
    const g0 = process.cpuUsage()
    const t0 = performance.now()
    for (let o = 0; o < OBJECTS; o++) await putObject(t)
    const ms = performance.now() - t0
    const g = process.cpuUsage(g0)
    const gib = (OBJECTS * SHARDS * SHARD) / 2 ** 30
    rec(`${t.root}\tMB/s`, (OBJECTS * SHARDS * SHARD) / 1e3 / ms)
    rec(`${t.root}\tgateway CPU s/GiB`, (g.user + g.system) / 1e6 / gib)
    rec(`${t.root}\tgateway sys s/GiB`, g.system / 1e6 / gib)
    rec(`${t.root}\tnodes CPU s/GiB`, (nodesCpu(t) - n0) / gib)
  }
  console.error(`round ${r} load ${os.loadavg()[0]!.toFixed(1)}`)
}
for (const t of targets) {
  t.close()
  await Promise.all(t.nodes.map(stopNode))
  rmSync(t.tmp, { recursive: true, force: true })
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!
console.log(`${SHARDS} shards of ${SHARD} bytes per object, ${OBJECTS} objects per round, ${ROUNDS} rounds`)
for (const [k, v] of Object.entries(res))
  console.log(`${k}\tmedian ${med(v).toFixed(2)}\tall ${v.map((x) => x.toFixed(2)).join(' ')}`)
console.log(
  `load ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
)
