import { describe, expect, it } from 'vitest'
import {
  blockLength,
  ecProblems,
  parseEc,
  rangeToStripes,
  stripeCount,
  stripeDataLength,
  validateEc,
  writeQuorum,
  type StripeGeometry,
} from './geometry.ts'

describe('--ec parsing and validation', () => {
  it('parses K+M', () => {
    expect(parseEc('4+2')).toEqual({ k: 4, m: 2 })
    expect(parseEc(' 8 + 4 ')).toEqual({ k: 8, m: 4 })
    expect(parseEc('1+0')).toEqual({ k: 1, m: 0 })
    for (const bad of ['4', '4+', '+2', '4-2', 'a+b', '4+2+1', '']) expect(() => parseEc(bad), bad).toThrow(/K\+M/)
  })

  it('validates against the number of stores with actionable messages', () => {
    expect(ecProblems({ k: 4, m: 2 }, 6)).toEqual([])
    expect(ecProblems({ k: 1, m: 0 }, 1)).toEqual([])
    expect(ecProblems({ k: 4, m: 2 }, 5)).toEqual([
      '--ec 4+2 needs 6 drives or nodes (one shard each) but only 5 are configured: add 1 or lower K+M',
    ])
    expect(ecProblems({ k: 0, m: 2 }, 6)[0]).toMatch(/K \(data shards\) must be at least 1/)
    expect(ecProblems({ k: 2, m: -1 }, 6)[0]).toMatch(/M \(parity shards\) must be 0 or more/)
    expect(ecProblems({ k: 200, m: 100 }, 400)[0]).toMatch(/at most 256/)
    expect(() => validateEc({ k: 4, m: 2 }, 3)).toThrow(/needs 6 drives/)
  })

  it('write quorum is k, plus one when k = m', () => {
    expect(writeQuorum({ k: 4, m: 2 })).toBe(4)
    expect(writeQuorum({ k: 2, m: 2 })).toBe(3)
    expect(writeQuorum({ k: 3, m: 0 })).toBe(3)
  })
})

describe('stripe maths', () => {
  const g = (size: number): StripeGeometry => ({ k: 4, m: 2, blockSize: 100, size })

  it('counts stripes and shrinks the last stripe’s blocks', () => {
    expect(stripeCount(g(0))).toBe(0)
    expect(stripeCount(g(1))).toBe(1)
    expect(stripeCount(g(400))).toBe(1)
    expect(stripeCount(g(401))).toBe(2)
    expect(blockLength(g(401), 0)).toBe(100)
    expect(stripeDataLength(g(401), 1)).toBe(1)
    expect(blockLength(g(401), 1)).toBe(1)
    expect(blockLength(g(405), 1)).toBe(2) // ceil(5 / 4)
    expect(blockLength(g(800), 1)).toBe(100) // an exactly full last stripe keeps full blocks
  })

  it('maps ranges to stripes and blocks, checked against a byte-by-byte model', () => {
    for (const size of [1, 99, 100, 399, 400, 401, 1234]) {
      const geo = g(size)
      // Model: byte b lives in stripe floor(b / 400), block floor(offsetInStripe / blockLength).
      const where = (b: number) => {
        const s = Math.floor(b / 400)
        return { s, blk: Math.floor((b - s * 400) / blockLength(geo, s)) }
      }
      for (const [start, end] of [
        [0, size],
        [0, 1],
        [size - 1, size],
        [Math.floor(size / 3), Math.floor((2 * size) / 3) + 1],
      ]) {
        if (start >= end) continue
        const slices = rangeToStripes(geo, start!, end!)
        expect(slices.reduce((a, s) => a + s.to - s.from, 0)).toBe(end! - start!)
        expect(slices[0]!.stripe).toBe(where(start!).s)
        expect(slices[0]!.firstBlock).toBe(where(start!).blk)
        expect(slices.at(-1)!.stripe).toBe(where(end! - 1).s)
        expect(slices.at(-1)!.lastBlock).toBe(where(end! - 1).blk)
      }
    }
    expect(rangeToStripes(g(10), 3, 3)).toEqual([])
    expect(() => rangeToStripes(g(10), 5, 11)).toThrow(RangeError)
    expect(() => rangeToStripes(g(10), 6, 5)).toThrow(RangeError)
  })
})
