/**
 * How an object's bytes map onto storage writes: an ordered list of segments, one per PutObject
 * or one per multipart part, each with its own storage layout — or, for a small object, its
 * bytes in the metadata (an inline segment, docs/architecture.md §2). Ranges cross segments here,
 * and encrypted segments are decrypted here (only the packages a range covers).
 */
import { type Aead, decryptRange } from '../crypto/index.ts'
import { crc32Js, type DataLayout, isDataLayout, type ObjectStorage } from '../storage/index.ts'
import { fromBase64 } from '../util/bytes.ts'
import type { Platform } from '../util/platform.ts'
import { streamFromBytes } from '../util/streams.ts'
import { describeValue, isCount, isRecord } from '../util/shape.ts'
import { CorruptMetadataError } from './errors.ts'

/** FORMAT: stored as the object row's `layout` JSON. */
export interface StoredData {
  v: 1
  segments: Segment[]
}

/** Bytes on shards: a storage write's layout. */
export interface ShardSegment {
  /** Plaintext bytes (the stored payload is longer when encrypted: cipherLength(size)). */
  size: number
  layout: DataLayout
  /** Present when the segment is D@RE-encrypted. */
  crypto?: SegmentCrypto
  inline?: undefined
}

/** Bytes in the metadata (`inline_data`): a small object's whole payload. */
export interface InlineSegment {
  /** Plaintext bytes, as ShardSegment.size. */
  size: number
  inline: InlineRef
  crypto?: SegmentCrypto
  layout?: undefined
}

/**
 * FORMAT: InlineSegment.inline: the `inline_data` row's id and the CRC32 (IEEE) and length of
 * the stored bytes (ciphertext when encrypted), checked on every read.
 */
export interface InlineRef {
  id: string
  crc32: number
  length: number
}

export type Segment = ShardSegment | InlineSegment

/** FORMAT: Segment.crypto (and parts.crypto): the write's nonce prefix and its part number. */
export interface SegmentCrypto {
  prefix: string
  partNumber: number
}

/** How to open encrypted segments: the object's key and id (from its encryption record). */
export interface Decryption {
  aead: Aead
  key: Uint8Array
  objectId: string
}

export const singleSegment = (size: number, layout: DataLayout, crypto?: SegmentCrypto): StoredData => ({
  v: 1,
  segments: [crypto ? { size, layout, crypto } : { size, layout }],
})

/** The storage layouts of the data's shard segments (inline segments have none). */
export function layoutsOf(data: StoredData | undefined | null): DataLayout[] {
  const out: DataLayout[] = []
  for (const s of data?.segments ?? []) if (s.layout) out.push(s.layout)
  return out
}

/** The `inline_data` ids of the data's inline segments. */
export function inlineIdsOf(data: StoredData | undefined | null): string[] {
  const out: string[] = []
  for (const s of data?.segments ?? []) if (s.inline) out.push(s.inline.id)
  return out
}

/** CRC32 (IEEE) of inline bytes: native when the runtime has it. */
export const inlineCrc32 = (platform: Pick<Platform, 'crc32'>, bytes: Uint8Array): number =>
  platform.crc32 ? platform.crc32(bytes, 0) >>> 0 : crc32Js(bytes)

/**
 * Inline bytes as read from the metadata, checked against their segment: a missing row, a
 * length or a CRC32 that differs is an error, never wrong bytes.
 */
export function checkInline(
  platform: Pick<Platform, 'crc32'>,
  ref: InlineRef,
  bytes: Uint8Array | undefined,
  what: string,
): Uint8Array {
  if (!bytes) throw new CorruptMetadataError(`${what}: its bytes are missing from the metadata (inline_data ${ref.id})`)
  if (bytes.length !== ref.length || inlineCrc32(platform, bytes) !== ref.crc32)
    throw new CorruptMetadataError(
      `${what}: its bytes in the metadata fail their checksum (inline_data ${ref.id}: ${bytes.length} bytes, expected ${ref.length})`,
    )
  return bytes
}

const isInlineRef = (v: unknown): v is InlineRef =>
  isRecord(v) && typeof v.id === 'string' && isCount(v.crc32) && v.crc32 <= 0xffffffff && isCount(v.length)

export const isSegmentCrypto = (v: unknown): v is SegmentCrypto =>
  isRecord(v) && typeof v.prefix === 'string' && isCount(v.partNumber)

