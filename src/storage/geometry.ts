/**
 * Erasure geometry: `--ec K+M` parsing and validation, quorums, and the stripe/block arithmetic
 * that maps a payload byte range onto stripes and blocks. Pure functions, no imports.
 */

/** The default erasure set: survives any 2 lost shards at 1.5× storage. */
export const DEFAULT_EC = { k: 4, m: 2 } as const
/** 256 KiB blocks → 1 MiB stripes at 4+2: large sequential I/O, a few MiB of memory per stream. */
export const DEFAULT_BLOCK_SIZE = 256 * 1024
/** GF(2^8) has 256 elements: a Reed–Solomon code over it has at most 256 shards. */
export const MAX_SHARDS = 256
/** Blocks are read and checksummed whole; past this, one block alone strains memory per stream. */
export const MAX_BLOCK_SIZE = 16 * 1024 * 1024

export interface Ec {
  k: number
  m: number
}

/** Parses `K+M` (e.g. `4+2`); throws with what to type instead. */
export function parseEc(text: string): Ec {
  const match = /^\s*(\d{1,3})\s*\+\s*(\d{1,3})\s*$/.exec(text)
  if (!match) throw new RangeError(`--ec must look like K+M (data+parity shards), e.g. 4+2; got "${text}"`)
  return { k: Number(match[1]), m: Number(match[2]) }
}

/** Problems with `ec` for `stores` stores, each saying what to change; empty when usable. */
export function ecProblems(ec: Ec, stores: number): string[] {
  const { k, m } = ec
  const out: string[] = []
  if (!Number.isInteger(k) || k < 1) out.push(`--ec: K (data shards) must be at least 1, got ${k}`)
  if (!Number.isInteger(m) || m < 0) out.push(`--ec: M (parity shards) must be 0 or more, got ${m}`)
  if (k + m > MAX_SHARDS) out.push(`--ec: K+M must be at most ${MAX_SHARDS}, got ${k + m}`)
  else if (k + m > stores) {
    out.push(
      `--ec ${k}+${m} needs ${k + m} drives or nodes (one shard each) but only ${stores} are configured: add ${k + m - stores} or lower K+M`,
    )
  }
  return out
}

/** Throws a RangeError listing every problem (start-up validation). */
export function validateEc(ec: Ec, stores: number): void {
  const problems = ecProblems(ec, stores)
  if (problems.length > 0) throw new RangeError(problems.join('; '))
}

export function validateBlockSize(blockSize: number): void {
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > MAX_BLOCK_SIZE) {
    throw new RangeError(`block size must be an integer in 1..${MAX_BLOCK_SIZE}, got ${blockSize}`)
  }
}

/**
 * Shards that must be durable for a write to succeed: k, plus one when k = m, so two writes that
 * each reached only half the shards can never both count as stored.
 */
export function writeQuorum({ k, m }: Ec): number {
  return k + (k === m ? 1 : 0)
}

/** The stripe maths of one payload. Full stripes hold k × blockSize bytes; the last may be short. */
export interface StripeGeometry {
  k: number
  m: number
  blockSize: number
  /** Payload length in bytes. */
  size: number
}

export const stripeBytes = (g: StripeGeometry): number => g.k * g.blockSize

export function stripeCount(g: StripeGeometry): number {
  return Math.ceil(g.size / stripeBytes(g))
}

/** Payload bytes carried by stripe `s`. */
export function stripeDataLength(g: StripeGeometry, s: number): number {
  return Math.min(stripeBytes(g), g.size - s * stripeBytes(g))
}

/**
 * Block length of stripe `s` (all k+m blocks of a stripe have the same length). Full stripes use
 * blockSize; the last stripe shrinks to ceil(data / k), so a 1-byte object costs k+m bytes of
 * blocks, not k+m × 256 KiB. The bytes past the payload end are zero padding.
 */
export function blockLength(g: StripeGeometry, s: number): number {
  const data = stripeDataLength(g, s)
  return data === stripeBytes(g) ? g.blockSize : Math.ceil(data / g.k)
}

/** The part of one stripe a range covers: payload bytes [from, to) relative to the stripe start. */
export interface StripeSlice {
  stripe: number
  from: number
  to: number
  /** Data blocks holding those bytes: firstBlock..lastBlock inclusive. */
  firstBlock: number
  lastBlock: number
}

export function checkRange(g: StripeGeometry, start: number, end: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end || end > g.size) {
    throw new RangeError(`invalid range [${start}, ${end}) of a ${g.size}-byte payload`)
  }
}

/** Stripes touched by a non-empty range [start, end): first..last inclusive. */
export function stripeSpan(g: StripeGeometry, start: number, end: number): { first: number; last: number } {
  const sb = stripeBytes(g)
  return { first: Math.floor(start / sb), last: Math.floor((end - 1) / sb) }
}

/** The slice of stripe `s` that payload bytes [start, end) cover (the range must touch `s`). */
export function sliceOf(g: StripeGeometry, s: number, start: number, end: number): StripeSlice {
  const sb = stripeBytes(g)
  const from = Math.max(start - s * sb, 0)
  const to = Math.min(end - s * sb, stripeDataLength(g, s))
  const bl = blockLength(g, s)
  return { stripe: s, from, to, firstBlock: Math.floor(from / bl), lastBlock: Math.floor((to - 1) / bl) }
}

/** Every stripe slice of [start, end), in order (an empty range touches none). */
export function rangeToStripes(g: StripeGeometry, start: number, end: number): StripeSlice[] {
  checkRange(g, start, end)
  if (start === end) return []
  const { first, last } = stripeSpan(g, start, end)
  const out: StripeSlice[] = []
  for (let s = first; s <= last; s++) out.push(sliceOf(g, s, start, end))
  return out
}
