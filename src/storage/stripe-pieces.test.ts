import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { PoisonPool } from '../util/byte-pool.testkit.ts'
import type { PieceStream } from '../util/streams.ts'
import { createBlockChecksum } from './block-checksum.ts'
import type { ErasureCodec } from './codec.ts'
import { createSimdCodec } from './codec-simd.ts'
import { makeRig, nodePlatform, pseudoRandom, type Rig, testCodec } from './erasure-storage.testkit.ts'
import { blockSeeds, encodeShardHeader, encodeTrailer, shardName } from './shard-format.ts'
import { type PieceStripe, StripeCutter } from './stripe-pieces.ts'

const KiB = 1024
const K = 4
const M = 2

const simd = createSimdCodec({ simd: readFileSync(join(import.meta.dirname, '..', '..', 'wasm', 'rs-simd.wasm')) })

/**
 * The shard files as the writer made them before stripes were cut from pieces: the body joined
 * into k × blockSize stripes, the last one zero-padded to k blocks of ceil(its length / k), parity
 * from the codec, each block followed by its bound CRC32, between header and trailer.
 */
function expectedShards(codec: ErasureCodec, id: string, body: Uint8Array, blockSize: number): Buffer[] {
  const checksum = createBlockChecksum(nodePlatform)
  const headers = Array.from({ length: K + M }, (_, index) =>
    encodeShardHeader({ checksum: checksum.id, index, k: K, m: M, blockSize, id }),
  )
  const parts = headers.map((h) => [h] as Uint8Array[])
  const stripe = K * blockSize
  for (let at = 0, s = 0; at < body.length; at += stripe, s++) {
    const bytes = body.subarray(at, at + stripe)
    const len = Math.ceil(bytes.length / K)
    const padded = new Uint8Array(K * len)
    padded.set(bytes)
    const blocks = Array.from({ length: K }, (_, i) => padded.slice(i * len, (i + 1) * len))
    const parity = Array.from({ length: M }, () => new Uint8Array(len))
    codec.encode(blocks, parity)
    for (const [i, block] of [...blocks, ...parity].entries()) {
      const sum = new Uint8Array(checksum.size)
      checksum.write(block, sum, blockSeeds(checksum, headers[i]!)(s))
      parts[i]!.push(block, sum)
    }
  }
  return parts.map((p, i) => Buffer.concat([...p, encodeTrailer(headers[i]!, body.length)]))
}

/** `body` as a stream of pieces of the given sizes, in turn; a size list in brackets is one batch. */
function piecesOf(body: Uint8Array, sizes: (number | number[])[]): PieceStream {
  const chunks: (Uint8Array | Uint8Array[])[] = []
  let at = 0
  for (let i = 0; at < body.length; i++) {
    const size = sizes[i % sizes.length]!
    if (typeof size === 'number') {
      chunks.push(body.subarray(at, at + size))
      at += size
    } else {
      const batch: Uint8Array[] = []
      for (const n of size) {
        batch.push(body.subarray(at, at + n))
        at += n
      }
      chunks.push(batch)
    }
  }
  let i = 0
  return new ReadableStream<Uint8Array | readonly Uint8Array[]>(
    {
      pull(c) {
        if (i < chunks.length) c.enqueue(chunks[i++]!)
        else c.close()
      },
    },
    { highWaterMark: 0 },
  )
}

describe('stripes from a body of pieces', () => {
  let rig: Rig | undefined
  afterEach(async () => {
    await rig?.destroy()
    rig = undefined
  })

  const shapes: [string, (number | number[])[]][] = [
    ['the whole object in one piece', [Number.MAX_SAFE_INTEGER]],
    ['16 KiB pieces', [16 * KiB]],
    ['64 KiB + 1 pieces', [64 * KiB + 1]],
    ['odd pieces: 1 B, 16 KiB, 64 KiB + 1, 3 B', [1, 16 * KiB, 64 * KiB + 1, 3]],
    ['batches of pieces, empty ones among them', [[16 * KiB, 0, 16, 7 * KiB], 1, [0], [64 * KiB + 1, 1, 300 * KiB]]],
  ]
  // Whole stripes, a short last stripe, and an object shorter than one block.
  const sizes = [4 * 256 * KiB * 3, 4 * 256 * KiB * 2 + 256 * KiB + 12_345, 1000]

  for (const [name, codec, gathers] of [
    ['baseline codec', testCodec(), true],
    ['SIMD codec', simd, true],
    ['stores that do not gather pieces (nodes)', simd, false],
  ] as const) {
    it(`${name}: the shard files are byte for byte those of a joined stripe, for every piece shape`, async () => {
      rig = await makeRig({ codec, blockSize: 256 * KiB, wrap: (s) => ({ ...s, gathers }) })
      for (const size of sizes) {
        const body = pseudoRandom(size, size)
        for (const [s, [shape, pieces]] of shapes.entries()) {
          const id = `w${size}-${s}`
          const { layout } = await rig.storage.write(id, piecesOf(body, pieces))
          const want = expectedShards(codec, id, body, 256 * KiB)
          for (let i = 0; i < K + M; i++) {
            const got = readFileSync(rig.shardPath(layout.stores[i]!, shardName(id, i)))
            expect(got.equals(want[i]!), `${size} B, ${shape}, shard ${i}`).toBe(true)
          }
        }
      }
    })
  }

  it('copies each piece as it is read: a producer that refills one buffer for every piece still gets exact shards', async () => {
    // Every piece is the same buffer, refilled at the next pull: any piece the writer kept past
    // the read that delivered it would reach a shard with the next piece's bytes.
    rig = await makeRig({ codec: simd, blockSize: 64 * KiB })
    const body = pseudoRandom(3 * 4 * 64 * KiB + 7 * KiB + 1, 21)
    const reused = new Uint8Array(16 * KiB + 3)
    let at = 0
    const producer = new ReadableStream<Uint8Array>(
      {
        pull(c) {
          if (at >= body.length) return c.close()
          const n = Math.min(reused.length, body.length - at)
          reused.set(body.subarray(at, at + n))
          at += n
          c.enqueue(reused.subarray(0, n))
        },
      },
      { highWaterMark: 0 },
    )
    const { layout } = await rig.storage.write('reused', producer)
    const want = expectedShards(simd, 'reused', body, 64 * KiB)
    for (let i = 0; i < K + M; i++) {
      const got = readFileSync(rig.shardPath(layout.stores[i]!, shardName('reused', i)))
      expect(got.equals(want[i]!), `shard ${i}`).toBe(true)
    }
  })

  it('1-byte pieces, small blocks: the same shard files', async () => {
    rig = await makeRig({ codec: simd, blockSize: 4 * KiB })
    const body = pseudoRandom(2 * 16 * KiB + 5 * KiB + 3, 9)
    const { layout } = await rig.storage.write('ones', piecesOf(body, [1]))
    const want = expectedShards(simd, 'ones', body, 4 * KiB)
    for (let i = 0; i < K + M; i++) {
      const got = readFileSync(rig.shardPath(layout.stores[i]!, shardName('ones', i)))
      expect(got.equals(want[i]!), `shard ${i}`).toBe(true)
    }
  })
})

