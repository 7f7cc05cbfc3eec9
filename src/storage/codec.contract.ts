/**
 * The contract every ErasureCodec must pass: parity byte-identical to an obviously-correct
 * reference (plain GF(2^8) matrix maths below), and recovery from every erasure pattern up to m.
 */
import { describe, expect, it } from 'vitest'
import { TooFewShards, type ErasureCodec } from './codec.ts'

// ---- Reference GF(2^8), written for clarity, not speed ----------------------------------------
// The field of reed-solomon-erasure / Backblaze JavaReedSolomon: polynomial x^8+x^4+x^3+x^2+1.
const POLY = 0x11d

/** Carry-less "Russian peasant" multiplication reduced by POLY. */
export function gfMul(a: number, b: number): number {
  let r = 0
  while (b > 0) {
    if (b & 1) r ^= a
    a <<= 1
    if (a & 0x100) a ^= POLY
    b >>= 1
  }
  return r
}

export function gfPow(a: number, n: number): number {
  if (n === 0) return 1
  if (a === 0) return 0
  let r = 1
  for (let i = 0; i < n; i++) r = gfMul(r, a)
  return r
}

/** Brute force: the b with a·b = 1. */
export function gfInv(a: number): number {
  for (let b = 1; b < 256; b++) if (gfMul(a, b) === 1) return b
  throw new Error('0 has no inverse')
}

type Matrix = number[][]

function matMul(a: Matrix, b: Matrix): Matrix {
  return a.map((row) => b[0]!.map((_, c) => row.reduce((acc, v, i) => acc ^ gfMul(v, b[i]![c]!), 0)))
}

/** Gauss–Jordan inversion over GF(2^8). */
function matInv(m: Matrix): Matrix {
  const n = m.length
  const a = m.map((row, r) => [...row, ...row.map((_, c) => (c === r ? 1 : 0))])
  for (let col = 0; col < n; col++) {
    const pivot = a.findIndex((row, r) => r >= col && row[col] !== 0)
    if (pivot < 0) throw new Error('singular matrix')
    ;[a[col], a[pivot]] = [a[pivot]!, a[col]!]
    const inv = gfInv(a[col]![col]!)
    a[col] = a[col]!.map((v) => gfMul(v, inv))
    for (let r = 0; r < n; r++) {
      const f = a[r]![col]!
      if (r !== col && f !== 0) a[r] = a[r]!.map((v, c) => v ^ gfMul(f, a[col]![c]!))
    }
  }
  return a.map((row) => row.slice(n))
}

/**
 * The crate's encoding matrix: Vandermonde rows r^c for r in 0..k+m, times the inverse of its
 * top k×k square, so the top k rows are the identity (systematic) and the rest give parity.
 */
export function referenceMatrix(k: number, m: number): Matrix {
  const vandermonde = Array.from({ length: k + m }, (_, r) => Array.from({ length: k }, (_, c) => gfPow(r, c)))
  return matMul(vandermonde, matInv(vandermonde.slice(0, k)))
}

/** Parity by the definition: parity[j][x] = Σ_c M[k+j][c]·data[c][x]. */
export function referenceParity(data: Uint8Array[], m: number): Uint8Array[] {
  const k = data.length
  const matrix = referenceMatrix(k, m)
  const len = data[0]?.length ?? 0
  return Array.from({ length: m }, (_, j) => {
    const out = new Uint8Array(len)
    for (let x = 0; x < len; x++) {
      let acc = 0
      for (let c = 0; c < k; c++) acc ^= gfMul(matrix[k + j]![c]!, data[c]![x]!)
      out[x] = acc
    }
    return out
  })
}

// ---- The suite --------------------------------------------------------------------------------

function randomBlocks(n: number, len: number): Uint8Array[] {
  return Array.from({ length: n }, () => {
    const b = new Uint8Array(len)
    for (let i = 0; i < len; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536))
    return b
  })
}

/** Every subset of {0..n-1} with 1..max members. */
function erasurePatterns(n: number, max: number): number[][] {
  const out: number[][] = []
  for (let mask = 1; mask < 1 << n; mask++) {
    const set = [...Array(n).keys()].filter((i) => mask & (1 << i))
    if (set.length <= max) out.push(set)
  }
  return out
}

