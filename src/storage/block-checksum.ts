/**
 * The bitrot checksum stored after every shard block: CRC32 (IEEE), native through the Platform
 * port when the runtime has it, else a slicing-by-8 table in JS. Uses only the Platform type.
 */
import type { Platform } from '../util/platform.ts'

/*
 * Why CRC32 (measured on 1 MiB buffers, this project's 2-core VM, Node 20 / Bun 1.4 / Deno 2.9):
 * - zlib.crc32 (native, via Platform.crc32): ≈ 5.5 GB/s on Node; Bun and Deno expose one too.
 * - the JS slicing-by-8 fallback below: ≈ 1.1 GB/s (Node), 1.6–1.7 GB/s (Bun, Deno).
 * - xxh64 in JS needs 64-bit multiplies emulated on 32-bit halves (or BigInt): ≈ 0.13 GB/s, so
 *   it loses badly without a native or wasm build; xxh32 in JS reached 6.5–7.9 GB/s, but is not
 *   needed while the native CRC is this fast.
 * CRC32 detects every burst error up to 32 bits and all 1–3-bit errors, which is what bitrot
 * looks like; a random corruption slips through with probability 2^-32 per block. The value is
 * the same on every runtime whichever path computes it, and it costs far less than the RS
 * encode (≈ 1 GB/s at 4+2), so the algorithm id below can stay 1 for a long time.
 */

/**
 * FORMAT: checksum algorithm ids recorded in the shard header and layout. DO NOT RENUMBER.
 * 1: CRC32 of the block alone (shard format v1; still read, no longer written).
 * 2: CRC32 bound to the block's identity — the CRC32 continues from the shard header and the
 *    stripe index, so a block is accepted only in the shard and stripe it was written for
 *    (shard format v2, shard-format.ts `blockSeeds`). Written by default.
 */
export const CHECKSUM_CRC32 = 1
export const CHECKSUM_CRC32_BOUND = 2

export interface BlockChecksum {
  /** FORMAT: the id stored in shard headers. */
  readonly id: number
  readonly name: string
  /** Bytes appended after each block (little-endian). */
  readonly size: number
  /**
   * True when the stored value is bound to the block's shard and stripe (id 2): callers pass the
   * seed `blockSeeds` gives for that block. Unbound (id 1): the seed is always 0.
   */
  readonly bound: boolean
  /** The CRC of `block`, continuing from `previous` (0: a plain CRC32 of the block). */
  compute(block: Uint8Array, previous?: number): number
  /** Writes the checksum of `block` (started from `seed`) into `out` (size bytes). */
  write(block: Uint8Array, out: Uint8Array, seed?: number): void
  /** True when the `size` bytes in `stored` hold the checksum of `block` started from `seed`. */
  check(block: Uint8Array, stored: Uint8Array, seed?: number): boolean
}

let table: Int32Array | undefined

/** Eight 256-entry tables: byte n's CRC, then shifted through 1..7 more zero bytes. */
function crcTable(): Int32Array {
  if (table) return table
  const t = new Int32Array(256 * 8)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let i = 0; i < 8; i++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!
    for (let s = 1; s < 8; s++) {
      c = t[c & 0xff]! ^ (c >>> 8)
      t[s * 256 + n] = c
    }
  }
  table = t
  return t
}

/** CRC32 (IEEE, as zlib), slicing-by-8: eight bytes per step through eight lookup tables. */
export function crc32Js(b: Uint8Array, previous = 0): number {
  const t = crcTable()
  let c = ~previous
  let i = 0
  const n = b.length
  for (; i + 8 <= n; i += 8) {
    const a = (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) ^ c
    c =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + b[i + 4]!]! ^
      t[512 + b[i + 5]!]! ^
      t[256 + b[i + 6]!]! ^
      t[b[i + 7]!]!
  }
  for (; i < n; i++) c = t[(c ^ b[i]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}

/**
 * The block checksum for this runtime, as new shards are written (id 2, bound) unless `id` says
 * otherwise; `platform` only contributes its optional native CRC32.
 */
export function createBlockChecksum(
  platform?: Pick<Platform, 'crc32'>,
  id: typeof CHECKSUM_CRC32 | typeof CHECKSUM_CRC32_BOUND = CHECKSUM_CRC32_BOUND,
): BlockChecksum {
  const native = platform?.crc32?.bind(platform)
  const compute = native
    ? (b: Uint8Array, previous = 0) => native(b, previous) >>> 0
    : (b: Uint8Array, previous = 0) => crc32Js(b, previous)
  const bound = id === CHECKSUM_CRC32_BOUND
  const name = `${bound ? 'crc32 bound to shard and stripe' : 'crc32'} (${native ? 'native' : 'js'})`
  return {
    id,
    name,
    size: 4,
    bound,
    compute,
    write(block, out, seed = 0) {
      new DataView(out.buffer, out.byteOffset, 4).setUint32(0, compute(block, seed), true)
    },
    check(block, stored, seed = 0) {
      return (
        stored.length === 4 &&
        new DataView(stored.buffer, stored.byteOffset, 4).getUint32(0, true) === compute(block, seed)
      )
    },
  }
}

/** The checksum for an id read from a header or layout; throws for an unknown id. */
export function checksumById(id: number, platform?: Pick<Platform, 'crc32'>): BlockChecksum {
  if (id === CHECKSUM_CRC32 || id === CHECKSUM_CRC32_BOUND) return createBlockChecksum(platform, id)
  throw new RangeError(`unknown block checksum algorithm id ${id}: written by a newer Coffer?`)
}
