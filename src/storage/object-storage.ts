/**
 * The storage engine as the service sees it: write a stream, get back a layout (a plain JSON
 * value stored in metadata), later read any byte range of it or remove it. How the bytes are
 * spread (Reed–Solomon stripes over drives or nodes) is the layout's business alone.
 */
import { describeValue, isCount, isRecord } from '../util/shape.ts'
import type { PieceStream } from '../util/streams.ts'

/** FORMAT: persisted in metadata as JSON; bump `v` when the shape changes. */
export type DataLayout = ErasureLayout

/**
 * FORMAT: Reed–Solomon stripes over k+m stores (see shard-format.ts for the shard files).
 * Everything a reader needs to locate any block without opening a file is here.
 */
export interface ErasureLayout {
  v: 1
  scheme: 'rs'
  /** Write id: shard i is the file `<id>.<i>`; also recorded in every shard header. */
  id: string
  /** Payload length in bytes. */
  size: number
  k: number
  m: number
  blockSize: number
  /** Block checksum algorithm id (1 = CRC32). */
  checksum: number
  /** Store id of shard i, i = 0..k+m-1 (placement at write time; healing writes back there). */
  stores: string[]
}

/** Every field of a layout as written, so that a layout read back from metadata can be trusted. */
export function isDataLayout(v: unknown): v is DataLayout {
  return (
    isRecord(v) &&
    v.v === 1 &&
    v.scheme === 'rs' &&
    typeof v.id === 'string' &&
    isCount(v.size) &&
    isCount(v.k) &&
    v.k > 0 &&
    isCount(v.m) &&
    isCount(v.blockSize) &&
    v.blockSize > 0 &&
    isCount(v.checksum) &&
    Array.isArray(v.stores) &&
    v.stores.length === v.k + v.m &&
    v.stores.every((s) => typeof s === 'string')
  )
}

/** A layout read back from metadata; throws (an internal error: a damaged row) for anything else. */
export function parseDataLayout(v: unknown): DataLayout {
  if (isDataLayout(v)) return v
  throw new Error(`a stored data layout is malformed: ${describeValue(v)}`)
}

export interface WriteResult {
  layout: DataLayout
  size: number
  /** Stores whose shard was not stored (the write still met its quorum): queue the object for healing. */
  degraded?: string[]
}

export interface WriteOptions {
  /** Store ids not to place shards on (e.g. full ones); the rest are ranked as usual. */
  exclude?: ReadonlySet<string>
}

export interface ReadOptions {
  /**
   * false: blocks are not checked against their checksums (default true). Only for a caller that
   * authenticates every byte it is handed (D@RE: each package's GCM tag) and, when a check of its
   * own fails, reads that part again with `verify` on — which is what lets a damaged block fall
   * back to parity and be queued for healing. Saves the block CRC32, about a tenth of a big GET's
   * request-thread CPU (docs/architecture.md §8).
   */
  verify?: boolean
}

export interface ObjectStorage {
  /**
   * Streams `body` to the stores. Resolves only once the data is durable. If `body` errors
   * (a digest mismatch, a cut connection) the error is re-thrown unchanged and nothing remains.
   * `id` is unique per write (object version or part) and seeds placement; stores named in
   * `exclude` (full ones) are left out of it. The body's pieces are kept, unjoined, until the
   * stores have written them: its producer must not reuse their memory.
   */
  write(id: string, body: PieceStream, opts?: WriteOptions): Promise<WriteResult>
  /** Streams bytes [start, end) of the payload. */
  read(layout: DataLayout, start: number, end: number, opts?: ReadOptions): ReadableStream<Uint8Array>
  /** Deletes the payload's shards; missing shards are fine. */
  remove(layout: DataLayout): Promise<void>
}
