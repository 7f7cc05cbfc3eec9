/**
 * Placement: rendezvous (highest-random-weight) hashing of a key over store ids, and the 64-bit
 * hash behind it. Pure functions over Web APIs only; every gateway must compute the same answer.
 */
import { utf8 } from '../util/bytes.ts'

/** A 64-bit value as two unsigned 32-bit halves (no BigInt: this runs per write and per file). */
export interface Hash64 {
  hi: number
  lo: number
}

// FORMAT: FNV-1a 64 parameters and the murmur3 fmix64 constants. Changing any of them moves every
// stored shard to a different store and fan-out directory. DO NOT CHANGE.
const FNV_OFFSET_HI = 0xcbf29ce4
const FNV_OFFSET_LO = 0x84222325
// The FNV-64 prime is 2^40 + 0x1b3: multiplying by it is `x * 0x1b3 + (x << 40)`.
const FNV_PRIME_LO = 0x1b3
const FMIX_C1: Hash64 = { hi: 0xff51afd7, lo: 0xed558ccd }
const FMIX_C2: Hash64 = { hi: 0xc4ceb9fe, lo: 0x1a85ec53 }
/** Separates key from store id; 0xff never occurs in UTF-8, so `key ‖ sep ‖ id` is unambiguous. */
const SEPARATOR = 0xff

const TWO_32 = 4294967296

/** Continues an FNV-1a 64 hash over `bytes`. */
export function fnv1a64(bytes: Uint8Array, from: Hash64 = { hi: FNV_OFFSET_HI, lo: FNV_OFFSET_LO }): Hash64 {
  let hi = from.hi >>> 0
  let lo = from.lo >>> 0
  for (let i = 0; i < bytes.length; i++) {
    lo = (lo ^ bytes[i]!) >>> 0
    const t = lo * FNV_PRIME_LO // < 2^41: exact in a double
    hi = (Math.imul(hi, FNV_PRIME_LO) + ((lo << 8) | 0) + Math.floor(t / TWO_32)) >>> 0
    lo = t >>> 0
  }
  return { hi, lo }
}

/** High 32 bits of the unsigned 64-bit product a * b, via 16-bit limbs (all exact in doubles). */
function mulHigh32(a: number, b: number): number {
  const a0 = a & 0xffff
  const a1 = a >>> 16
  const b0 = b & 0xffff
  const b1 = b >>> 16
  const p01 = a0 * b1
  const p10 = a1 * b0
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0
}

/** (a * b) mod 2^64. */
function mul64(a: Hash64, b: Hash64): Hash64 {
  const hi = mulHigh32(a.lo, b.lo) + Math.imul(a.hi, b.lo) + Math.imul(a.lo, b.hi)
  return { hi: hi >>> 0, lo: Math.imul(a.lo, b.lo) >>> 0 }
}

/**
 * murmur3's fmix64 finaliser: FNV-1a alone mixes its last bytes poorly into the high bits, and
 * rendezvous compares whole 64-bit weights of strings that differ only at the end (the store id).
 */
export function fmix64(h: Hash64): Hash64 {
  // `k ^= k >>> 33` only touches the low half: the shifted value's high half is zero.
  let k: Hash64 = { hi: h.hi >>> 0, lo: (h.lo ^ (h.hi >>> 1)) >>> 0 }
  k = mul64(k, FMIX_C1)
  k = { hi: k.hi, lo: (k.lo ^ (k.hi >>> 1)) >>> 0 }
  k = mul64(k, FMIX_C2)
  return { hi: k.hi, lo: (k.lo ^ (k.hi >>> 1)) >>> 0 }
}

/** FORMAT: the project's 64-bit string hash: fmix64(FNV-1a 64(UTF-8 of text)). */
export function hash64(text: string): Hash64 {
  return fmix64(fnv1a64(utf8(text)))
}

/** 16 lowercase hex digits, for logs and golden tests. */
export function hash64Hex(h: Hash64): string {
  return h.hi.toString(16).padStart(8, '0') + h.lo.toString(16).padStart(8, '0')
}

/**
 * Store ids ordered by preference for `key`: each store's weight is hash(key ‖ 0xff ‖ id), highest
 * first (ties, practically impossible, fall back to the id). Adding a store only moves the keys
 * that now rank it first, about 1/n of them; removing one moves only the keys it held.
 */
export function rank(key: string, storeIds: readonly string[]): string[] {
  // FNV is a streaming hash, so the key's prefix state is computed once for all stores.
  const prefix = fnv1a64(new Uint8Array([SEPARATOR]), fnv1a64(utf8(key)))
  const scored = storeIds.map((id) => ({ id, w: fmix64(fnv1a64(utf8(id), prefix)) }))
  scored.sort((a, b) => b.w.hi - a.w.hi || b.w.lo - a.w.lo || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return scored.map((s) => s.id)
}
