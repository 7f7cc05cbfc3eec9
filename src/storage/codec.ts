/**
 * The erasure codec port: systematic Reed–Solomon over GF(2^8) on equal-length blocks. Pure
 * interface; kernels (wasm today, a SIMD kernel later) implement it and must pass codec.contract.ts.
 */

/**
 * One codec serves every geometry: k and m are read from the array lengths of each call.
 * Parity is defined by the reed-solomon-erasure (Backblaze-style) generator matrix: a Vandermonde
 * matrix made systematic. Every implementation must produce byte-identical parity, because shards
 * written by one kernel are read and healed by another.
 */
export interface ErasureCodec {
  /** For logs and benchmarks. */
  readonly name: string
  /**
   * Computes m parity blocks from k data blocks. All blocks have the same length; `parityOut`
   * holds m buffers of that length, overwritten in place.
   */
  encode(dataShards: readonly Uint8Array[], parityOut: readonly Uint8Array[]): void
  /**
   * Fills the missing shards (present[i] false) from the others; at least k must be present.
   * `shards` has k+m entries in shard order (k is passed: the array alone cannot tell data from
   * parity); a missing entry may be undefined (allocated here) or a buffer of the block length
   * (overwritten). With `dataOnly`, missing parity is left as given (a read needs only data).
   * Returns `shards`, completed. Throws TooFewShards below k.
   */
  reconstruct(
    shards: (Uint8Array | undefined)[],
    present: readonly boolean[],
    k: number,
    dataOnly?: boolean,
  ): Uint8Array[]
  /** True when the m parity blocks match the k data blocks (all k+m given). */
  verify(shards: readonly Uint8Array[], k: number): boolean
}

export class TooFewShards extends Error {
  constructor(
    readonly present: number,
    readonly needed: number,
  ) {
    super(`cannot reconstruct: ${present} shards present, ${needed} needed`)
  }
}

/** Shared argument checks, so every kernel rejects the same misuse the same way. */
export function checkBlocks(blocks: readonly (Uint8Array | undefined)[], what: string): number {
  let len = -1
  for (const b of blocks) {
    if (!b) continue
    if (len === -1) len = b.length
    else if (b.length !== len) throw new RangeError(`${what}: blocks must have equal lengths (${len} vs ${b.length})`)
  }
  return len
}

/** GF(2^8) has 256 elements: no Reed–Solomon code over it has more than 256 shards. */
export const MAX_SHARDS = 256

export function checkGeometry(k: number, m: number): void {
  if (!(k >= 1 && m >= 0 && k + m <= MAX_SHARDS))
    throw new RangeError(`unsupported geometry ${k}+${m}: need k >= 1, m >= 0, k+m <= ${MAX_SHARDS}`)
}

/**
 * reconstruct's shared preparation: checks geometry and flags (TooFewShards below k), then
 * allocates every missing shard the call will fill (data always, parity unless `dataOnly`).
 * Indexed loops throughout: holes in a sparse `present` or `shards` must read as missing.
 */
export function prepareReconstruct(
  shards: (Uint8Array | undefined)[],
  present: readonly boolean[],
  k: number,
  dataOnly: boolean,
): { m: number; len: number } {
  const n = shards.length
  const m = n - k
  checkGeometry(k, m)
  if (present.length !== n) throw new RangeError(`reconstruct: ${n} shards but ${present.length} presence flags`)
  let have = 0
  for (let i = 0; i < n; i++) {
    if (!present[i]) continue
    if (!shards[i]) throw new TypeError(`reconstruct: shard ${i} is marked present but missing`)
    have++
  }
  if (have < k) throw new TooFewShards(have, k)
  const len = checkBlocks(shards, 'reconstruct')
  for (let i = 0; i < n; i++) if (!present[i] && !(dataOnly && i >= k)) shards[i] ??= new Uint8Array(len)
  return { m, len }
}