describe('data and parity blocks from a write pool', () => {
  it('are given back only once written: eight writes at once over one poisoning pool, shard files exact', async () => {
    const pool = new PoisonPool(1024 * 1024, true)
    const rig = await makeRig({ codec: simd, blockSize: 64 * KiB, writePool: pool })
    try {
      const bodies = Array.from({ length: 8 }, (_, i) => pseudoRandom(6 * 4 * 64 * KiB + 999 * i, 100 + i))
      const writes = await Promise.all(
        bodies.map((b, i) => rig.storage.write(`pool${i}`, piecesOf(b, [16 * KiB + 16, [1, 64 * KiB, 5]]))),
      )
      for (const [w, { layout }] of writes.entries()) {
        const want = expectedShards(simd, `pool${w}`, bodies[w]!, 64 * KiB)
        for (let i = 0; i < K + M; i++) {
          const got = readFileSync(rig.shardPath(layout.stores[i]!, shardName(`pool${w}`, i)))
          expect(got.equals(want[i]!), `write ${w}, shard ${i}`).toBe(true)
        }
      }
      // Not vacuous: every full stripe's data and parity blocks were leased and came back, and
      // buffers went round; so did the short last block seven of the writes end in.
      expect(pool.leases).toBe(8 * 6 * (K + M) + 7)
      expect(pool.returned).toBe(pool.leases)
      expect(pool.idleBytes).toBeLessThan(pool.leases * 64 * KiB)
    } finally {
      await rig.destroy()
    }
  })

  it('a store that fails the write keeps its blocks from the pool (left to the GC), the others give theirs back', async () => {
    const pool = new PoisonPool(1024 * 1024, true)
    const rig = await makeRig({
      codec: simd,
      blockSize: 64 * KiB,
      writePool: pool,
      wrap: (s, i) =>
        i === 5
          ? {
              ...s,
              put: async (_name: string, body: ReadableStream<Uint8Array>) => {
                await body.cancel(new Error('drive gone'))
                throw new Error('drive gone')
              },
            }
          : s,
    })
    try {
      const body = pseudoRandom(5 * 4 * 64 * KiB, 5)
      const { layout, degraded } = await rig.storage.write('failing', piecesOf(body, [16 * KiB]))
      expect(degraded).toEqual(['d5'])
      const want = expectedShards(simd, 'failing', body, 64 * KiB)
      for (let i = 0; i < K + M; i++) {
        if (layout.stores[i] === 'd5') continue
        const got = readFileSync(rig.shardPath(layout.stores[i]!, shardName('failing', i)))
        expect(got.equals(want[i]!), `shard ${i}`).toBe(true)
      }
      expect(pool.returned).toBeLessThanOrEqual(pool.leases)
    } finally {
      await rig.destroy()
    }
  })
})

describe('StripeCutter', () => {
  it('hands on views of the pieces, cut only at stripe edges', async () => {
    const body = pseudoRandom(10 * KiB + 5, 3)
    const cutter = new StripeCutter(piecesOf(body, [3 * KiB, [1, 0, 2 * KiB]]).getReader(), 4 * KiB)
    const stripes: PieceStripe[] = []
    for (let s = await cutter.next(); s; s = await cutter.next()) stripes.push(s)
    expect(stripes.map((s) => s.length)).toEqual([4 * KiB, 4 * KiB, 2 * KiB + 5])
    for (const s of stripes) {
      expect(s.pieces.every((p) => p.length > 0 && p.buffer === body.buffer)).toBe(true)
      expect(s.pieces.reduce((n, p) => n + p.length, 0)).toBe(s.length)
    }
    expect(Buffer.concat(stripes.flatMap((s) => s.pieces)).equals(body)).toBe(true)
  })
})
