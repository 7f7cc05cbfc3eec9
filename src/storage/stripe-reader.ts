/**
 * The erasure read path: a byte range → stripes → the data blocks that hold it; parity is read
 * and decoded only for stripes where a data block is missing, late or corrupt. Pull-based.
 */
import { BlockCursor, BlockError } from './block-cursor.ts'
import { erasureLayout, geometryOf, offsetsOf, QuorumError, type EngineContext } from './erasure-common.ts'
import { blockLength, checkRange, sliceOf, stripeSpan, type StripeSlice } from './geometry.ts'
import type { DataLayout } from './object-storage.ts'
import { shardName } from './shard-format.ts'

export function readRange(ctx: EngineContext, dataLayout: DataLayout, start: number, end: number): ReadableStream<Uint8Array> {
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
        { index: i, name: shardName(layout.id, i), store: ctx.stores.get(layout.stores[i]!), storeId: layout.stores[i]! },
        g,
        o,
        checksum,
        last,
        ctx.readTimeoutMs,
      ),
  )
  /** Shards found missing, late or corrupt during this read: never asked again, reported once. */
  const bad = new Set<number>()
  let stripe = first
  let finished = false

  function finish(reason?: unknown): void {
    if (finished) return
    finished = true
    for (const c of cursors) c.close(reason)
    if (bad.size > 0 && ctx.onDegraded) {
      try {
        ctx.onDegraded(layout, [...bad].sort((a, b) => a - b))
      } catch {
        // A failing healer queue must not fail the read.
      }
    }
  }

  /** Reads the given shards' blocks of stripe `s` in parallel; failures mark the shard bad. */
  async function readBlocks(s: number, shards: number[], into: (Uint8Array | undefined)[]): Promise<void> {
    await Promise.all(
      shards.map(async (i) => {
        try {
          into[i] = await cursors[i]!.read(s)
        } catch (err) {
          if (!(err instanceof BlockError)) throw err
          bad.add(i)
          cursors[i]!.close()
        }
      }),
    )
  }

  async function stripeBlocks(slice: StripeSlice): Promise<(Uint8Array | undefined)[]> {
    const s = slice.stripe
    const blocks: (Uint8Array | undefined)[] = new Array(n)
    const wanted: number[] = []
    for (let i = slice.firstBlock; i <= slice.lastBlock; i++) wanted.push(i)
    // Systematic code: when the data blocks are healthy they are the answer, no decoding.
    await readBlocks(s, wanted.filter((i) => !bad.has(i)), blocks)
    if (wanted.every((i) => blocks[i])) return blocks
    // Degraded: gather any k good blocks (other data blocks first, then parity) and decode.
    const tried = new Set(wanted)
    for (;;) {
      let have = 0
      for (let i = 0; i < n; i++) if (blocks[i]) have++
      if (have >= k) break
      const candidates: number[] = []
      for (let i = 0; i < n; i++) if (!tried.has(i) && !bad.has(i)) candidates.push(i)
      if (have + candidates.length < k) {
        throw new QuorumError(
          `cannot read ${layout.id}: stripe ${s} has ${have} good shards of the ${k} needed (bad: ${[...bad].join(', ')})`,
          have,
          k,
        )
      }
      const batch = candidates.slice(0, k - have)
      for (const i of batch) tried.add(i)
      await readBlocks(s, batch, blocks)
    }
    const present = Array.from(blocks, Boolean) // not map: it would keep the array's holes
    return ctx.codec.reconstruct(blocks, present, k, true)
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
    // One stripe ahead: the next stripe's reads overlap the consumer's handling of this one.
    { highWaterMark: 1 },
  )
}
