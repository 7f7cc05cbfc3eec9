/**
 * ErasureStorage: ObjectStorage over k+m ShardStores with Reed–Solomon stripes, plus heal and
 * verify for the healer and scrubber. Wires the writer, reader and healer; uses storage + util.
 */
import { BytePool } from '../util/byte-pool.ts'
import type { Platform } from '../util/platform.ts'
import { type CHECKSUM_CRC32, type CHECKSUM_CRC32_BOUND, checksumById, createBlockChecksum } from './block-checksum.ts'
import type { ErasureCodec } from './codec.ts'
import type { Candidate } from './domain-placement.ts'
import { erasureLayout, type EngineContext } from './erasure-common.ts'
import { DEFAULT_BLOCK_SIZE, validateBlockSize, validateEc } from './geometry.ts'
import { heal, probeShards, verifyShards, type HealResult, type ShardCheck } from './healer.ts'
import type { DataLayout, ErasureLayout, ObjectStorage } from './object-storage.ts'
import { headerLength, shardFileLength, shardName } from './shard-format.ts'
import type { ShardStore } from './shard-store.ts'
import { readRange } from './stripe-reader.ts'
import { placeShards, writeStripes } from './stripe-writer.ts'
import { copyShard, type ShardCopy } from './shard-copy.ts'

export { QuorumError } from './erasure-common.ts'
export type { HealResult, ShardCheck, ShardState } from './healer.ts'
export type { ShardCopy } from './shard-copy.ts'

/** A store that sends nothing for this long is treated as down for the read (parity takes over). */
export const DEFAULT_READ_TIMEOUT_MS = 10_000
/** A store that takes no bytes (or does not confirm) for this long is dropped from the write. */
export const DEFAULT_WRITE_TIMEOUT_MS = 30_000
/**
 * Blocks a read makes, kept for reuse: data blocks a degraded read rebuilds, and blocks joined from
 * the pieces a remote shard stream arrives in (16 KiB TLS records). A GET holds about its
 * read-ahead (two stripes, at most k blocks each) plus what is being deciphered, so eight at once
 * cycle within this. Fresh 256 KiB buffers per stripe instead drove the peak RSS of eight degraded
 * 256 MiB GETs to ≈ 335 MiB (docs/architecture.md §8).
 */
const BLOCK_POOL_IDLE_BYTES = 8 * 1024 * 1024
/**
 * Idle blocks kept for the next stripes: a write's data and parity blocks go back to the pool as
 * its shards are written. Eight six-node writes at once keep up to
 * ≈ 150 blocks in flight (two queued per shard, one in the socket), a number that rises and falls
 * as the writers take turns: with 4 MiB (16 blocks) idle, more than half the leases were fresh
 * buffers, with 16 MiB about one in seven
 * (docs/architecture.md §8, "Six-node PUTs give their blocks back").
 */
const WRITE_POOL_IDLE_BYTES = 16 * 1024 * 1024

export interface ErasureStorageOptions {
  /** Every configured store (drives or nodes); each write uses k+m of them, chosen by placement. */
  stores: readonly ShardStore[]
  /**
   * The stores new writes may go to, with failure domain and capacity (a cluster layout's
   * active nodes). Default: every store, equal capacity, each its own zone.
   */
  candidates?: readonly Candidate[]
  /** Data shards per stripe. */
  k: number
  /** Parity shards per stripe. */
  m: number
  /** Bytes per block (stripe = k blocks); default 256 KiB. Recorded per layout, so changing it is safe. */
  blockSize?: number
  codec: ErasureCodec
  /** Supplies the native CRC32 when the runtime has one (a JS CRC32 is used otherwise). */
  platform?: Pick<Platform, 'crc32'>
  /**
   * The block checksum id new shards are written with: 2 (bound to shard and stripe, format v2)
   * unless set. 1 writes format v1 shards as older versions did, for tests of such data.
   */
  blockChecksum?: typeof CHECKSUM_CRC32 | typeof CHECKSUM_CRC32_BOUND
  readTimeoutMs?: number
  writeTimeoutMs?: number
  /** Called once per read that met missing, late or corrupt shards: queue the object for healing. */
  onDegraded?: (layout: ErasureLayout, badShards: number[]) => void
  /** Where reads rebuild or join blocks (default: a pool of its own, BLOCK_POOL_IDLE_BYTES idle). */
  blockPool?: BytePool
  /** Where writes make their blocks (default: a write pool of its own, WRITE_POOL_IDLE_BYTES idle). */
  writePool?: BytePool
}

