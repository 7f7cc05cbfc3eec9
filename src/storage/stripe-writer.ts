/**
 * The erasure write path: cut the body into stripes, encode parity, and stream shard i to the
 * i-th placed store, all in parallel with backpressure; succeed at write quorum. Web APIs only.
 */
import { concatBytes } from '../util/bytes.ts'
import type { PieceStream } from '../util/streams.ts'
import { QuorumError, withTimeout, type EngineContext } from './erasure-common.ts'
import { stripeBytes, writeQuorum } from './geometry.ts'
import type { ErasureLayout, WriteResult } from './object-storage.ts'
import { type Candidate, placeShardsInDomains } from './domain-placement.ts'
import { blockSeeds, encodeShardHeader, encodeTrailer, MAX_ID_BYTES, shardName } from './shard-format.ts'
import { ShardSink } from './shard-sink.ts'
import { isStoreFull } from './shard-store.ts'
import { PooledBlocks, StripeCutter } from './stripe-pieces.ts'

/** Write ids name shard files: file-name safe, and short enough for `<id>.<index>`. */
const WRITE_ID = new RegExp(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,${MAX_ID_BYTES - 1}}$`)
/**
 * Per shard, how much the store may have queued but not consumed: two blocks, so a store is
 * never starved while the next stripe is encoded, and memory stays at a few stripes in all.
 */
const QUEUE_BLOCKS = 2

export interface WriteSettings {
  k: number
  m: number
  blockSize: number
}

/**
 * The stores a write's shards go to, shard i to the i-th: k+m of the placement candidates chosen
 * for `id` by failure domain and capacity (domain-placement.ts), leaving out `exclude` (full
 * stores). Fewer than k+m when too many are excluded.
 */
export function placeShards(
  candidates: readonly Candidate[],
  n: number,
  id: string,
  exclude?: ReadonlySet<string>,
): string[] {
  return placeShardsInDomains(id, exclude?.size ? candidates.filter((c) => !exclude.has(c.id)) : candidates, n)
}

export async function writeStripes(
  ctx: EngineContext,
  w: WriteSettings,
  id: string,
  body: PieceStream,
  exclude?: ReadonlySet<string>,
): Promise<WriteResult> {
  if (!WRITE_ID.test(id)) {
    await body.cancel().catch(() => {})
    throw new TypeError(
      `invalid write id ${JSON.stringify(id)}: use up to ${MAX_ID_BYTES} of [A-Za-z0-9._-], not starting with '.'`,
    )
  }
  const { k, m, blockSize } = w
  const n = k + m
  const quorum = writeQuorum(w)
  const placed = placeShards(ctx.candidates, n, id, exclude)
  if (placed.length < n) {
    await body.cancel().catch(() => {})
    // Excluded stores are full ones: the caller refuses before this, so this is a race.
    throw new QuorumError(`write ${id}: only ${placed.length} stores can take shards, ${n} needed`, placed.length, n, [
      ...(exclude ?? []),
    ])
  }
  const checksum = ctx.checksum
  const sinks = placed.map(
    (storeId, i) => new ShardSink(i, ctx.stores.get(storeId)!, shardName(id, i), QUEUE_BLOCKS * blockSize),
  )
  const headers = sinks.map((s) => encodeShardHeader({ checksum: checksum.id, index: s.index, k, m, blockSize, id }))
  const seeds = headers.map((h) => blockSeeds(checksum, h))
  for (const [i, s] of sinks.entries()) s.push(headers[i]!)

  const alive = () => sinks.filter((s) => !s.failed).length
  const full = () => sinks.filter((s) => isStoreFull(s.failure)).map((s) => s.store.id)
  const quorumLost = () =>
    new QuorumError(
      `write ${id}: only ${alive()} of ${n} stores are taking shards, ${quorum} needed (${describeFailures(sinks)})`,
      alive(),
      quorum,
      full(),
    )

  /** Fails every shard with `reason`, waits until each store has let go, removes any that landed. */
  async function abandon(reason: unknown): Promise<void> {
    for (const s of sinks) s.fail(reason)
    // Bounded: a hung store that ignores the error must not hang the caller.
    await Promise.all(
      sinks.map((s) => withTimeout(s.done, ctx.writeTimeoutMs, () => new Error('no answer')).catch(() => false)),
    )
    // A shard closed before the abort may have been committed: remove it (missing is fine).
    await Promise.all(sinks.map((s) => s.store.delete(s.name).catch(() => {})))
  }

  const reader = body.getReader()
  const pool = ctx.writePool
  const stripes = new StripeCutter(new PooledBlocks(reader, blockSize, pool), stripeBytes({ k, m, blockSize, size: 0 }))
  let size = 0
  let stripe = 0
  try {
    for (;;) {
      if (alive() < quorum) throw quorumLost()
      const value = await stripes.next() // the body's own error propagates unchanged
      if (!value) break
      size += value.length
      // A full stripe is k whole blocks from the write pool (PooledBlocks), each sent as it is to
      // its shard, which gives it back once written (a drive after its writev, a node's transport
      // in the socket write's callback). The short last stripe is joined and zero-padded.
      const full = value.length === k * blockSize
      const data = full ? wholeBlocks(value.pieces, k, blockSize) : splitStripe(concatBytes(value.pieces), k, blockSize)
      const len = data[0]!.length
      const parity = Array.from({ length: m }, () => (full ? pool.lease(len, 1) : new Uint8Array(len)))
      ctx.codec.encode(data, parity)
      for (const s of sinks) {
        if (s.failed) continue
        const i = s.index
        const block = i < k ? data[i]! : parity[i - k]!
        const sum = new Uint8Array(checksum.size)
        checksum.write(block, sum, seeds[i]!(stripe))
        s.push(block)
        s.push(sum)
      }
      stripe++
      // Backpressure: the next stripe is read only when every live store has room for it.
      await Promise.all(sinks.map((s) => s.ready(ctx.writeTimeoutMs)))
    }
    if (alive() < quorum) throw quorumLost()
  } catch (err) {
    reader.cancel(err).catch(() => {})
    await abandon(err)
    // Every store has answered by now: name the ones that were full (a cancelled stream may
    // have latched first, before the store's own verdict came in).
    if (err instanceof QuorumError) throw new QuorumError(err.message, err.available, err.needed, full())
    throw err // the body's error object itself
  }

  for (const s of sinks) {
    s.push(encodeTrailer(headers[s.index]!, size))
    s.close()
  }
  // fsync + rename on each store; a store that never answers counts as failed, not as a hang.
  const stored = await Promise.all(
    sinks.map((s) =>
      withTimeout(
        s.done,
        ctx.writeTimeoutMs,
        () => new Error(`store ${s.store.id} did not confirm shard ${s.name}`),
      ).catch((err) => {
        s.fail(err)
        return false
      }),
    ),
  )
  const ok = stored.filter(Boolean).length
  if (ok < quorum) {
    const err = new QuorumError(
      `write ${id}: ${ok} of ${n} shards stored, ${quorum} needed (${describeFailures(sinks)})`,
      ok,
      quorum,
      full(),
    )
    await abandon(err)
    throw err
  }
  const layout: ErasureLayout = { v: 1, scheme: 'rs', id, size, k, m, blockSize, checksum: checksum.id, stores: placed }
  const degraded = sinks.filter((_, i) => !stored[i]).map((s) => s.store.id)
  return degraded.length > 0 ? { layout, size, degraded } : { layout, size }
}

/** A full stripe's pieces, which PooledBlocks makes whole blocks: checked, as the codec needs k of them. */
function wholeBlocks(pieces: Uint8Array[], k: number, blockSize: number): Uint8Array[] {
  if (pieces.length !== k || pieces.some((p) => p.length !== blockSize))
    throw new RangeError(`a full stripe of ${pieces.length} pieces is not ${k} blocks of ${blockSize} bytes`)
  return pieces
}

/**
 * The k data blocks of one stripe. A full stripe is cut into views (no copy); the short last
 * stripe is copied into k zero-padded blocks of ceil(length / k) bytes.
 */
export function splitStripe(stripe: Uint8Array, k: number, blockSize: number): Uint8Array[] {
  if (stripe.length === k * blockSize) {
    return Array.from({ length: k }, (_, i) => stripe.subarray(i * blockSize, (i + 1) * blockSize))
  }
  const bl = Math.ceil(stripe.length / k)
  const padded = new Uint8Array(k * bl)
  padded.set(stripe)
  return Array.from({ length: k }, (_, i) => padded.subarray(i * bl, (i + 1) * bl))
}

function describeFailures(sinks: ShardSink[]): string {
  const failed = sinks.filter((s) => s.failed)
  if (failed.length === 0) return 'no store failures'
  return failed.map((s) => `${s.store.id}: ${(s.failure as Error)?.message ?? String(s.failure)}`).join('; ')
}
