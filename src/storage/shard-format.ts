/**
 * The shard file format: a header, then for each stripe this shard's block followed by its
 * checksum. Pure encode/parse and offset maths (a reader needs no I/O to find a block).
 */
import { fromUtf8, utf8 } from '../util/bytes.ts'
import { type BlockChecksum, CHECKSUM_CRC32, crc32Js } from './block-checksum.ts'
import { blockLength, stripeCount, type StripeGeometry } from './geometry.ts'

/*
 * FORMAT: shard file, versions 1 and 2. All integers little-endian. DO NOT CHANGE: shards written
 * so far must stay readable; a change is a new version that readers dispatch on.
 * Version 2 (written today, block checksum id 2) has the same bytes as version 1 (block checksum
 * id 1, still read) except for what a block's checksum covers: in v1 the block alone, in v2 the
 * header, the stripe index and the block (see blockSeeds), so a block copied into another shard
 * file, another index of the same write or another stripe fails its checksum. Readers dispatch on
 * the layout's checksum id and need no header for that; v1 readers compare the header instead.
 *
 *   header (written first; everything in it is known before the payload is seen)
 *   off  size  field
 *   0    4     magic "CFSH"
 *   4    2     format version (1 or 2; 2 exactly when the checksum id is 2)
 *   6    2     header length in bytes, including the trailing header CRC (= 26 + n)
 *   8    1     block checksum algorithm id (block-checksum.ts; 1 = CRC32)
 *   9    1     reserved, 0
 *   10   2     shard index i (0..k-1 data, k..k+m-1 parity)
 *   12   2     k
 *   14   2     m
 *   16   4     block size (bytes of every block but the last stripe's)
 *   20   2     n = write id length in UTF-8 bytes
 *   22   n     write id (UTF-8)
 *   22+n 4     CRC32 (IEEE) of bytes [0, 22+n)
 *   then, for stripe s = 0 .. stripes-1:
 *        L(s)  block i of stripe s; L(s) = block size, except the last stripe: ceil(its bytes / k),
 *              zero-padded past the payload end
 *        c     checksum of that block (c = 4 for CRC32, little-endian)
 *   trailer (written last: the payload is streamed, so its length is known only at the end)
 *   0    4     magic "CFSE"
 *   4    8     payload length in bytes (the real length; the padding is implied by it)
 *   12   4     CRC32 of trailer bytes [0, 12), continuing from the header CRC (binds the two)
 * A file without a valid trailer is truncated. Readers locate blocks from the layout alone.
 */
export const SHARD_MAGIC = Uint8Array.of(0x43, 0x46, 0x53, 0x48) // "CFSH"
export const TRAILER_MAGIC = Uint8Array.of(0x43, 0x46, 0x53, 0x45) // "CFSE"
/** The version written today; version 1 shards (unbound block checksums) are still read. */
export const SHARD_FORMAT_VERSION = 2
export const TRAILER_LENGTH = 16
const FIXED_HEADER = 22
const HEADER_CRC = 4
/** Write ids are file-name material (`<id>.<index>` must fit a 200-character shard name). */
export const MAX_ID_BYTES = 190

export interface ShardHeader {
  version: number
  checksum: number
  index: number
  k: number
  m: number
  blockSize: number
  id: string
}

export class ShardFormatError extends Error {}

/** The shard file name of shard `index` of write `id` (unique per write, never reused). */
export function shardName(id: string, index: number): string {
  return `${id}.${index}`
}

export function headerLength(id: string): number {
  return FIXED_HEADER + utf8(id).length + HEADER_CRC
}

/** The format version of shards whose blocks carry checksum `checksumId`: 1 for unbound CRC32, else 2. */
export function formatVersionFor(checksumId: number): number {
  return checksumId === CHECKSUM_CRC32 ? 1 : SHARD_FORMAT_VERSION
}

/** The header of a shard; its format version follows from the checksum id (formatVersionFor). */
export function encodeShardHeader(h: Omit<ShardHeader, 'version'>): Uint8Array {
  const id = utf8(h.id)
  if (id.length > MAX_ID_BYTES) throw new RangeError(`write id is ${id.length} bytes; at most ${MAX_ID_BYTES}`)
  const out = new Uint8Array(FIXED_HEADER + id.length + HEADER_CRC)
  const dv = new DataView(out.buffer)
  out.set(SHARD_MAGIC, 0)
  dv.setUint16(4, formatVersionFor(h.checksum), true)
  dv.setUint16(6, out.length, true)
  dv.setUint8(8, h.checksum)
  dv.setUint16(10, h.index, true)
  dv.setUint16(12, h.k, true)
  dv.setUint16(14, h.m, true)
  dv.setUint32(16, h.blockSize, true)
  dv.setUint16(20, id.length, true)
  out.set(id, FIXED_HEADER)
  dv.setUint32(FIXED_HEADER + id.length, crc32Js(out.subarray(0, FIXED_HEADER + id.length)), true)
  return out
}

