/**
 * How an object's bytes map onto storage writes: an ordered list of segments, one per PutObject
 * or one per multipart part, each with its own storage layout. Ranges cross segments here, and
 * encrypted segments are decrypted here (only the packages a range covers).
 */
import { type Aead, decryptRange } from '../crypto/index.ts'
import { type DataLayout, isDataLayout, type ObjectStorage } from '../storage/index.ts'
import { fromBase64 } from '../util/bytes.ts'
import { describeValue, isCount, isRecord } from '../util/shape.ts'
import { CorruptMetadataError } from './errors.ts'

/** FORMAT: stored as the object row's `layout` JSON. */
export interface StoredData {
  v: 1
  segments: Segment[]
}

export interface Segment {
  /** Plaintext bytes (the stored payload is longer when encrypted: cipherLength(size)). */
  size: number
  layout: DataLayout
  /** Present when the segment is D@RE-encrypted. */
  crypto?: SegmentCrypto
}

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

export function layoutsOf(data: StoredData | undefined | null): DataLayout[] {
  return data?.segments.map((s) => s.layout) ?? []
}

export const isSegmentCrypto = (v: unknown): v is SegmentCrypto =>
  isRecord(v) && typeof v.prefix === 'string' && isCount(v.partNumber)

const isSegment = (v: unknown): v is Segment =>
  isRecord(v) && isCount(v.size) && isDataLayout(v.layout) && (v.crypto === undefined || isSegmentCrypto(v.crypto))

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

/** Streams bytes [start, end) of the object, opening each segment only when it is reached. */
export function readStoredRange(
  storage: ObjectStorage,
  data: StoredData,
  start: number,
  end: number,
  decryption?: Decryption,
): ReadableStream<Uint8Array> {
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
    return openSegment(storage, only.seg, only.from, only.to, decryption)
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
          current = openSegment(storage, piece.seg, piece.from, piece.to, decryption).getReader()
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

function openSegment(
  storage: ObjectStorage,
  seg: Segment,
  from: number,
  to: number,
  decryption?: Decryption,
): ReadableStream<Uint8Array> {
  if (!seg.crypto) return storage.read(seg.layout, from, to)
  if (!decryption) throw new Error('an encrypted segment was read without its object key')
  const prefix = fromBase64(seg.crypto.prefix)
  if (!prefix) throw new Error('an encrypted segment has a malformed nonce prefix')
  return decryptRange((s, e) => storage.read(seg.layout, s, e), seg.size, from, to, {
    aead: decryption.aead,
    key: decryption.key,
    objectId: decryption.objectId,
    prefix,
    partNumber: seg.crypto.partNumber,
  })
}
