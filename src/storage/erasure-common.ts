/**
 * What the erasure writer, reader and healer share: the engine context, QuorumError and the
 * layout → geometry helpers. Uses only storage-internal modules.
 */
import type { BlockChecksum } from './block-checksum.ts'
import type { ErasureCodec } from './codec.ts'
import type { StripeGeometry } from './geometry.ts'
import type { DataLayout, ErasureLayout } from './object-storage.ts'
import { headerLength, type ShardOffsets } from './shard-format.ts'
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
  stores: ReadonlyMap<string, ShardStore>
  codec: ErasureCodec
  /** The checksum new shards are written with (reads pick by the layout's id). */
  checksum: BlockChecksum
  checksumFor(id: number): BlockChecksum
  readTimeoutMs: number
  writeTimeoutMs: number
  onDegraded?: (layout: ErasureLayout, badShards: number[]) => void
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
