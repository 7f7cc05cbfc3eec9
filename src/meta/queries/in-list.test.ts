import { describe, expect, it } from 'vitest'
import { padInList } from './in-list.ts'

describe('padInList', () => {
  it('gives lists of 1–500 ids at most ten lengths, each list holding exactly its own ids', () => {
    const lengths = new Set<number>()
    for (let n = 1; n <= 500; n++) {
      const ids = Array.from({ length: n }, (_, i) => i * 7 + 3)
      const padded = padInList(ids)
      lengths.add(padded.length)
      expect(padded.length).toBeGreaterThanOrEqual(n)
      expect(padded.slice(0, n)).toEqual(ids)
      expect(new Set(padded)).toEqual(new Set(ids))
    }
    expect([...lengths].sort((a, b) => a - b)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
  })

  it('leaves an empty list empty and pads past 512 to whole 512s', () => {
    expect(padInList([])).toEqual([])
    expect(padInList(['a'])).toEqual(['a'])
    expect(padInList(['a', 'b', 'c'])).toEqual(['a', 'b', 'c', 'c'])
    expect(padInList(Array.from({ length: 513 }, (_, i) => i))).toHaveLength(1024)
    expect(padInList(Array.from({ length: 1000 }, (_, i) => i))).toHaveLength(1024)
  })
})
