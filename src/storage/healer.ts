/**
 * Verification and healing of one erasure-coded payload: check every shard (header, each block's
 * checksum, trailer), rebuild the missing or corrupt ones from k good shards, write them back.
 */
import { BlockCursor, BlockError, ExactReader } from './block-cursor.ts'
import { erasureLayout, geometryOf, offsetsOf, QuorumError, withTimeout, type EngineContext } from './erasure-common.ts'
import { blockLength, stripeCount } from './geometry.ts'
import type { DataLayout, ErasureLayout } from './object-storage.ts'
import {
  encodeShardHeader,
  encodeTrailer,
  parseShardHeader,
  parseTrailer,
  shardFileLength,
  ShardFormatError,
  shardName,
  TRAILER_LENGTH,
} from './shard-format.ts'
import { ShardSink } from './shard-sink.ts'
import { ShardNotFound } from './shard-store.ts'

/** ok; missing (no file); corrupt (bad header, block or trailer, wrong length); unavailable (store gone, down or too slow). */
export type ShardState = 'ok' | 'missing' | 'corrupt' | 'unavailable'

export interface ShardCheck {
  index: number
  store: string
  state: ShardState
  detail?: string
}

export interface HealResult {
  /** Shards rebuilt and stored back on their store. */
  rebuilt: number[]
  /** Bad shards left for later: their store is not configured, or writing back failed. */
  pending: number[]
  /** What verification found before healing. */
  checks: ShardCheck[]
}

class Bad extends Error {
  constructor(
    readonly state: ShardState,
    message: string,
  ) {
    super(message)
  }
}

/** Reads one shard whole, one block at a time, and says whether every byte of it is as written. */
async function checkShard(ctx: EngineContext, layout: ErasureLayout, index: number): Promise<ShardCheck> {
  const storeId = layout.stores[index]!
  const store = ctx.stores.get(storeId)
  const name = shardName(layout.id, index)
  const result = (state: ShardState, detail?: string): ShardCheck =>
    detail ? { index, store: storeId, state, detail } : { index, store: storeId, state }
  if (!store) return result('unavailable', `store ${storeId} is not configured`)
  const checksum = ctx.checksumFor(layout.checksum)
  const g = geometryOf(layout)
  const o = offsetsOf(layout, checksum)
  const expected = shardFileLength(g, o)
  const timed = <T>(p: Promise<T>, what: string) =>
    withTimeout(
      p,
      ctx.readTimeoutMs,
      () => new Bad('unavailable', `${what} of ${name} on ${storeId} took over ${ctx.readTimeoutMs} ms`),
    )
  let input: ExactReader | undefined
  try {
    const actual = await timed(store.stat(name), 'stat')
    if (actual === undefined) return result('missing')
    if (actual !== expected) return result('corrupt', `${actual} bytes, expected ${expected}`)
    input = new ExactReader(store.get(name, 0, expected).getReader())
    const take = async (len: number, what: string) => {
      const bytes = await timed(input!.read(len), what)
      if (!bytes) throw new Bad('corrupt', `${name} ended early (${what})`)
      return bytes
    }
    const header = await take(o.headerLength, 'header')
    const h = parseShardHeader(header)
    if (
      h.id !== layout.id ||
      h.index !== index ||
      h.k !== layout.k ||
      h.m !== layout.m ||
      h.blockSize !== layout.blockSize ||
      h.checksum !== layout.checksum
    ) {
      return result('corrupt', 'header does not match the layout')
    }
    for (let s = 0; s < stripeCount(g); s++) {
      const len = blockLength(g, s)
      const bytes = await take(len + o.checksumSize, `stripe ${s}`)
      if (!checksum.check(bytes.subarray(0, len), bytes.subarray(len)))
        return result('corrupt', `checksum mismatch at stripe ${s}`)
    }
    const size = parseTrailer(header, await take(TRAILER_LENGTH, 'trailer'))
    if (size !== layout.size) return result('corrupt', `trailer records ${size} bytes, layout ${layout.size}`)
    return result('ok')
  } catch (err) {
    if (err instanceof Bad) return result(err.state, err.message)
    if (err instanceof ShardNotFound) return result('missing')
    if (err instanceof ShardFormatError) return result('corrupt', err.message)
    return result('unavailable', (err as Error)?.message ?? String(err))
  } finally {
    input?.cancel()
  }
}

/** Checks all k+m shards in parallel (one block in memory per shard). For the scrubber. */
export async function verifyShards(ctx: EngineContext, dataLayout: DataLayout): Promise<ShardCheck[]> {
  const layout = erasureLayout(dataLayout)
  return Promise.all(layout.stores.map((_, i) => checkShard(ctx, layout, i)))
}

