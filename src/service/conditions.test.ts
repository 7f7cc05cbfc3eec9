import { describe, expect, it } from 'vitest'
import { evaluateConditions, etagMatches } from './conditions.ts'

const etag = '"abc"'
const t = new Date('2025-01-01T00:00:10Z')
const before = new Date('2025-01-01T00:00:00Z')
const after = new Date('2025-01-01T00:01:00Z')

describe('evaluateConditions (S3 precedence)', () => {
  it.each([
    [{}, 'ok'],
    [{ ifMatch: '"abc"' }, 'ok'],
    [{ ifMatch: 'abc' }, 'ok'],
    [{ ifMatch: '"x", "abc"' }, 'ok'],
    [{ ifMatch: '*' }, 'ok'],
    [{ ifMatch: '"x"' }, 'failed'],
    [{ ifUnmodifiedSince: before }, 'failed'],
    [{ ifUnmodifiedSince: after }, 'ok'],
    [{ ifMatch: '"abc"', ifUnmodifiedSince: before }, 'ok'],
    [{ ifNoneMatch: '"abc"' }, 'not-modified'],
    [{ ifNoneMatch: '"x"' }, 'ok'],
    [{ ifModifiedSince: after }, 'not-modified'],
    [{ ifModifiedSince: t }, 'not-modified'],
    [{ ifModifiedSince: before }, 'ok'],
    [{ ifNoneMatch: '"x"', ifModifiedSince: after }, 'ok'],
    [{ ifMatch: '"x"', ifNoneMatch: '"abc"' }, 'failed'],
  ] as const)('%o → %s', (c, expected) => {
    expect(evaluateConditions(c, etag, t)).toBe(expected)
  })

  it('matches weak and quoted tags', () => {
    expect(etagMatches('W/"abc"', etag)).toBe(true)
    expect(etagMatches('"ab"', etag)).toBe(false)
  })
})
