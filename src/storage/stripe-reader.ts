/**
 * The erasure read path: a byte range → stripes → the data blocks that hold it; parity is read
 * and decoded only for stripes where a data block is missing, late or corrupt. Which blocks are
 * good is decided per stripe, so any k good blocks of each stripe suffice. Pull-based.
 */
import { releaseBytes } from '../util/byte-pool.ts'
import { BlockCursor, BlockError } from './block-cursor.ts'
import { erasureLayout, geometryOf, offsetsOf, QuorumError, shardTarget, type EngineContext } from './erasure-common.ts'
import { blockLength, checkRange, sliceOf, stripeSpan, type StripeSlice } from './geometry.ts'
import type { DataLayout, ReadOptions } from './object-storage.ts'

/** Stripes read ahead of the consumer: bounded memory per read (2 MiB at 4+2, 256 KiB blocks). */
const READ_AHEAD_STRIPES = 2

export function readRange(
  ctx: EngineContext,
  dataLayout: DataLayout,
  start: number,
  end: number,
  opts: ReadOptions = {},
): ReadableStream<Uint8Array> {
  const layout = erasureLayout(dataLayout)
  const g = geometryOf(layout)
  checkRange(g, start, end)
  if (start === end) return new ReadableStream({ start: (c) => c.close() })
  const { k, m } = layout
  const n = k + m
  const checksum = ctx.checksumFor(layout.checksum)
  const o = offsetsOf(layout, checksum)
  const { first, last } = stripeSpan(g, start, end)
  const cursors = Array.from(
    { length: n },
    (_, i) =>
      new BlockCursor(
        shardTarget(ctx, layout, i, checksum),
        g,
        o,
        checksum,
        last,
        ctx.readTimeoutMs,
        ctx.blockPool,
        opts.verify !== false,
      ),
  )
  /** Shards found missing, down or late: never asked again during this read. */
  const dropped = new Set<number>()
  /**
   * Shards with a block that failed its checksum (bitrot, a truncated file, or bytes of another
   * shard): their other blocks may well be good, so they stay usable, but only as a last resort,
   * after every shard not known to be damaged. Which blocks are good is decided per stripe.
   */
  const suspect = new Set<number>()
  let stripe = first
  let finished = false

  function finish(reason?: unknown): void {
    if (finished) return
    finished = true
    // dispose, not close: a pull still in flight may yet try a replacement block, and must not
    // open a stream after this (nothing would cancel it).
    for (const c of cursors) c.dispose(reason)
    const bad = new Set([...dropped, ...suspect])
    if (bad.size > 0 && ctx.onDegraded) {
      try {
        ctx.onDegraded(
          layout,
          [...bad].sort((a, b) => a - b),
        )
      } catch {
        // A failing healer queue must not fail the read.
      }
    }
  }

  /**
   * The blocks of stripe `slice.stripe` needed for its bytes: the wanted data blocks when all are
   * good; else any k good blocks of this stripe (healthy shards first, data before parity, then
   * shards damaged elsewhere), decoded. A replacement read starts the moment a block fails, not
   * after the rest of its batch: with a node known down the failure is immediate, and the read
   * should not wait a round trip to learn it.
   */
  async function stripeBlocks(slice: StripeSlice): Promise<(Uint8Array | undefined)[]> {
    const s = slice.stripe
    const blocks: (Uint8Array | undefined)[] = new Array(n)
    const wanted: number[] = []
    for (let i = slice.firstBlock; i <= slice.lastBlock; i++) wanted.push(i)
    const tried = new Set<number>()
    const failed: number[] = []
    const inflight = new Map<number, Promise<number>>()
    const launch = (i: number) => {
      tried.add(i)
      const read = cursors[i]!.read(s).then(
        (block) => {
          blocks[i] = block
          return i
        },
        (err: unknown) => {
          if (!(err instanceof BlockError)) throw err
          failed.push(i)
          if (err.fault === 'corrupt') suspect.add(i)
          else dropped.add(i)
          cursors[i]!.close()
          return i
        },
      )
      inflight.set(i, read)
    }
    const usable = (i: number) => !dropped.has(i) && !suspect.has(i)
    // Systematic code: when the data blocks are healthy they are the answer, no decoding.
    for (const i of wanted) if (usable(i)) launch(i)
    try {
      for (;;) {
        // Cancelled (or failed) meanwhile: the blocks in flight were cut by it; try no others.
        if (finished) throw new Error(`read of ${layout.id} ended`)
        const degraded = wanted.some((i) => !blocks[i] && !inflight.has(i))
        if (!degraded && wanted.every((i) => blocks[i])) return blocks
        if (degraded) {
          let have = 0
          for (let i = 0; i < n; i++) if (blocks[i]) have++
          if (have >= k) break
          const fresh: number[] = []
          const damaged: number[] = []
          for (let i = 0; i < n; i++) {
            if (tried.has(i) || dropped.has(i)) continue
            ;(suspect.has(i) ? damaged : fresh).push(i)
          }
          const candidates = [...fresh, ...damaged]
          if (have + inflight.size + candidates.length < k) {
            throw new QuorumError(
              `cannot read ${layout.id}: stripe ${s} has ${have} good blocks of the ${k} needed (failed here: ${failed.join(', ')}; down: ${[...dropped].join(', ') || 'none'})`,
              have,
              k,
            )
          }
          for (const i of candidates.slice(0, Math.max(0, k - have - inflight.size))) launch(i)
        }
        inflight.delete(await Promise.race(inflight.values()))
      }
    } finally {
      // Reads launched but not needed any more still settle before the blocks are handed on.
      await Promise.allSettled(inflight.values())
    }
    const present = Array.from(blocks, Boolean) // not map: it would keep the array's holes
    // The rebuilt data blocks go into pooled buffers, each leased for the one view handed on
    // (pull() below) or released right after (rebuilt outside the range): a degraded GET then
    // allocates no fresh buffer per stripe, as a healthy one does not (docs/architecture.md §8).
    if (ctx.blockPool) {
      const len = blockLength(g, s)
      for (let i = 0; i < k; i++) if (!present[i]) blocks[i] = ctx.blockPool.lease(len, 1)
    }
    const out = ctx.codec.reconstruct(blocks, present, k, true)
    // Blocks read or rebuilt only to decode (parity, data outside the range) are handed to no one:
    // their one view is released here, so pooled shard reads go back like a healthy read's.
    for (let i = 0; i < n; i++) if ((i < slice.firstBlock || i > slice.lastBlock) && out[i]) releaseBytes(out[i]!)
    return out
  }

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          if (stripe > last) {
            finish()
            return controller.close()
          }
          const slice = sliceOf(g, stripe, start, end)
          const blocks = await stripeBlocks(slice)
          if (finished) return
          const bl = blockLength(g, stripe)
          // Hand out views of the blocks: no copy into a stripe buffer.
          for (let i = slice.firstBlock; i <= slice.lastBlock; i++) {
            const from = Math.max(slice.from - i * bl, 0)
            const to = Math.min(slice.to - i * bl, bl)
            controller.enqueue(blocks[i]!.subarray(from, to))
          }
          stripe++
          if (stripe > last) {
            finish()
            controller.close()
          }
        } catch (err) {
          finish(err)
          throw err
        }
      },
      cancel(reason) {
        finish(reason)
      },
    },
    // Counted in bytes, two stripes ahead: the next stripes' disk or node reads overlap the
    // consumer's decrypting and sending of this one. (Counted in chunks, a stripe's k blocks
    // would fill the queue and the next read would start only once the consumer had drained it.)
    { highWaterMark: READ_AHEAD_STRIPES * k * g.blockSize, size: (chunk) => chunk.byteLength },
  )
}
