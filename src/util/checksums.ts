/**
 * S3 additional-checksum algorithms (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) behind one Hasher
 * shape, plus the multipart COMPOSITE and FULL_OBJECT combinations. Uses the Platform port only.
 */
import type { ChecksumAlgorithm } from './checksum-algorithms.ts'
import type { Hasher, Platform } from './platform.ts'

export { CHECKSUM_ALGORITHMS, CHECKSUM_LENGTHS, type ChecksumAlgorithm } from './checksum-algorithms.ts'

const be32 = (n: number): Uint8Array => {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n >>> 0)
  return out
}

/** A checksum as S3 transmits it (base64 of these bytes): CRCs are big-endian integers. */
export function createChecksum(algorithm: ChecksumAlgorithm, platform: Platform): Hasher {
  switch (algorithm) {
    case 'CRC32': {
      const native = platform.crc32
      if (native) {
        let state = 0
        return {
          update: (d) => {
            state = native(d, state)
          },
          digest: () => be32(state),
        }
      }
      return new Crc32Hasher(CRC32_POLY)
    }
    case 'CRC32C':
      return new Crc32Hasher(CRC32C_POLY)
    case 'CRC64NVME':
      return new Crc64NvmeHasher()
    case 'SHA1':
      return platform.createHasher('sha1')
    case 'SHA256':
      return platform.createHasher('sha256')
  }
}

/** COMPOSITE multipart checksum: checksum over the concatenated raw part checksums (caller appends "-N"). */
export function compositeChecksum(
  algorithm: ChecksumAlgorithm,
  partDigests: Uint8Array[],
  platform: Platform,
): Uint8Array {
  const h = createChecksum(algorithm, platform)
  for (const d of partDigests) h.update(d)
  return h.digest()
}

// 32-bit CRCs in JS, slicing-by-8: @aws-crypto/crc32c goes a byte at a time (about 115 MiB/s
// here), which would make CRC32C the slowest stage of a PUT; this runs several times faster.
// The tests cross-check it against @aws-crypto/crc32 and @aws-crypto/crc32c.
const CRC32_POLY = 0xedb88320
const CRC32C_POLY = 0x82f63b78
const crc32Tables = new Map<number, Uint32Array[]>()

function crc32TablesFor(poly: number): Uint32Array[] {
  const cached = crc32Tables.get(poly)
  if (cached) return cached
  const t = Array.from({ length: 8 }, () => new Uint32Array(256))
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let j = 0; j < 8; j++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1
    t[0]![i] = c >>> 0
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) t[k]![i] = ((t[k - 1]![i]! >>> 8) ^ t[0]![t[k - 1]![i]! & 0xff]!) >>> 0
  }
  crc32Tables.set(poly, t)
  return t
}

class Crc32Hasher implements Hasher {
  private crc = 0xffffffff
  private readonly t: Uint32Array[]
  constructor(poly: number) {
    this.t = crc32TablesFor(poly)
  }

  update(data: Uint8Array): void {
    const [t0, t1, t2, t3, t4, t5, t6, t7] = this.t as [
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
    ]
    let c = this.crc
    let i = 0
    const n = data.length
    for (; i + 8 <= n; i += 8) {
      const a = c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))
      c =
        t7[a & 0xff]! ^
        t6[(a >>> 8) & 0xff]! ^
        t5[(a >>> 16) & 0xff]! ^
        t4[a >>> 24]! ^
        t3[data[i + 4]!]! ^
        t2[data[i + 5]!]! ^
        t1[data[i + 6]!]! ^
        t0[data[i + 7]!]!
    }
    for (; i < n; i++) c = t0[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)
    this.crc = c >>> 0
  }

  digest(): Uint8Array {
    return be32(~this.crc)
  }
}

// CRC64/NVME (reflected polynomial, init and xorout all ones). Written here rather than taken from
// @aws-sdk/crc64-nvme because that package's digest() is async and Hasher.digest() is synchronous;
// the tests cross-check the two. State is kept as two uint32 halves: BigInt would be far slower.
const CRC64_POLY_HI = 0x9a6c9329
const CRC64_POLY_LO = 0xac4bc9b5
let crc64Tables: { hi: Uint32Array[]; lo: Uint32Array[] } | undefined

function crc64NvmeTables(): { hi: Uint32Array[]; lo: Uint32Array[] } {
  if (crc64Tables) return crc64Tables
  // Slicing-by-8: table k maps a byte followed by k zero bytes.
  const hi = Array.from({ length: 8 }, () => new Uint32Array(256))
  const lo = Array.from({ length: 8 }, () => new Uint32Array(256))
  for (let i = 0; i < 256; i++) {
    let h = 0
    let l = i
    for (let j = 0; j < 8; j++) {
      const carry = l & 1
      l = ((l >>> 1) | ((h & 1) << 31)) >>> 0
      h = h >>> 1
      if (carry) {
        h = (h ^ CRC64_POLY_HI) >>> 0
        l = (l ^ CRC64_POLY_LO) >>> 0
      }
    }
    hi[0]![i] = h
    lo[0]![i] = l
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) {
      const h = hi[k - 1]![i]!
      const l = lo[k - 1]![i]!
      const idx = l & 0xff
      lo[k]![i] = (((l >>> 8) | (h << 24)) ^ lo[0]![idx]!) >>> 0
      hi[k]![i] = ((h >>> 8) ^ hi[0]![idx]!) >>> 0
    }
  }
  crc64Tables = { hi, lo }
  return crc64Tables
}

