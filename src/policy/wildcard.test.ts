import { describe, expect, it } from 'vitest'
import { wildcardMatch } from './wildcard.ts'

describe('wildcardMatch', () => {
  it.each([
    ['*', '', true],
    ['*', 'anything/at/all', true],
    ['a*', 'abc', true],
    ['a*c', 'abbbc', true],
    ['a*c', 'abbbd', false],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['arn:aws:s3:::b/home/*', 'arn:aws:s3:::b/home/x/y', true],
    ['arn:aws:s3:::b/home/*', 'arn:aws:s3:::b/homes', false],
    ['*a*b*', 'xxaxxbxx', true],
    ['*a*b*', 'xxbxxaxx', false],
    ['abc', 'ABC', false],
    ['', '', true],
    ['', 'a', false],
  ])('%s ~ %s → %s', (p, t, want) => {
    expect(wildcardMatch(p, t)).toBe(want)
  })

  it('matches actions case-insensitively on request', () => {
    expect(wildcardMatch('s3:get*', 's3:GetObject', true)).toBe(true)
    expect(wildcardMatch('s3:get*', 's3:GetObject')).toBe(false)
  })
})
