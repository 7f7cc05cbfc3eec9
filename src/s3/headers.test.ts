import { describe, expect, it } from 'vitest'
import { S3Error } from './errors.ts'
import { parseRange, readObjectMetadata } from './headers.ts'

describe('parseRange', () => {
  it.each([
    ['bytes=0-9', 100, { start: 0, end: 10 }],
    ['bytes=90-', 100, { start: 90, end: 100 }],
    ['bytes=-10', 100, { start: 90, end: 100 }],
    ['bytes=-500', 100, { start: 0, end: 100 }],
    ['bytes=50-5000', 100, { start: 50, end: 100 }],
    ['bytes=5-4', 100, undefined],
    ['bytes=0-1,5-6', 100, undefined],
    ['items=0-1', 100, undefined],
    // An empty object: a suffix range selects nothing, so the whole (empty) object, 200.
    ['bytes=-1', 0, undefined],
    ['bytes=-500', 0, undefined],
  ] as const)('%s of %i', (h, size, expected) => {
    expect(parseRange(h, size)).toEqual(expected)
  })

  it.each([
    ['bytes=100-', 100],
    ['bytes=-0', 100],
    ['bytes=0-', 0],
    ['bytes=0-0', 0],
    ['bytes=-0', 0],
    ['bytes=5-9', 0],
  ] as const)('%s of %i is unsatisfiable', (h, size) => {
    try {
      parseRange(h, size)
      expect.unreachable()
    } catch (e) {
      expect((e as S3Error).code).toBe('InvalidRange')
      expect((e as S3Error).headers['content-range']).toBe(`bytes */${size}`)
    }
  })
})

describe('readObjectMetadata', () => {
  it('keeps stored headers and user metadata, drops aws-chunked', () => {
    const m = readObjectMetadata(
      new Headers({
        'content-type': 'text/plain',
        'cache-control': 'no-cache',
        'content-encoding': 'aws-chunked,gzip',
        'X-Amz-Meta-Colour': 'blue',
        'x-amz-date': 'x',
      }),
    )
    expect(m).toEqual({
      contentType: 'text/plain',
      headers: { 'cache-control': 'no-cache', 'content-encoding': 'gzip' },
      userMeta: { colour: 'blue' },
    })
  })

  it('keeps any other Content-Encoding exactly as sent (S3 returns "deflate, gzip" as is)', () => {
    const enc = (v: string) => readObjectMetadata(new Headers({ 'content-encoding': v })).headers['content-encoding']
    expect(enc('deflate, gzip')).toBe('deflate, gzip')
    expect(enc('aws-chunked, deflate, gzip')).toBe('deflate, gzip')
    expect(enc('aws-chunked')).toBeUndefined()
  })

  it('refuses more than 2 KB of user metadata', () => {
    expect(() => readObjectMetadata(new Headers({ 'x-amz-meta-big': 'x'.repeat(2100) }))).toThrow(S3Error)
  })
})
