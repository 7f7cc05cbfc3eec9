/**
 * ShardStore: one place that keeps shard files — a local drive in the embedded mode, a storage
 * node over HTTPS in the distributed one. The writer and reader only ever talk to this interface,
 * so the data path is the same code in both modes.
 */

export interface ShardStore {
  /** Stable id (drive index or node URL); placement hashes over these. */
  readonly id: string
  /**
   * Stores a shard atomically: bytes go to a temp file, are fsynced, then renamed to `name`.
   * If `body` errors or is cancelled, nothing named `name` appears. The store may hold `body`'s
   * chunks until it has written them (a local drive gathers ~1 MiB per write): a producer never
   * changes a chunk once enqueued.
   */
  put(name: string, body: ReadableStream<Uint8Array>): Promise<void>
  /**
   * True when put() hands many chunks to the OS in one gathered write (a local drive's writev),
   * so a block sent as the body's own pieces costs no syscall more than one joined chunk: the
   * stripe writer then sends data blocks unjoined. Otherwise (a node over HTTPS writes the
   * socket per chunk) it joins each block first, as it always did.
   */
  readonly gathers?: boolean
  /**
   * Streams `length` bytes from `offset`; rejects with ShardNotFound when absent. `unit` is a
   * hint: where the store cuts the stream itself (local drives), chunks hold whole multiples of
   * `unit` bytes, so a reader of unit-sized blocks gets views instead of copying across chunks.
   */
  get(name: string, offset: number, length: number, unit?: number): ReadableStream<Uint8Array>
  /** Size of a stored shard, or undefined when absent. */
  stat(name: string): Promise<number | undefined>
  delete(name: string): Promise<void>
  /** Every shard name held (for GC and healing). */
  list(): AsyncIterable<string>
  /** True when the store can currently serve reads and writes. */
  healthy(): Promise<boolean>
  /**
   * Free and total bytes where the store keeps its shards; undefined when unknown (a store
   * that cannot tell, or a node that did not answer). Admission of writes relies on it.
   */
  space?(): Promise<SpaceReport | undefined>
}

/** The space of the filesystem a store (or the metadata) lives on. */
export interface SpaceReport {
  /** Bytes an unprivileged writer may still use (statfs `bavail`). */
  free: number
  total: number
  /**
   * Names the filesystem: stores with the same `fs` share their free space (local drives under
   * one data directory), so a write's shards are counted together against it.
   */
  fs?: string
}

/** A shard could not be stored because its filesystem is full (ENOSPC, EDQUOT, or a node's 507). */
export class StoreFull extends Error {
  constructor(
    readonly store: string,
    message: string,
  ) {
    super(message)
    this.name = 'StoreFull'
  }
}

export const isStoreFull = (e: unknown): e is StoreFull => e instanceof StoreFull

export class ShardNotFound extends Error {
  constructor(
    readonly store: string,
    readonly shard: string,
  ) {
    super(`shard ${shard} not found on ${store}`)
  }
}
