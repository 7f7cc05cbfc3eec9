import { describe, expect, it } from 'vitest'
import { cipherLength, PACKAGE_PAYLOAD, PACKAGE_SIZE, packagePayloadLength } from './package-format.ts'
import { planRange } from './ranges.ts'

const P = PACKAGE_PAYLOAD

/** The plan by brute force: which packages hold a byte of the range, where they sit in the ciphertext. */
function brute(size: number, start: number, end: number) {
  const pkgs = new Set<number>()
  for (const b of [start, end - 1]) pkgs.add(Math.floor(b / P))
  const first = Math.min(...pkgs)
  const last = Math.max(...pkgs)
  let cipherEnd = 0
  for (let i = 0; i <= last; i++) cipherEnd += packagePayloadLength(size, i) + 16
  return {
    firstPackage: first,
    lastPackage: last,
    cipherStart: first * PACKAGE_SIZE,
    cipherEnd,
    skip: start - first * P,
    take: end - start,
  }
}

describe('planRange', () => {
  it('matches the brute-force mapping across package boundaries', () => {
    const sizes = [1, 2, P - 1, P, P + 1, 2 * P, 3 * P + 5]
    for (const size of sizes) {
      const points = [
        ...new Set(
          [0, 1, P - 1, P, P + 1, 2 * P - 1, 2 * P, 2 * P + 1, size - 1, size].filter((x) => x >= 0 && x <= size),
        ),
      ]
      for (const s of points)
        for (const e of points)
          if (e > s) expect(planRange(size, s, e), `${size} [${s},${e})`).toEqual(brute(size, s, e))
    }
  })

  it('ends the cipher range at cipherLength for the final package', () => {
    const size = 3 * P + 5
    expect(planRange(size, 0, size).cipherEnd).toBe(cipherLength(size))
    expect(planRange(size, size - 1, size)).toMatchObject({
      firstPackage: 3,
      lastPackage: 3,
      cipherStart: 3 * PACKAGE_SIZE,
      skip: 4,
      take: 1,
    })
  })

  it('maps an empty range to no package and rejects ranges outside the object', () => {
    expect(planRange(10, 5, 5).take).toBe(0)
    expect(planRange(0, 0, 0).lastPackage).toBeLessThan(planRange(0, 0, 0).firstPackage)
    expect(() => planRange(10, 5, 11)).toThrow(RangeError)
    expect(() => planRange(10, 6, 5)).toThrow(RangeError)
    expect(() => planRange(10, -1, 5)).toThrow(RangeError)
    expect(() => planRange(-1, 0, 0)).toThrow(RangeError)
  })
})