const isSegment = (v: unknown): v is Segment =>
  isRecord(v) &&
  isCount(v.size) &&
  (v.inline === undefined ? isDataLayout(v.layout) : v.layout === undefined && isInlineRef(v.inline)) &&
  (v.crypto === undefined || isSegmentCrypto(v.crypto))

/** An object row's `layout` as it enters the service; `what` names the row for the error. */
export function parseStoredData(v: unknown, what: string): StoredData {
  if (isRecord(v) && v.v === 1 && Array.isArray(v.segments) && v.segments.every(isSegment)) {
    return { v: 1, segments: v.segments }
  }
  throw new CorruptMetadataError(`${what}: the stored data layout is malformed: ${describeValue(v)}`)
}

/** A part row's `crypto` as it enters the service: undefined for a part stored in clear. */
export function parseSegmentCrypto(v: unknown, what: string): SegmentCrypto | undefined {
  if (v === null || v === undefined) return undefined
  if (isSegmentCrypto(v)) return v
  throw new CorruptMetadataError(`${what}: the stored encryption parameters are malformed: ${describeValue(v)}`)
}

/**
 * Streams bytes [start, end) of the object, opening each segment only when it is reached.
 * `inline`: the checked bytes of its inline segments by id (checkInline), read beforehand.
 */
export function readStoredRange(
  storage: ObjectStorage,
  data: StoredData,
  start: number,
  end: number,
  decryption?: Decryption,
  inline: ReadonlyMap<string, Uint8Array> = new Map(),
): ReadableStream<Uint8Array> {
  const source: SegmentSource = { storage, inline }
  const pieces: { seg: Segment; from: number; to: number }[] = []
  let offset = 0
  for (const seg of data.segments) {
    const segStart = offset
    const segEnd = offset + seg.size
    offset = segEnd
    if (segEnd <= start || segStart >= end || seg.size === 0) continue
    pieces.push({ seg, from: Math.max(start, segStart) - segStart, to: Math.min(end, segEnd) - segStart })
  }
  // One segment (every object but a multipart one): its own stream, with no stream around it to
  // pass each chunk through once more.
  if (pieces.length === 1) {
    const only = pieces[0]!
    return openSegment(source, only.seg, only.from, only.to, decryption)
  }
  let current: ReadableStreamDefaultReader<Uint8Array> | undefined
  let index = 0
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        if (!current) {
          const piece = pieces[index++]
          if (!piece) {
            controller.close()
            return
          }
          current = openSegment(source, piece.seg, piece.from, piece.to, decryption).getReader()
        }
        const { done, value } = await current.read()
        if (done) {
          current = undefined
          continue
        }
        controller.enqueue(value)
        return
      }
    },
    async cancel(reason) {
      await current?.cancel(reason)
    },
  })
}

interface SegmentSource {
  storage: ObjectStorage
  inline: ReadonlyMap<string, Uint8Array>
}

/**
 * Stored bytes [s, e) of one segment: from its shards, or from its bytes in the metadata.
 * `checked` false lets the shards' block checksums go unchecked: only for ciphertext, whose
 * packages decryptRange authenticates (and reads again with checks when one fails).
 */
function storedBytes(
  source: SegmentSource,
  seg: Segment,
): (s: number, e: number, checked: boolean) => ReadableStream<Uint8Array> {
  if (!seg.inline) {
    const layout = seg.layout
    return (s, e, checked) => source.storage.read(layout, s, e, { verify: checked })
  }
  const bytes = source.inline.get(seg.inline.id)
  if (!bytes) throw new Error(`inline segment ${seg.inline.id} was read without its bytes`)
  return (s, e) => streamFromBytes(bytes.subarray(s, e))
}

function openSegment(
  source: SegmentSource,
  seg: Segment,
  from: number,
  to: number,
  decryption?: Decryption,
): ReadableStream<Uint8Array> {
  const read = storedBytes(source, seg)
  if (!seg.crypto) return read(from, to, true)
  if (!decryption) throw new Error('an encrypted segment was read without its object key')
  const prefix = fromBase64(seg.crypto.prefix)
  if (!prefix) throw new Error('an encrypted segment has a malformed nonce prefix')
  return decryptRange(read, seg.size, from, to, {
    aead: decryption.aead,
    key: decryption.key,
    objectId: decryption.objectId,
    prefix,
    partNumber: seg.crypto.partNumber,
  })
}
