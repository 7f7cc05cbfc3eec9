/**
 * GF(2^8) arithmetic and the small matrix work of Reed–Solomon (encoding matrix, inversion,
 * split-nibble tables) for the SIMD codec. Pure functions over numbers and Uint8Arrays.
 */

/** FORMAT: the field of reed-solomon-erasure / Backblaze JavaReedSolomon, x^8+x^4+x^3+x^2+1. */
const POLY = 0x11d

// Log/exp tables, built on first use (no work at import time). EXP is doubled so that
// EXP[log a + log b] needs no modulo.
let LOG: Uint8Array | undefined
let EXP: Uint8Array | undefined

function tables(): { log: Uint8Array; exp: Uint8Array } {
  if (!LOG || !EXP) {
    const log = new Uint8Array(256)
    const exp = new Uint8Array(512)
    let x = 1
    for (let i = 0; i < 255; i++) {
      exp[i] = x
      log[x] = i
      x <<= 1
      if (x & 0x100) x ^= POLY
    }
    for (let i = 255; i < 512; i++) exp[i] = exp[i - 255]!
    LOG = log
    EXP = exp
  }
  return { log: LOG, exp: EXP }
}

export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0
  const { log, exp } = tables()
  return exp[log[a]! + log[b]!]!
}

export function gfInv(a: number): number {
  if (a === 0) throw new RangeError('GF(2^8): 0 has no inverse')
  const { log, exp } = tables()
  return exp[255 - log[a]!]!
}

export function gfPow(a: number, n: number): number {
  if (n === 0) return 1
  if (a === 0) return 0
  const { log, exp } = tables()
  return exp[(log[a]! * n) % 255]!
}

/** Row-major square or rectangular matrix of field elements. */
export type Matrix = Uint8Array[]

export function matMul(a: Matrix, b: Matrix): Matrix {
  const cols = b[0]?.length ?? 0
  return a.map((row) => {
    const out = new Uint8Array(cols)
    for (let i = 0; i < row.length; i++) {
      const f = row[i]!
      if (f === 0) continue
      const brow = b[i]!
      for (let c = 0; c < cols; c++) out[c]! ^= gfMul(f, brow[c]!)
    }
    return out
  })
}

/** Gauss–Jordan inversion; throws on a singular matrix (cannot happen for RS submatrices). */
export function matInvert(m: Matrix): Matrix {
  const n = m.length
  const a = m.map((row, r) => {
    const wide = new Uint8Array(2 * n)
    wide.set(row)
    wide[n + r] = 1
    return wide
  })
  for (let col = 0; col < n; col++) {
    let pivot = col
    while (pivot < n && a[pivot]![col] === 0) pivot++
    if (pivot === n) throw new RangeError('GF(2^8): singular matrix')
    ;[a[col], a[pivot]] = [a[pivot]!, a[col]!]
    const prow = a[col]!
    const inv = gfInv(prow[col]!)
    for (let c = 0; c < 2 * n; c++) prow[c] = gfMul(prow[c]!, inv)
    for (let r = 0; r < n; r++) {
      const row = a[r]!
      const f = row[col]!
      if (r === col || f === 0) continue
      for (let c = 0; c < 2 * n; c++) row[c]! ^= gfMul(f, prow[c]!)
    }
  }
  return a.map((row) => row.slice(n))
}

/**
 * FORMAT: the reed-solomon-erasure crate's encoding matrix (k+m rows × k columns): the
 * Vandermonde matrix V[r][c] = r^c times the inverse of its top k×k square, so the top k rows
 * are the identity (data passes through) and rows k.. give parity. Changing it changes every
 * parity byte ever written.
 */
export function encodingMatrix(k: number, m: number): Matrix {
  const v = Array.from({ length: k + m }, (_, r) => Uint8Array.from({ length: k }, (_, c) => gfPow(r, c)))
  return matMul(v, matInvert(v.slice(0, k)))
}

/**
 * The kernel's table layout for `rows` (outputs × inputs coefficients) and one output group:
 * for each input i, for each output g of the group, 32 bytes: c·x for x < 16, then c·(x<<4).
 */
export function nibbleTables(rows: Matrix): Uint8Array {
  const outputs = rows.length
  const inputs = rows[0]?.length ?? 0
  const out = new Uint8Array(inputs * outputs * 32)
  for (let i = 0; i < inputs; i++) {
    for (let g = 0; g < outputs; g++) {
      const c = rows[g]![i]!
      const base = (i * outputs + g) * 32
      for (let x = 0; x < 16; x++) {
        out[base + x] = gfMul(c, x)
        out[base + 16 + x] = gfMul(c, x << 4)
      }
    }
  }
  return out
}

/**
 * Coefficient rows that rebuild `wanted` shards (data or parity indexes) from the k shards
 * `from` (indexes of survivors, k of them): invert the survivors' rows of the encoding matrix
 * to get data back, and fold the parity rows through that inverse so every wanted shard is one
 * multiply-accumulate pass over the same k inputs.
 */
export function decodeRows(matrix: Matrix, from: readonly number[], wanted: readonly number[]): Matrix {
  const k = from.length
  const inverse = matInvert(from.map((r) => matrix[r]!))
  return wanted.map((w) => (w < k ? inverse[w]!.slice() : matMul([matrix[w]!], inverse)[0]!))
}
