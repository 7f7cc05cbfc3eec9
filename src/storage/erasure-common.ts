/**
 * What the erasure writer, reader and healer share: the engine context, QuorumError and the
 * layout → geometry helpers. Uses only storage-internal modules.
 */
import type { BytePool } from '../util/byte-pool.ts'
import type { BlockChecksum } from './block-checksum.ts'
import type { ErasureCodec } from './codec.ts'
import type { StripeGeometry } from './geometry.ts'
import type { DataLayout, ErasureLayout } from './object-storage.ts'
import { blockSeeds, encodeShardHeader, headerLength, shardName, type ShardOffsets } from './shard-format.ts'
import type { Candidate } from './domain-placement.ts'
import type { ShardStore } from './shard-store.ts'

/**
 * Too few shards could be written or read for the data to be safe or correct. The service maps
 * it to 503 (retry later): the cause is unavailable stores, not the request.
 */
export class QuorumError extends Error {
  constructor(
    message: string,
    /** Shards that could be used, and how many were needed. */
    readonly available: number,
    readonly needed: number,
    /** Stores that failed for lack of space (StoreFull): the cause is a full disk, not an outage. */
    readonly full: readonly string[] = [],
  ) {
    super(message)
    this.name = 'QuorumError'
  }
}

export interface EngineContext {
  /** Every store a layout may name (reads, heals, removals); changed in place by reconfigure. */
  stores: Map<string, ShardStore>
  /** The stores new writes may be placed on, with their failure domain and capacity. */
  candidates: readonly Candidate[]
  codec: ErasureCodec
  /** The checksum new shards are written with (reads pick by the layout's id). */
  checksum: BlockChecksum
  checksumFor(id: number): BlockChecksum
  readTimeoutMs: number
  writeTimeoutMs: number
  onDegraded?: (layout: ErasureLayout, badShards: number[]) => void
  /**
   * Buffers for the blocks a read makes: data blocks a degraded read rebuilds (stripe-reader.ts)
   * and blocks joined from a shard stream's pieces (block-cursor.ts). Each is leased for the one
   * view handed on and given back by the consumer that releases it (src/util/byte-pool.ts).
   */
  blockPool?: BytePool
  /**
   * Buffers for the blocks a write makes (stripe-writer.ts): data blocks, into which the body is
   * copied as it arrives (stripe-pieces.ts' PooledBlocks), and parity. A `written` pool: each is
   * leased for its one shard and given back by a store once it has written it (disk-store.ts
   * after its writev, a node's transport in the socket write's callback, cluster-fetch.ts); a
   * store that does not give it back leaves it to the GC.
   */
  writePool: BytePool
}

export function erasureLayout(layout: DataLayout): ErasureLayout {
  if (layout.v !== 1 || layout.scheme !== 'rs') {
    throw new TypeError(`not an erasure-coded layout: ${JSON.stringify({ v: layout.v, scheme: layout.scheme })}`)
  }
  if (layout.stores.length !== layout.k + layout.m)
    throw new TypeError(`corrupt layout: ${layout.stores.length} stores for ${layout.k}+${layout.m}`)
  return layout
}

export const geometryOf = (l: ErasureLayout): StripeGeometry => ({
  k: l.k,
  m: l.m,
  blockSize: l.blockSize,
  size: l.size,
})

export const offsetsOf = (l: ErasureLayout, checksum: BlockChecksum): ShardOffsets => ({
  headerLength: headerLength(l.id),
  checksumSize: checksum.size,
})

/** Rejects after `ms` with `onTimeout()` unless `work` settles first; the timer never outlives it. */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms)
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}

/** The header shard `index` of `layout` was written with: what the shard file must say it holds. */
export const shardHeaderOf = (l: ErasureLayout, index: number): Uint8Array =>
  encodeShardHeader({ checksum: l.checksum, index, k: l.k, m: l.m, blockSize: l.blockSize, id: l.id })

/**
 * What a reader of shard `index` needs to trust its blocks: where it is and, derived from the
 * layout alone, the seeds that bind each block's checksum to this shard and stripe (format v2) or,
 * for v1 shards, whose checksums are bound to nothing, the header the file must start with.
 */
export function shardTarget(ctx: EngineContext, l: ErasureLayout, index: number, checksum: BlockChecksum) {
  const header = shardHeaderOf(l, index)
  return {
    index,
    name: shardName(l.id, index),
    store: ctx.stores.get(l.stores[index]!),
    storeId: l.stores[index]!,
    seed: blockSeeds(checksum, header),
    ...(checksum.bound ? {} : { header }),
  }
}
