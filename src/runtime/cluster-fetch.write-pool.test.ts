/**
 * Six-node writes give their pooled blocks back (cluster-fetch.ts sendBody): the stripe writer's
 * parity and joined data blocks go to six in-process storage nodes over real mutual TLS, one of
 * them slow, through a write pool that poisons every buffer given back — the pool must be refilled,
 * and every stored shard must still verify (a block given back before its socket write would be
 * leased again and overwritten while queued).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createErasureStorage, type ErasureStorage } from '../storage/erasure-storage.ts'
import { nodePlatform, pseudoRandom, sha256, hashStream, testCodec } from '../storage/erasure-storage.testkit.ts'
import type { ErasureLayout } from '../storage/object-storage.ts'
import { createRemoteStore } from '../storage/remote/client.ts'
import type { BytePool } from '../util/byte-pool.ts'
import { PoisonPool } from '../util/byte-pool.testkit.ts'
import { silentLogger } from '../util/log.ts'
import { initCluster } from './cluster.ts'
import { type ClusterFetchHandle, createGatewayFetch } from './cluster-fetch.ts'
import { nodeAdapter } from './node.ts'
import { type StorageNode, startStorageNode } from './storage-node.ts'

const KiB = 1024
const BLOCK = 64 * KiB
const K = 4
const M = 2
/** The slow node's proxy takes one chunk (≤ 64 KiB) from the gateway every this many ms. */
const SLOW_CHUNK_MS = 3

/**
 * A TCP relay in front of a node that reads from the gateway slowly: a chunk, then a pause. The
 * gateway's socket fills, so whole blocks wait in its queues behind the node (TLS passes through
 * untouched). `cut()` drops every connection it relays.
 */
async function slowRelay(target: number): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const node = createConnection(target, '127.0.0.1')
    sockets.add(client).add(node)
    const end = () => {
      client.destroy()
      node.destroy()
      sockets.delete(client)
      sockets.delete(node)
    }
    client.on('error', end).on('close', end)
    node.on('error', end).on('close', end)
    node.pipe(client)
    client.on('data', (d) => {
      node.write(d)
      client.pause()
      setTimeout(() => client.resume(), SLOW_CHUNK_MS)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as AddressInfo).port,
    cut: () => {
      for (const s of sockets) s.destroy()
    },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server.close(r))
    },
  }
}

/** `body` as a stream of pieces of `piece` bytes (the body's own views). */
function pieces(body: Uint8Array, piece: number): ReadableStream<Uint8Array> {
  let at = 0
  return new ReadableStream({
    pull(c) {
      if (at >= body.length) return c.close()
      c.enqueue(body.subarray(at, at + piece))
      at += piece
    },
  })
}

let dir: string
let nodes: StorageNode[] = []
let relay: Awaited<ReturnType<typeof slowRelay>>
let fetch: ClusterFetchHandle
let urls: string[]

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-write-pool-'))
  const cluster = await initCluster(join(dir, 'cluster.json'))
  const quiet = { out: () => {}, err: () => {} }
  nodes = await Promise.all(
    Array.from({ length: K + M }, (_, i) =>
      startStorageNode(
        { clusterFile: cluster.path, dataDir: join(dir, `n${i}`), port: 0, host: '127.0.0.1' },
        nodeAdapter(),
        quiet,
        { cluster, logger: silentLogger },
      ),
    ),
  )
  relay = await slowRelay(Number(new URL(nodes[0]!.endpoint).port))
  urls = nodes.map((n, i) => (i === 0 ? `https://127.0.0.1:${relay.port}` : n.endpoint))
  fetch = await createGatewayFetch(cluster)
})

afterAll(async () => {
  fetch?.close()
  await relay?.close()
  await Promise.all(nodes.map((n) => n.stop()))
  await rm(dir, { recursive: true, force: true })
})

/** Erasure storage over the six nodes (node 0 behind the slow relay), blocks from `pool`. */
function storageOver(pool: BytePool): ErasureStorage {
  const stores = urls.map((url, i) => createRemoteStore({ url, id: `node${i}`, fetch, timeoutMs: 20_000 }))
  return createErasureStorage({
    stores,
    k: K,
    m: M,
    blockSize: BLOCK,
    codec: testCodec(),
    platform: nodePlatform,
    readTimeoutMs: 20_000,
    writeTimeoutMs: 20_000,
    writePool: pool,
  })
}

/** Polls `check` (bounded): the last socket write's callback may run just after the node answered. */
async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 10))
  return check()
}

describe('six-node writes and the write pool', () => {
  it('give every pooled block back once its socket write is done: pool refilled, every shard verifies', async () => {
    const pool = new PoisonPool(64 * BLOCK, true)
    const storage = storageOver(pool)
    const stripes = 24
    const bodies = Array.from({ length: 6 }, (_, i) => pseudoRandom(stripes * K * BLOCK + 777 * i, 40 + i))
    const layouts = await Promise.all(
      bodies.map(async (b, i) => (await storage.write(`wp${i}`, pieces(b, 16 * KiB + 16))).layout as ErasureLayout),
    )
    // Every full stripe leased k data blocks (the pieces copied into them) and m parity blocks,
    // each for one shard, and each came back; so did the short last block five writes end in.
    expect(pool.leases).toBe(bodies.length * stripes * (K + M) + 5)
    expect(await eventually(() => pool.returned === pool.leases)).toBe(true)
    expect(pool.idleBytes).toBeGreaterThan(0)
    for (const [i, layout] of layouts.entries()) {
      // Stored bytes, shard by shard: a block overwritten while queued fails its CRC32 here.
      const checks = await storage.verifyShards(layout)
      expect(
        checks.filter((c) => c.state !== 'ok').map((c) => `${c.store}: ${c.state} ${c.detail ?? ''}`),
        `write ${i}`,
      ).toEqual([])
      const back = await hashStream(storage.read(layout, 0, layout.size))
      expect(back).toEqual({ sha256: sha256(bodies[i]!), length: bodies[i]!.length })
    }
  })

  it('a node whose connection is cut mid-shard keeps its blocks (left to the GC); the other shards verify', async () => {
    const pool = new PoisonPool(64 * BLOCK, true)
    const storage = storageOver(pool)
    const body = pseudoRandom(32 * K * BLOCK, 77)
    let sent = 0
    const cutting = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= body.length) return c.close()
        const piece = body.subarray(sent, sent + 16 * KiB + 16)
        sent += piece.length
        if (sent > body.length / 3 && sent - piece.length <= body.length / 3) relay.cut()
        c.enqueue(piece)
      },
    })
    const { layout, degraded } = await storage.write('wpcut', cutting)
    expect(degraded).toEqual(['node0'])
    // Node 0's blocks queued at the cut (and its parity of later stripes, if it held a parity
    // shard) are never given back; the other five shards' all are.
    expect(pool.returned).toBeGreaterThan(0)
    expect(pool.returned).toBeLessThan(pool.leases)
    const checks = await storage.verifyShards(layout as ErasureLayout)
    expect(checks.filter((c) => c.store !== 'node0' && c.state !== 'ok')).toEqual([])
    const back = await hashStream(storage.read(layout, 0, layout.size))
    expect(back).toEqual({ sha256: sha256(body), length: body.length })
  })
})
