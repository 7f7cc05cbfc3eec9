import { describe, expect, it } from 'vitest'
import { byteOrder } from '../meta.testkit.ts'
import { commonPrefixOf, compareCodePoints, markerBoundsStart, seekPage, successor, type SeekFrom } from './seek.ts'

describe('compareCodePoints', () => {
  it('orders as SQLite does (UTF-8 bytes), where UTF-16 code units disagree', () => {
    // U+FFFD is below U+1F600 in code points, but its code unit is above the surrogate 0xD83D.
    expect('\uFFFD' < '\u{1F600}').toBe(false)
    expect(compareCodePoints('\uFFFD', '\u{1F600}')).toBeLessThan(0)
    expect(compareCodePoints('a\u{1F600}b', 'a\u{1F600}c')).toBeLessThan(0)
    expect(compareCodePoints('ab', 'a')).toBeGreaterThan(0)
    expect(compareCodePoints('', '')).toBe(0)
    const keys = ['z', '\u{1F600}', 'a', '\uFFFD', 'ab', '\uE000', '']
    expect([...keys].sort(compareCodePoints)).toEqual([...keys].sort(byteOrder))
  })
})

describe('markerBoundsStart', () => {
  it('a marker at or past the prefix bounds the first fetch; one before it does not', () => {
    expect(markerBoundsStart('logs/', 'logs/2024')).toBe(true)
    expect(markerBoundsStart('logs/', 'logs/')).toBe(true)
    expect(markerBoundsStart('logs/', 'a')).toBe(false)
    expect(markerBoundsStart('', 'anything')).toBe(true)
    // Past the prefix's range entirely still bounds it (the upper bound then empties the page).
    expect(markerBoundsStart('logs/', 'zzz')).toBe(true)
  })
})

describe('successor', () => {
  it('bounds exactly the strings that start with the prefix, in byte order', () => {
    const prefixes = ['a', 'a/', 'photos/2024/', 'z\u00ff', '\ud7ff', 'x\u{1f600}', 'é']
    const probes = [
      '',
      'a',
      'a/',
      'a0',
      'b',
      'a/\u{10ffff}',
      'photos/2024/x',
      'photos/2025',
      'z\u00ff\u0100',
      'z\u0100',
      '\ud7ff\u{10ffff}',
      '\ue000',
      'x\u{1f600}!',
      'x\u{1f601}',
      'é\u{10ffff}',
      'ê',
    ]
    for (const p of prefixes) {
      const s = successor(p)!
      expect(byteOrder(p, s)).toBeLessThan(0)
      for (const k of probes) {
        const inRange = byteOrder(k, p) >= 0 && byteOrder(k, s) < 0
        expect(inRange, `${JSON.stringify(k)} vs prefix ${JSON.stringify(p)}`).toBe(k.startsWith(p))
      }
    }
  })

  it('skips the surrogate range and carries over U+10FFFF', () => {
    expect(successor('\ud7ff')).toBe('\ue000')
    expect(successor('a\u{10ffff}')).toBe('b')
    expect(successor('\u{10ffff}\u{10ffff}')).toBeUndefined()
    expect(successor('')).toBeUndefined()
    // The result is well-formed: never a lone surrogate.
    expect(successor('x\u{1f600}')).toBe('x\u{1f601}')
  })
})

describe('commonPrefixOf', () => {
  it('rolls up at the first delimiter after the prefix', () => {
    expect(commonPrefixOf('a/b/c', 'a/', '/')).toBe('a/b/')
    expect(commonPrefixOf('a/b', 'a/', '/')).toBeUndefined()
    expect(commonPrefixOf('a--b--c', '', '--')).toBe('a--')
  })
})

/** A sorted in-memory "index" with the same seek contract as the SQL fetchers. */
function memoryFetch(keys: string[], counter: { fetches: number; rows: number }) {
  const sorted = [...keys].sort(byteOrder)
  return async (from: SeekFrom<string>, limit: number): Promise<string[]> => {
    counter.fetches++
    const out = sorted
      .filter((k) =>
        'after' in from ? byteOrder(k, from.after) > 0 : 'atOrAfter' in from ? byteOrder(k, from.atOrAfter) >= 0 : true,
      )
      .slice(0, limit)
    counter.rows += out.length
    return out
  }
}

describe('seekPage', () => {
  it('costs one fetch per common prefix, not one row per key under it', async () => {
    const keys: string[] = []
    for (let d = 0; d < 20; d++) for (let k = 0; k < 500; k++) keys.push(`d${String(d).padStart(2, '0')}/k${k}`)
    const counter = { fetches: 0, rows: 0 }
    const page = await seekPage(
      { prefix: '', delimiter: '/', keyOf: (k: string) => k, fetch: memoryFetch(keys, counter) },
      10,
    )
    expect(page.commonPrefixes).toEqual(Array.from({ length: 10 }, (_, d) => `d${String(d).padStart(2, '0')}/`))
    expect(page.isTruncated).toBe(true)
    expect(page.last).toEqual({ commonPrefix: 'd09/' })
    expect(counter.fetches).toBeLessThanOrEqual(12)
    expect(counter.rows).toBeLessThan(100)
  })

  it('max 0 is an empty, untruncated page without any fetch', async () => {
    const counter = { fetches: 0, rows: 0 }
    const page = await seekPage({ prefix: '', keyOf: (k: string) => k, fetch: memoryFetch(['a'], counter) }, 0)
    expect(page).toEqual({ rows: [], commonPrefixes: [], isTruncated: false })
    expect(counter.fetches).toBe(0)
  })
})