export function codecContract(name: string, factory: () => ErasureCodec | Promise<ErasureCodec>): void {
  describe(`ErasureCodec contract: ${name}`, () => {
    it('the reference matrix is systematic (top k rows are the identity)', () => {
      const mat = referenceMatrix(4, 2)
      for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(mat[r]![c]).toBe(r === c ? 1 : 0)
    })

    for (const [k, m, len] of [
      [4, 2, 1000],
      [8, 4, 333],
      [1, 1, 64],
      [3, 0, 17],
      [10, 6, 96],
    ] as const) {
      it(`${k}+${m}: parity is byte-identical to the reference`, async () => {
        const codec = await factory()
        const data = randomBlocks(k, len)
        const parity = randomBlocks(m, len) // garbage in: encode must overwrite it
        codec.encode(data, parity)
        const want = referenceParity(data, m)
        for (let j = 0; j < m; j++)
          expect(Buffer.from(parity[j]!).equals(Buffer.from(want[j]!)), `parity ${j}`).toBe(true)
        expect(codec.verify([...data, ...parity], k)).toBe(true)
        if (m > 0) {
          parity[m - 1]![len >> 1] ^= 0x40
          expect(codec.verify([...data, ...parity], k)).toBe(false)
        }
      })
    }

    const recoveryCases: [number, number, number[][]][] = [
      [4, 2, erasurePatterns(6, 2)],
      [8, 4, [[0], [11], [0, 1, 2, 3], [8, 9, 10, 11], [1, 5, 9, 10], [3, 7], [2, 4, 6]]],
    ]
    for (const [k, m, patterns] of recoveryCases) {
      it(`${k}+${m}: recovers every listed erasure pattern (${patterns.length}), data and parity`, async () => {
        const codec = await factory()
        const len = 4099 // odd length: no kernel may assume alignment
        const data = randomBlocks(k, len)
        const parity = referenceParity(data, m)
        const full = [...data, ...parity]
        for (const lost of patterns) {
          const present = full.map((_, i) => !lost.includes(i))
          // Alternate: undefined holes (allocated by the codec) and garbage buffers (overwritten).
          const shards = full.map((b, i) =>
            present[i] ? b.slice() : lost[0]! % 2 ? undefined : new Uint8Array(len).fill(0xee),
          )
          const got = codec.reconstruct(shards, present, k)
          for (let i = 0; i < k + m; i++)
            expect(Buffer.from(got[i]!).equals(Buffer.from(full[i]!)), `lost ${lost} shard ${i}`).toBe(true)
          // dataOnly: data comes back, missing parity is not computed.
          const partial = full.map((b, i) => (present[i] ? b : undefined))
          const d = codec.reconstruct(partial, present, k, true)
          for (let i = 0; i < k; i++) expect(Buffer.from(d[i]!).equals(Buffer.from(full[i]!))).toBe(true)
          for (const i of lost) if (i >= k) expect(d[i]).toBeUndefined()
        }
      })
    }

    it('treats holes in a sparse shards/present array as missing', async () => {
      const codec = await factory()
      const data = randomBlocks(4, 100)
      const full = [...data, ...referenceParity(data, 2)]
      const shards: (Uint8Array | undefined)[] = new Array(6)
      for (const i of [1, 2, 3, 4]) shards[i] = full[i]
      const got = codec.reconstruct(shards, shards.map(Boolean), 4) // map keeps the holes at 0 and 5
      for (let i = 0; i < 6; i++) expect(Buffer.from(got[i]!).equals(Buffer.from(full[i]!)), `shard ${i}`).toBe(true)
    })

    it('refuses to reconstruct from fewer than k shards', async () => {
      const codec = await factory()
      const data = randomBlocks(4, 10)
      const full = [...data, ...referenceParity(data, 2)]
      const present = [false, false, false, true, true, true]
      expect(() =>
        codec.reconstruct(
          full.map((b, i) => (present[i] ? b : undefined)),
          present,
          4,
        ),
      ).toThrow(TooFewShards)
    })

    it('rejects misuse the same way in every kernel: geometry, flag count, a present shard that is absent', async () => {
      const codec = await factory()
      const data = randomBlocks(4, 10)
      const full = [...data, ...referenceParity(data, 2)]
      expect(() => codec.encode([], [new Uint8Array(1)])).toThrow(/unsupported geometry 0\+1/)
      expect(() => codec.reconstruct(full.slice(), [true, true, true, true, true], 4)).toThrow(
        /6 shards but 5 presence flags/,
      )
      const holed: (Uint8Array | undefined)[] = full.slice()
      holed[2] = undefined
      expect(() =>
        codec.reconstruct(
          holed,
          full.map(() => true),
          4,
        ),
      ).toThrow(/shard 2 is marked present but missing/)
      expect(() => codec.verify(full, 0)).toThrow(RangeError)
    })

    it('rejects blocks of unequal length', async () => {
      const codec = await factory()
      expect(() => codec.encode([new Uint8Array(4), new Uint8Array(5)], [new Uint8Array(4)])).toThrow(RangeError)
    })

    it('handles empty blocks', async () => {
      const codec = await factory()
      const parity = [new Uint8Array(0)]
      codec.encode([new Uint8Array(0), new Uint8Array(0)], parity)
      expect(parity[0]!.length).toBe(0)
    })

    it('is reusable across geometries and sizes (no state leaks between calls)', async () => {
      const codec = await factory()
      for (const [k, m, len] of [
        [4, 2, 50_000],
        [2, 1, 10],
        [6, 3, 70_000],
        [4, 2, 7],
      ] as const) {
        const data = randomBlocks(k, len)
        const parity = randomBlocks(m, len)
        codec.encode(data, parity)
        const want = referenceParity(data, m)
        for (let j = 0; j < m; j++) expect(Buffer.from(parity[j]!).equals(Buffer.from(want[j]!))).toBe(true)
      }
    })
  })
}
