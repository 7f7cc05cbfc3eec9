/**
 * TEST ONLY: fixtures for the erasure storage tests — six DiskStores over temp dirs, the wasm
 * codec, a node CRC32 platform, faulty-store wrappers and hashing. Never imported by src code.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { BytePool } from '../util/byte-pool.ts'
import type { ErasureCodec } from './codec.ts'
import { createWasmCodec } from './codec-wasm.ts'
import { createDiskStore, fanOut } from './disk-store.ts'
import { createErasureStorage, type ErasureStorage, type ErasureStorageOptions } from './erasure-storage.ts'
import type { ShardStore } from './shard-store.ts'
import { createTestDisk, type TestDisk } from './disk.testkit.ts'

let codec: ErasureCodec | undefined
export function testCodec(): ErasureCodec {
  if (!codec) {
    const pkg = createRequire(import.meta.url).resolve('@subspace/reed-solomon-erasure.wasm/package.json')
    codec = createWasmCodec(readFileSync(join(dirname(pkg), 'dist', 'reed_solomon_erasure_bg.wasm')))
  }
  return codec
}

export const nodePlatform = { crc32: (data: Uint8Array, previous: number) => crc32(data, previous) }

export interface Rig {
  disks: TestDisk[]
  stores: ShardStore[]
  storage: ErasureStorage
  /** Absolute path of a shard file on its disk. */
  shardPath(storeId: string, name: string): string
  destroy(): Promise<void>
}

/** `n` DiskStores (ids "d0".."d5") under fresh temp dirs; `wrap` can make some of them faulty. */
export async function makeRig(
  opts: Partial<ErasureStorageOptions> & {
    n?: number
    wrap?: (s: ShardStore, i: number) => ShardStore
    /** Shard reads into pooled buffers, as the server's drives do. */
    readPool?: BytePool
  } = {},
): Promise<Rig> {
  const n = opts.n ?? 6
  const disks: TestDisk[] = []
  for (let i = 0; i < n; i++) disks.push(await createTestDisk())
  const stores = disks.map((d, i) => {
    const s = createDiskStore(`d${i}`, d, { readPool: opts.readPool })
    return opts.wrap ? opts.wrap(s, i) : s
  })
  const storage = createErasureStorage({
    k: 4,
    m: 2,
    codec: testCodec(),
    platform: nodePlatform,
    readTimeoutMs: 2000,
    writeTimeoutMs: 5000,
    ...opts,
    stores,
  })
  return {
    disks,
    stores,
    storage,
    shardPath: (storeId, name) => join(disks[Number(storeId.slice(1))]!.root, 'shards', fanOut(name), name),
    destroy: async () => {
      for (const d of disks) await d.destroy()
    },
  }
}

/** Every shard name on each store. */
export async function listShards(stores: readonly ShardStore[]): Promise<string[]> {
  const out: string[] = []
  for (const s of stores) for await (const name of s.list()) out.push(`${s.id}/${name}`)
  return out.sort()
}

/** Deterministic pseudo-random bytes (xorshift32): fast for tens of MiB, reproducible. */
export function pseudoRandom(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length)
  const words = new Uint32Array(out.buffer, 0, length >>> 2)
  let x = seed * 2654435761 || 1
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    words[i] = x >>> 0
  }
  for (let i = words.length * 4; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Hashes a stream without keeping it; returns the digest and byte count. */
export async function hashStream(stream: ReadableStream<Uint8Array>): Promise<{ sha256: string; length: number }> {
  const h = createHash('sha256')
  let length = 0
  const reader = stream.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    h.update(value)
    length += value.length
  }
  return { sha256: h.digest('hex'), length }
}

/** A store whose every operation fails as if its node were down. */
export function downStore(s: ShardStore): ShardStore {
  const down = () => new Error(`store ${s.id} is down (test)`)
  return {
    id: s.id,
    put: async (_name, body) => {
      await body.cancel().catch(() => {})
      throw down()
    },
    get: () => new ReadableStream({ start: (c) => c.error(down()) }),
    stat: async () => Promise.reject(down()),
    delete: async () => Promise.reject(down()),
    // Listing fails on the first step of iteration, as it does against a dead node.
    list: () => ({ [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(down()) }) }),
    healthy: async () => false,
  }
}

/** A store that accepts connections but never answers reads (a hung node). */
export function hungReads(s: ShardStore): ShardStore {
  return { ...s, get: () => new ReadableStream({ pull: () => new Promise(() => {}) }) }
}

/**
 * Shard streams a store handed out that were read from and are still open: neither read to their
 * end, nor errored, nor cancelled. Over a node, each such stream holds a connection and the node's
 * response (and, read eagerly, whatever the node sends of the rest of the range). Each pull waits
 * for `gate.held` first, so a test can hold blocks on their way.
 */
export function openCounting(
  s: ShardStore,
  open: Set<object>,
  gate: { held: Promise<void> } = { held: Promise.resolve() },
): ShardStore {
  return {
    ...s,
    get(name, offset, length, unit) {
      const inner = s.get(name, offset, length, unit).getReader()
      const token = {}
      return new ReadableStream<Uint8Array>(
        {
          async pull(c) {
            open.add(token)
            await gate.held
            try {
              const r = await inner.read()
              if (r.done) {
                open.delete(token)
                return c.close()
              }
              c.enqueue(r.value)
            } catch (e) {
              open.delete(token)
              throw e
            }
          },
          cancel(reason) {
            open.delete(token)
            return inner.cancel(reason)
          },
        },
        { highWaterMark: 0 },
      )
    },
  }
}
