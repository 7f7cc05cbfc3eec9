/**
 * Verification and healing of one erasure-coded payload: check every shard (header, each block's
 * checksum, trailer), rebuild the missing or corrupt ones stripe by stripe from k good blocks of
 * each stripe, write them back.
 */
import { BlockCursor, BlockError, ExactReader } from './block-cursor.ts'
import {
  erasureLayout,
  geometryOf,
  offsetsOf,
  QuorumError,
  shardHeaderOf,
  shardTarget,
  withTimeout,
  type EngineContext,
} from './erasure-common.ts'
import { blockLength, stripeCount } from './geometry.ts'
import type { DataLayout, ErasureLayout } from './object-storage.ts'
import {
  blockSeeds,
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

/** What a full read of one shard found, and which of its blocks a rebuild may still use. */
export interface Verified {
  check: ShardCheck
  /**
   * Set when the file is this shard (header and length as the layout says) and only some blocks
   * failed their checksum (or only the trailer is damaged): the stripes whose block is bad. Its
   * other blocks are good sources for a rebuild. Unset: no block of the file may be used.
   */
  badStripes?: number[]
}

/** Stripe numbers in a detail message: the first few, then how many more. */
function stripeList(stripes: readonly number[]): string {
  const shown = stripes.slice(0, 8).join(', ')
  return stripes.length > 8 ? `${shown} and ${stripes.length - 8} more` : shown
}

/** Reads one shard whole, one block at a time, and says whether every byte of it is as written. */
export async function checkShard(ctx: EngineContext, layout: ErasureLayout, index: number): Promise<Verified> {
  const storeId = layout.stores[index]!
  const store = ctx.stores.get(storeId)
  const name = shardName(layout.id, index)
  const result = (state: ShardState, detail?: string, badStripes?: number[]): Verified => ({
    check: detail ? { index, store: storeId, state, detail } : { index, store: storeId, state },
    ...(badStripes ? { badStripes } : {}),
  })
  if (!store) return result('unavailable', `store ${storeId} is not configured`)
  const checksum = ctx.checksumFor(layout.checksum)
  const g = geometryOf(layout)
  const o = offsetsOf(layout, checksum)
  const expected = shardFileLength(g, o)
  const expectedHeader = shardHeaderOf(layout, index)
  const seed = blockSeeds(checksum, expectedHeader)
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
    parseShardHeader(header) // a damaged header says so; a valid one must be this shard's own
    if (!sameBytes(header, expectedHeader)) return result('corrupt', 'the header names another shard')
    const badStripes: number[] = []
    for (let s = 0; s < stripeCount(g); s++) {
      const len = blockLength(g, s)
      const bytes = await take(len + o.checksumSize, `stripe ${s}`)
      if (!checksum.check(bytes.subarray(0, len), bytes.subarray(len), seed(s))) badStripes.push(s)
    }
    let trailer: string | undefined
    try {
      const size = parseTrailer(header, await take(TRAILER_LENGTH, 'trailer'))
      if (size !== layout.size) trailer = `trailer records ${size} bytes, layout ${layout.size}`
    } catch (err) {
      if (!(err instanceof ShardFormatError)) throw err
      trailer = err.message
    }
    const problems = [
      ...(badStripes.length > 0 ? [`checksum mismatch at stripe ${stripeList(badStripes)}`] : []),
      ...(trailer ? [trailer] : []),
    ]
    return problems.length === 0 ? result('ok') : result('corrupt', problems.join('; '), badStripes)
  } catch (err) {
    if (err instanceof Bad) return result(err.state, err.message)
    if (err instanceof ShardNotFound) return result('missing')
    if (err instanceof ShardFormatError) return result('corrupt', err.message)
    return result('unavailable', (err as Error)?.message ?? String(err))
  } finally {
    input?.cancel()
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Checks all k+m shards in parallel (one block in memory per shard). For the scrubber. */
export async function verifyShards(ctx: EngineContext, dataLayout: DataLayout): Promise<ShardCheck[]> {
  const layout = erasureLayout(dataLayout)
  return (await Promise.all(layout.stores.map((_, i) => checkShard(ctx, layout, i)))).map((v) => v.check)
}

/**
 * Verifies every shard, then rewrites exactly the bad ones (on their own store), stripe by
 * stripe from any k good blocks of that stripe: a shard with a bad block in one stripe still
 * gives its good blocks to the others, so damage spread over more than m shards heals as long as
 * no single stripe has lost more than m blocks.
 *
 * `only`: rewrite that shard alone, if bad (the rebalance mover's copy onto its target); the other
 * bad shards are read around, never written — a write whose row went meanwhile may be halfway
 * through GC's removal, and a shard rewritten after GC deleted it would belong to nobody.
 */
export async function heal(ctx: EngineContext, dataLayout: DataLayout, only?: number): Promise<HealResult> {
  const layout = erasureLayout(dataLayout)
  const { k, m, id, blockSize } = layout
  const n = k + m
  const verified = await Promise.all(layout.stores.map((_, i) => checkShard(ctx, layout, i)))
  const checks = verified.map((v) => v.check)
  const bad = checks.filter((c) => c.state !== 'ok')
  const rewrite = only === undefined ? bad : bad.filter((c) => c.index === only)
  if (rewrite.length === 0) return { rebuilt: [], pending: [], checks }

  const checksum = ctx.checksumFor(layout.checksum)
  const g = geometryOf(layout)
  const o = offsetsOf(layout, checksum)
  const stripes = stripeCount(g)
  /** Per stripe, the shards whose block verified: healthy shards first, data before parity, then damaged ones. */
  const healthy = verified.filter((v) => v.check.state === 'ok').map((v) => v.check.index)
  const damaged = verified.filter((v) => v.check.state !== 'ok' && v.badStripes).map((v) => v.check.index)
  const sourcesOf = (s: number) => [...healthy, ...damaged.filter((i) => !verified[i]!.badStripes!.includes(s))]
  // Refuse before writing anything when some stripe cannot be rebuilt.
  for (let s = 0; s < stripes; s++) {
    const have = sourcesOf(s).length
    if (have < k)
      throw new QuorumError(`cannot heal ${id}: stripe ${s} has ${have} good blocks of the ${k} needed`, have, k)
  }
  const targets = rewrite.filter((c) => ctx.stores.has(c.store))
  const pending = rewrite.filter((c) => !ctx.stores.has(c.store)).map((c) => c.index)
  if (targets.length === 0) return { rebuilt: [], pending, checks }

  const sinks = targets.map(
    (c) => new ShardSink(c.index, ctx.stores.get(c.store)!, shardName(id, c.index), 2 * blockSize),
  )
  const headers = new Map(sinks.map((s) => [s.index, shardHeaderOf(layout, s.index)]))
  const seeds = new Map(sinks.map((s) => [s.index, blockSeeds(checksum, headers.get(s.index)!)]))
  for (const s of sinks) s.push(headers.get(s.index)!)
  const cursors = new Map(
    [...healthy, ...damaged].map((i) => [
      i,
      new BlockCursor(shardTarget(ctx, layout, i, checksum), g, o, checksum, stripes - 1, ctx.readTimeoutMs),
    ]),
  )
  /** Shards that went missing or silent during the rebuild: not asked again. */
  const lost = new Set<number>()
  try {
    for (let s = 0; s < stripes; s++) {
      const blocks: (Uint8Array | undefined)[] = new Array(n)
      const candidates = sourcesOf(s).filter((i) => !lost.has(i))
      let next = 0
      for (;;) {
        let have = 0
        for (let i = 0; i < n; i++) if (blocks[i]) have++
        if (have >= k) break
        const batch = candidates.slice(next, next + k - have)
        next += batch.length
        if (batch.length < k - have)
          throw new QuorumError(`cannot heal ${id}: stripe ${s} has too few good blocks`, have + batch.length, k)
        await Promise.all(
          batch.map(async (i) => {
            try {
              blocks[i] = await cursors.get(i)!.read(s)
            } catch (err) {
              if (!(err instanceof BlockError)) throw err
              // A block that rotted since the check: this stripe looks elsewhere, the next may still use the shard.
              if (err.fault !== 'corrupt') lost.add(i)
            }
          }),
        )
      }
      const all = ctx.codec.reconstruct(blocks, Array.from(blocks, Boolean), k)
      for (const sink of sinks) {
        const sum = new Uint8Array(checksum.size)
        checksum.write(all[sink.index]!, sum, seeds.get(sink.index)!(s))
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
    for (const c of cursors.values()) c.dispose()
  }
  for (const sink of sinks) {
    sink.push(encodeTrailer(headers.get(sink.index)!, layout.size))
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