export async function heal(ctx: EngineContext, dataLayout: DataLayout): Promise<HealResult> {
  const layout = erasureLayout(dataLayout)
  const { k, m, id, blockSize } = layout
  const n = k + m
  const checks = await verifyShards(ctx, layout)
  const good = checks.filter((c) => c.state === 'ok').map((c) => c.index)
  const bad = checks.filter((c) => c.state !== 'ok')
  if (bad.length === 0) return { rebuilt: [], pending: [], checks }
  if (good.length < k)
    throw new QuorumError(`cannot heal ${id}: ${good.length} good shards of the ${k} needed`, good.length, k)
  const targets = bad.filter((c) => ctx.stores.has(c.store))
  const pending = bad.filter((c) => !ctx.stores.has(c.store)).map((c) => c.index)
  if (targets.length === 0) return { rebuilt: [], pending, checks }

  const checksum = ctx.checksumFor(layout.checksum)
  const g = geometryOf(layout)
  const o = offsetsOf(layout, checksum)
  const stripes = stripeCount(g)
  const sinks = targets.map(
    (c) => new ShardSink(c.index, ctx.stores.get(c.store)!, shardName(id, c.index), 2 * blockSize),
  )
  const header = (i: number) => encodeShardHeader({ checksum: layout.checksum, index: i, k, m, blockSize, id })
  for (const s of sinks) s.push(header(s.index))
  const cursors = new Map(
    good.map((i) => [
      i,
      new BlockCursor(
        { index: i, name: shardName(id, i), store: ctx.stores.get(layout.stores[i]!), storeId: layout.stores[i]! },
        g,
        o,
        checksum,
        stripes - 1,
        ctx.readTimeoutMs,
      ),
    ]),
  )
  const failed = new Set<number>()
  try {
    for (let s = 0; s < stripes; s++) {
      const blocks: (Uint8Array | undefined)[] = new Array(n)
      const tried = new Set<number>()
      for (;;) {
        let have = 0
        for (let i = 0; i < n; i++) if (blocks[i]) have++
        if (have >= k) break
        const batch = good.filter((i) => !tried.has(i) && !failed.has(i)).slice(0, k - have)
        if (batch.length < k - have)
          throw new QuorumError(`cannot heal ${id}: stripe ${s} has too few good shards`, have, k)
        await Promise.all(
          batch.map(async (i) => {
            tried.add(i)
            try {
              blocks[i] = await cursors.get(i)!.read(s)
            } catch (err) {
              if (!(err instanceof BlockError)) throw err
              failed.add(i)
            }
          }),
        )
      }
      const all = ctx.codec.reconstruct(blocks, Array.from(blocks, Boolean), k)
      for (const sink of sinks) {
        const sum = new Uint8Array(checksum.size)
        checksum.write(all[sink.index]!, sum)
        sink.push(all[sink.index]!)
        sink.push(sum)
      }
      await Promise.all(sinks.map((sink) => sink.ready(ctx.writeTimeoutMs)))
    }
  } catch (err) {
    // Nothing half-rebuilt replaces anything: the stores discard the temp files.
    for (const sink of sinks) sink.fail(err)
    await Promise.all(
      sinks.map((sink) => withTimeout(sink.done, ctx.writeTimeoutMs, () => new Error('no answer')).catch(() => false)),
    )
    throw err
  } finally {
    for (const c of cursors.values()) c.close()
  }
  for (const sink of sinks) {
    sink.push(encodeTrailer(header(sink.index), layout.size))
    sink.close()
  }
  const stored = await Promise.all(
    sinks.map((sink) => withTimeout(sink.done, ctx.writeTimeoutMs, () => new Error('timeout')).catch(() => false)),
  )
  const rebuilt = sinks.filter((_, i) => stored[i]).map((s) => s.index)
  pending.push(...sinks.filter((_, i) => !stored[i]).map((s) => s.index))
  return { rebuilt: rebuilt.sort((a, b) => a - b), pending: pending.sort((a, b) => a - b), checks }
}

/**
 * The cheap check: each shard's existence and exact length (one stat per shard, no data read).
 * Finds emptied drives and lost nodes; bitrot needs verifyShards.
 */
export async function probeShards(ctx: EngineContext, dataLayout: DataLayout): Promise<ShardCheck[]> {
  const layout = erasureLayout(dataLayout)
  const expected = shardFileLength(geometryOf(layout), offsetsOf(layout, ctx.checksumFor(layout.checksum)))
  return Promise.all(
    layout.stores.map(async (storeId, index): Promise<ShardCheck> => {
      const store = ctx.stores.get(storeId)
      if (!store) return { index, store: storeId, state: 'unavailable', detail: `store ${storeId} is not configured` }
      try {
        const size = await withTimeout(
          store.stat(shardName(layout.id, index)),
          ctx.readTimeoutMs,
          () => new Error('stat timed out'),
        )
        if (size === undefined) return { index, store: storeId, state: 'missing' }
        return size === expected
          ? { index, store: storeId, state: 'ok' }
          : { index, store: storeId, state: 'corrupt', detail: `${size} bytes, expected ${expected}` }
      } catch (e) {
        return { index, store: storeId, state: 'unavailable', detail: e instanceof Error ? e.message : String(e) }
      }
    }),
  )
}
