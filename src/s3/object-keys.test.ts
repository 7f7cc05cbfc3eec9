import { describe, expect, it } from 'vitest'
import type { S3Error } from './errors.ts'
import { checkKeyParameter, checkObjectKey } from './object-keys.ts'

const codeOf = (f: () => void): string | undefined => {
  try {
    f()
    return undefined
  } catch (e) {
    return (e as S3Error).code
  }
}

describe('checkObjectKey', () => {
  it.each(['a', 'é'.repeat(512), 'k'.repeat(1024), 'tab\there', '\u0001ctrl', 'a//b', '../x', '\uFFFD'])(
    'takes %j',
    (key) => expect(codeOf(() => checkObjectKey(key))).toBeUndefined(),
  )
  it('refuses more than 1,024 bytes of UTF-8 with KeyTooLongError', () => {
    expect(codeOf(() => checkObjectKey('k'.repeat(1025)))).toBe('KeyTooLongError')
    expect(codeOf(() => checkObjectKey(`${'é'.repeat(512)}a`))).toBe('KeyTooLongError')
  })
  it.each(['\u0000', 'a\u0000b', 'trailing\u0000'])('refuses %j (NUL) with 400 InvalidArgument', (key) => {
    try {
      checkObjectKey(key, 'x-amz-copy-source')
      expect.unreachable()
    } catch (e) {
      expect((e as S3Error).code).toBe('InvalidArgument')
      expect((e as S3Error).status).toBe(400)
      expect((e as S3Error).details.ArgumentName).toBe('x-amz-copy-source')
      // Never echoed: the error document could not carry it.
      expect(JSON.stringify((e as S3Error).details)).not.toContain('\\u0000')
    }
  })
})

describe('checkKeyParameter', () => {
  it('refuses a NUL in the named parameter only', () => {
    const q = new URLSearchParams({ prefix: 'a\u0000', delimiter: '/' })
    expect(codeOf(() => checkKeyParameter(q, 'prefix'))).toBe('InvalidArgument')
    expect(codeOf(() => checkKeyParameter(q, 'delimiter'))).toBeUndefined()
    expect(codeOf(() => checkKeyParameter(q, 'start-after'))).toBeUndefined()
  })
})
