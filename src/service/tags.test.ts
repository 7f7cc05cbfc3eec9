import { describe, expect, it } from 'vitest'
import { ServiceError } from './errors.ts'
import { checkBucketTags, checkObjectTags, type Tag } from './tags.ts'

const tags = (n: number): Tag[] => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `v${i}` }))

function refusal(f: () => unknown): { code: string; message: string } {
  try {
    f()
  } catch (e) {
    if (e instanceof ServiceError) return { code: e.code, message: e.message }
    throw e
  }
  throw new Error('expected a refusal')
}

describe('object tag sets', () => {
  it('takes up to 10 tags; the 11th is InvalidTag from a document and BadRequest from the header', () => {
    expect(checkObjectTags(tags(10), 'document')).toHaveLength(10)
    expect(refusal(() => checkObjectTags(tags(11), 'document')).code).toBe('InvalidTag')
    expect(refusal(() => checkObjectTags(tags(11), 'header')).code).toBe('BadRequest')
  })

  it('counts Unicode characters, not bytes or UTF-16 units: 128 for a key, 256 for a value', () => {
    const key = '𝄞'.repeat(128) // 4 UTF-8 bytes, 2 UTF-16 units each
    expect(checkObjectTags([{ key, value: '𝄞'.repeat(256) }], 'document')).toHaveLength(1)
    expect(refusal(() => checkObjectTags([{ key: `${key}a`, value: '' }], 'document')).message).toMatch(/TagKey/)
    expect(refusal(() => checkObjectTags([{ key: 'a', value: 'x'.repeat(257) }], 'document')).message).toMatch(
      /TagValue/,
    )
  })

  it('refuses duplicate, empty and aws: keys', () => {
    const dup = [
      { key: 'a', value: '1' },
      { key: 'a', value: '2' },
    ]
    expect(refusal(() => checkObjectTags(dup, 'document')).code).toBe('InvalidTag')
    expect(refusal(() => checkObjectTags(dup, 'header')).code).toBe('InvalidArgument')
    expect(refusal(() => checkObjectTags([{ key: '', value: '' }], 'document')).code).toBe('InvalidTag')
    expect(refusal(() => checkObjectTags([{ key: 'AWS:x', value: '' }], 'document')).code).toBe('InvalidTag')
    // Keys are case-sensitive: these are two tags.
    expect(
      checkObjectTags(
        [
          { key: 'a', value: '' },
          { key: 'A', value: '' },
        ],
        'header',
      ),
    ).toHaveLength(2)
  })
})

describe('bucket tag sets', () => {
  it('takes up to 50 tags; the 51st is InvalidTag', () => {
    expect(checkBucketTags(tags(50))).toHaveLength(50)
    expect(refusal(() => checkBucketTags(tags(51))).code).toBe('InvalidTag')
  })
})
