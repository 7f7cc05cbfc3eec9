import { describe, expect, it } from 'vitest'
import { gfInv as refInv, gfMul as refMul, gfPow as refPow, referenceMatrix } from './codec.contract.ts'
import { decodeRows, encodingMatrix, gfInv, gfMul, gfPow, matInvert, matMul, nibbleTables } from './gf256.ts'

const identity = (n: number) =>
  Array.from({ length: n }, (_, r) => Uint8Array.from({ length: n }, (_, c) => (r === c ? 1 : 0)))

describe('gf256', () => {
  it('multiplies, inverts and raises like the contract reference, for every element', () => {
    for (let a = 0; a < 256; a++) {
      for (let b = 0; b < 256; b++) if (gfMul(a, b) !== refMul(a, b)) expect.fail(`${a}·${b}`)
      if (a > 0) expect(gfInv(a)).toBe(refInv(a))
      for (const n of [0, 1, 2, 7, 254, 255, 300]) if (gfPow(a, n) !== refPow(a, n)) expect.fail(`${a}^${n}`)
    }
    expect(() => gfInv(0)).toThrow(RangeError)
  })

  it('builds the crate encoding matrix (same as the contract reference)', () => {
    for (const [k, m] of [
      [1, 1],
      [4, 2],
      [8, 4],
      [12, 4],
      [10, 6],
      [17, 3],
    ] as const) {
      const ours = encodingMatrix(k, m).map((r) => [...r])
      expect(ours).toEqual(referenceMatrix(k, m))
    }
  })

  it('inverts: M · M⁻¹ = I, and refuses a singular matrix', () => {
    const rows = encodingMatrix(6, 4)
    const sub = [rows[1]!, rows[3]!, rows[6]!, rows[7]!, rows[8]!, rows[9]!]
    expect(matMul(sub, matInvert(sub)).map((r) => [...r])).toEqual(identity(6).map((r) => [...r]))
    expect(() => matInvert([Uint8Array.of(1, 2), Uint8Array.of(2, 4)])).toThrow(/singular/)
  })

  it('decodeRows gives rows that map the survivors back to every wanted shard', () => {
    const k = 5
    const mat = encodingMatrix(k, 3)
    const from = [0, 2, 5, 6, 7]
    const wanted = [1, 3, 4, 5]
    const rows = decodeRows(mat, from, wanted)
    // For an arbitrary data vector d: shard s = mat[s]·d, and rows·(survivors) must equal it.
    const d = [17, 200, 3, 99, 254]
    const shard = (s: number) => mat[s]!.reduce((acc, c, i) => acc ^ gfMul(c, d[i]!), 0)
    const survivors = from.map(shard)
    for (const [r, w] of wanted.entries())
      expect(rows[r]!.reduce((acc, c, i) => acc ^ gfMul(c, survivors[i]!), 0)).toBe(shard(w))
  })

  it('lays out split-nibble tables per input, then per output', () => {
    const rows = [Uint8Array.of(0x53, 7), Uint8Array.of(1, 0)]
    const t = nibbleTables(rows)
    expect(t.length).toBe(2 * 2 * 32)
    for (let i = 0; i < 2; i++) {
      for (let g = 0; g < 2; g++) {
        const base = (i * 2 + g) * 32
        for (let b = 0; b < 256; b++)
          expect(t[base + (b & 15)]! ^ t[base + 16 + (b >> 4)]!).toBe(gfMul(rows[g]![i]!, b))
      }
    }
  })
})