/** Parses and checks a header (magic, version, CRC); `bytes` may extend past it. */
export function parseShardHeader(bytes: Uint8Array): ShardHeader {
  if (bytes.length < FIXED_HEADER + HEADER_CRC)
    throw new ShardFormatError(`shard header truncated (${bytes.length} bytes)`)
  for (let i = 0; i < 4; i++)
    if (bytes[i] !== SHARD_MAGIC[i]) throw new ShardFormatError('not a Coffer shard file (bad magic)')
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  const version = dv.getUint16(4, true)
  if (version < 1 || version > SHARD_FORMAT_VERSION)
    throw new ShardFormatError(`unsupported shard format version ${version}`)
  const length = dv.getUint16(6, true)
  const idLen = dv.getUint16(20, true)
  if (length !== FIXED_HEADER + idLen + HEADER_CRC || bytes.length < length)
    throw new ShardFormatError('shard header length is inconsistent or truncated')
  if (dv.getUint32(FIXED_HEADER + idLen, true) !== crc32Js(bytes.subarray(0, FIXED_HEADER + idLen))) {
    throw new ShardFormatError('shard header checksum mismatch')
  }
  const checksum = dv.getUint8(8)
  if (formatVersionFor(checksum) !== version)
    throw new ShardFormatError(`shard format version ${version} does not go with block checksum id ${checksum}`)
  return {
    version,
    checksum,
    index: dv.getUint16(10, true),
    k: dv.getUint16(12, true),
    m: dv.getUint16(14, true),
    blockSize: dv.getUint32(16, true),
    id: fromUtf8(bytes.subarray(FIXED_HEADER, FIXED_HEADER + idLen)),
  }
}

/** The header's own CRC (its last 4 bytes), which the trailer CRC continues from. */
function headerCrc(header: Uint8Array): number {
  return new DataView(header.buffer, header.byteOffset, header.length).getUint32(header.length - HEADER_CRC, true)
}

/**
 * Stripe index → the value stripe s's block checksum starts from, for the shard whose header is
 * `header`. Bound checksums (v2): the CRC32 of u32(s) continued from the header CRC, so the
 * stored checksum names the write id, shard index, k, m, block size and stripe of its block; a
 * block found anywhere else fails. Unbound (v1): 0, the plain CRC32. Readers compute the header
 * from the layout (encodeShardHeader), so checking a block needs no read of the header.
 */
export function blockSeeds(checksum: BlockChecksum, header: Uint8Array): (stripe: number) => number {
  if (!checksum.bound) return () => 0
  const start = headerCrc(header)
  const index = new Uint8Array(4)
  const dv = new DataView(index.buffer)
  return (stripe) => {
    dv.setUint32(0, stripe, true)
    return checksum.compute(index, start)
  }
}

export function encodeTrailer(header: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(TRAILER_LENGTH)
  const dv = new DataView(out.buffer)
  out.set(TRAILER_MAGIC, 0)
  dv.setBigUint64(4, BigInt(size), true)
  dv.setUint32(12, crc32Js(out.subarray(0, 12), headerCrc(header)), true)
  return out
}

/** The payload length a trailer records; throws ShardFormatError when it is not this header's. */
export function parseTrailer(header: Uint8Array, trailer: Uint8Array): number {
  if (trailer.length !== TRAILER_LENGTH) throw new ShardFormatError('shard trailer truncated')
  for (let i = 0; i < 4; i++)
    if (trailer[i] !== TRAILER_MAGIC[i]) throw new ShardFormatError('shard trailer missing (truncated file?)')
  const dv = new DataView(trailer.buffer, trailer.byteOffset, TRAILER_LENGTH)
  if (dv.getUint32(12, true) !== crc32Js(trailer.subarray(0, 12), headerCrc(header)))
    throw new ShardFormatError('shard trailer checksum mismatch')
  const size = dv.getBigUint64(4, true)
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new ShardFormatError('shard payload length out of range')
  return Number(size)
}

/** Where things are in every shard file of one write; the same for all k+m shards. */
export interface ShardOffsets {
  headerLength: number
  checksumSize: number
}

/** Byte offset of stripe `s`'s block in a shard file. Every earlier stripe is full-size. */
export function blockOffset(g: StripeGeometry, o: ShardOffsets, s: number): number {
  return o.headerLength + s * (g.blockSize + o.checksumSize)
}

/** Bytes from stripe `from`'s block to the end of stripe `to`'s checksum (inclusive). */
export function spanLength(g: StripeGeometry, o: ShardOffsets, from: number, to: number): number {
  return blockOffset(g, o, to) + blockLength(g, to) + o.checksumSize - blockOffset(g, o, from)
}

/** Offset of the trailer, which follows the last stripe's checksum. */
export function trailerOffset(g: StripeGeometry, o: ShardOffsets): number {
  const n = stripeCount(g)
  return n === 0 ? o.headerLength : o.headerLength + spanLength(g, o, 0, n - 1)
}

/** Exact length of each shard file of a payload. */
export function shardFileLength(g: StripeGeometry, o: ShardOffsets): number {
  return trailerOffset(g, o) + TRAILER_LENGTH
}