class Crc64NvmeHasher implements Hasher {
  private hi = 0xffffffff
  private lo = 0xffffffff
  private readonly t = crc64NvmeTables()

  update(data: Uint8Array): void {
    const [h0, h1, h2, h3, h4, h5, h6, h7] = this.t.hi as [
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
    ]
    const [l0, l1, l2, l3, l4, l5, l6, l7] = this.t.lo as [
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
    ]
    let hi = this.hi
    let lo = this.lo
    let i = 0
    const n = data.length
    for (; i + 8 <= n; i += 8) {
      const a = (lo ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0
      const b = (hi ^ (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24))) >>> 0
      const a0 = a & 0xff,
        a1 = (a >>> 8) & 0xff,
        a2 = (a >>> 16) & 0xff,
        a3 = a >>> 24
      const b0 = b & 0xff,
        b1 = (b >>> 8) & 0xff,
        b2 = (b >>> 16) & 0xff,
        b3 = b >>> 24
      lo = (l7[a0]! ^ l6[a1]! ^ l5[a2]! ^ l4[a3]! ^ l3[b0]! ^ l2[b1]! ^ l1[b2]! ^ l0[b3]!) >>> 0
      hi = (h7[a0]! ^ h6[a1]! ^ h5[a2]! ^ h4[a3]! ^ h3[b0]! ^ h2[b1]! ^ h1[b2]! ^ h0[b3]!) >>> 0
    }
    for (; i < n; i++) {
      const idx = (lo ^ data[i]!) & 0xff
      lo = (((lo >>> 8) | (hi << 24)) ^ l0[idx]!) >>> 0
      hi = ((hi >>> 8) ^ h0[idx]!) >>> 0
    }
    this.hi = hi
    this.lo = lo
  }

  digest(): Uint8Array {
    const out = new Uint8Array(8)
    const view = new DataView(out.buffer)
    view.setUint32(0, ~this.hi >>> 0)
    view.setUint32(4, ~this.lo >>> 0)
    return out
  }
}

// FULL_OBJECT combination, zlib crc32_combine style: crc(A‖B) = crc(A)·x^(8|B|) mod P ⊕ crc(B),
// which holds for these CRCs because init and xorout are both all ones. Polynomials are in
// reflected form, so the top bit of a width-w value stands for x^0. BigInt keeps one code path
// for 32 and 64 bits; combining is O(parts · log length), not per byte.
const COMBINE_PARAMS = {
  CRC32: { width: 32, poly: 0xedb88320n },
  CRC32C: { width: 32, poly: 0x82f63b78n },
  CRC64NVME: { width: 64, poly: 0x9a6c9329ac4bc9b5n },
} as const
const x2nCache = new Map<string, bigint[]>()

function multModP(a: bigint, b: bigint, width: number, poly: bigint): bigint {
  if (a === 0n) return 0n
  let m = 1n << BigInt(width - 1)
  let p = 0n
  for (;;) {
    if (a & m) {
      p ^= b
      if ((a & (m - 1n)) === 0n) break
    }
    m >>= 1n
    b = b & 1n ? (b >> 1n) ^ poly : b >> 1n
  }
  return p
}

/** x^(2^k) mod P for k = 0..63 (k ≥ 3 covers 8·len for any safe integer length). */
function x2nTable(algorithm: keyof typeof COMBINE_PARAMS): bigint[] {
  const cached = x2nCache.get(algorithm)
  if (cached) return cached
  const { width, poly } = COMBINE_PARAMS[algorithm]
  const table: bigint[] = [1n << BigInt(width - 2)]
  for (let k = 1; k < 64; k++) table.push(multModP(table[k - 1]!, table[k - 1]!, width, poly))
  x2nCache.set(algorithm, table)
  return table
}

function readBigEndian(bytes: Uint8Array): bigint {
  let v = 0n
  for (const b of bytes) v = (v << 8n) | BigInt(b)
  return v
}

/** FULL_OBJECT multipart checksum for CRC algorithms: combine part CRCs in order. */
export function combineCrcs(
  algorithm: 'CRC32' | 'CRC32C' | 'CRC64NVME',
  parts: { digest: Uint8Array; length: number }[],
): Uint8Array {
  const { width, poly } = COMBINE_PARAMS[algorithm]
  const table = x2nTable(algorithm)
  let crc = 0n // the CRC of zero bytes
  for (const part of parts) {
    if (part.digest.length !== width / 8) throw new RangeError(`${algorithm} digest must be ${width / 8} bytes`)
    if (!Number.isSafeInteger(part.length) || part.length < 0)
      throw new RangeError('part length must be a non-negative integer')
    // x^(8·len) mod P, from the binary expansion of len (bit i of len contributes x^(2^(i+3))).
    let xn = 1n << BigInt(width - 1)
    let n = part.length
    for (let k = 3; n > 0; k++, n = Math.floor(n / 2)) {
      if (n % 2 === 1) xn = multModP(table[k]!, xn, width, poly)
    }
    crc = multModP(xn, crc, width, poly) ^ readBigEndian(part.digest)
  }
  const out = new Uint8Array(width / 8)
  for (let i = out.length - 1; i >= 0; i--) {
    out[i] = Number(crc & 0xffn)
    crc >>= 8n
  }
  return out
}