export interface ErasureStorage extends ObjectStorage {
  /** Verifies every shard and rebuilds the bad ones on their own store. */
  heal(layout: DataLayout): Promise<HealResult>
  /** Reads every shard whole and reports each one's state; changes nothing (for the scrubber). */
  verifyShards(layout: DataLayout): Promise<ShardCheck[]>
  /** Stats every shard (existence and length only): the scrubber's cheap pass. */
  probeShards(layout: DataLayout): Promise<ShardCheck[]>
  /**
   * Deletes every shard a write under `id` may have left on any store (`<id>.0 … <id>.k+m-1`):
   * for orphans of crashed writes, whose layout was never recorded.
   */
  removeById(id: string): Promise<void>
  /**
   * Puts a verified copy of shard `index` of `layout` on store `target` (streamed from its store,
   * or rebuilt from the other shards when that one is down or bad); changes no layout.
   */
  copyShard(layout: DataLayout, index: number, target: string, stopping?: AbortSignal): Promise<ShardCopy>
  /** Deletes shard `index` of write `id` on store `storeId` (a store no longer configured: nothing to do). */
  removeShard(id: string, index: number, storeId: string): Promise<void>
  /** Ids of the configured stores, in configuration order. */
  readonly storeIds: readonly string[]
  /**
   * Takes a new cluster layout: `stores` is every store a layout may name from now on (stores
   * not in it are dropped; a store whose id is already known keeps its connection), `candidates`
   * those new writes may be placed on. Writes already placed keep their stores.
   */
  reconfigure(stores: readonly ShardStore[], candidates: readonly Candidate[]): void
  /** The stores write(id, …, { exclude }) will place shards on, shard i on the i-th (fewer than k+m if too many are excluded). */
  placement(id: string, exclude?: ReadonlySet<string>): string[]
  /** Bytes each shard file of a write of `size` bytes takes (header, blocks, checksums, trailer). */
  shardBytes(size: number, id?: string): number
}

export function createErasureStorage(opts: ErasureStorageOptions): ErasureStorage {
  const stores = new Map<string, ShardStore>()
  for (const s of opts.stores) {
    if (stores.has(s.id)) throw new Error(`duplicate store id ${s.id}: every store needs a distinct id`)
    stores.set(s.id, s)
  }
  const settings = { k: opts.k, m: opts.m, blockSize: opts.blockSize ?? DEFAULT_BLOCK_SIZE }
  validateEc(settings, stores.size)
  validateBlockSize(settings.blockSize)
  const ctx: EngineContext = {
    stores,
    candidates: opts.candidates ?? everyStoreItsOwnZone(stores.keys()),
    codec: opts.codec,
    checksum: createBlockChecksum(opts.platform, opts.blockChecksum),
    checksumFor: (id) => checksumById(id, opts.platform),
    readTimeoutMs: positive(opts.readTimeoutMs, DEFAULT_READ_TIMEOUT_MS, 'readTimeoutMs'),
    writeTimeoutMs: positive(opts.writeTimeoutMs, DEFAULT_WRITE_TIMEOUT_MS, 'writeTimeoutMs'),
    onDegraded: opts.onDegraded,
    blockPool: opts.blockPool ?? new BytePool(BLOCK_POOL_IDLE_BYTES),
    writePool: opts.writePool ?? new BytePool(WRITE_POOL_IDLE_BYTES, true),
  }

  return {
    write: (id, body, o) => writeStripes(ctx, settings, id, body, o?.exclude),
    read: (layout, start, end, opts) => readRange(ctx, layout, start, end, opts),
    async remove(dataLayout) {
      const layout = erasureLayout(dataLayout)
      const results = await Promise.allSettled(
        // A store no longer configured is gone for good, and its shard with it.
        layout.stores.map((storeId, i) => stores.get(storeId)?.delete(shardName(layout.id, i))),
      )
      const failed = results.filter((r) => r.status === 'rejected')
      if (failed.length > 0) {
        // Thrown so the caller can queue a retry (GC); the shards that were deleted stay deleted.
        throw new AggregateError(
          failed.map((r) => (r as PromiseRejectedResult).reason),
          `could not delete ${failed.length} shard(s) of ${layout.id}`,
        )
      }
    },
    heal: (layout) => heal(ctx, layout),
    verifyShards: (layout) => verifyShards(ctx, layout),
    probeShards: (layout) => probeShards(ctx, layout),
    async removeById(id) {
      const names = Array.from({ length: settings.k + settings.m }, (_, i) => shardName(id, i))
      const results = await Promise.allSettled(
        [...stores.values()].flatMap((store) => names.map((n) => store.delete(n))),
      )
      const failed = results.filter((r) => r.status === 'rejected')
      if (failed.length > 0)
        throw new AggregateError(
          failed.map((r) => (r as PromiseRejectedResult).reason),
          `could not delete orphan shards of ${id}`,
        )
    },
    copyShard: (layout, index, target, stopping) => copyShard(ctx, layout, index, target, stopping),
    async removeShard(id, index, storeId) {
      await stores.get(storeId)?.delete(shardName(id, index))
    },
    get storeIds() {
      return [...stores.keys()]
    },
    reconfigure(next, candidates) {
      const ids = new Set(next.map((s) => s.id))
      for (const id of [...stores.keys()]) if (!ids.has(id)) stores.delete(id)
      for (const s of next) if (!stores.has(s.id)) stores.set(s.id, s)
      ctx.candidates = candidates.filter((c) => stores.has(c.id))
    },
    placement: (id, exclude) => placeShards(ctx.candidates, settings.k + settings.m, id, exclude),
    shardBytes: (size, id = 'x'.repeat(36)) =>
      shardFileLength({ ...settings, size }, { headerLength: headerLength(id), checksumSize: ctx.checksum.size }),
  }
}

const everyStoreItsOwnZone = (ids: Iterable<string>): Candidate[] =>
  [...ids].map((id) => ({ id, capacity: 1, zone: id }))

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`${name} must be a positive number of milliseconds, got ${value}`)
  return value
}
