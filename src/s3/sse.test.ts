import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { classify } from './classify.ts'
import { S3Error } from './errors.ts'
import { encryptionHeaders, readSseC, readSseRequest, SSE_C_MESSAGES } from './sse.ts'
import { createTestPlatform } from '../util/platform.testkit.ts'

const testPlatform = createTestPlatform()

const key = Buffer.alloc(32, 7)
const trio = (over: Record<string, string> = {}, prefix = 'x-amz-server-side-encryption-customer-') =>
  new Headers({
    [`${prefix}algorithm`]: 'AES256',
    [`${prefix}key`]: key.toString('base64'),
    [`${prefix}key-md5`]: createHash('md5').update(key).digest('base64'),
    ...over,
  })

const s3Code = (f: () => unknown) => {
  try {
    f()
  } catch (e) {
    return e instanceof S3Error ? `${e.status} ${e.code}` : String(e)
  }
  return 'no error'
}

describe('readSseC', () => {
  it('reads the key and its MD5, for a request or its copy source', () => {
    expect(readSseC(trio(), testPlatform)?.key).toEqual(new Uint8Array(key))
    expect(
      readSseC(trio({}, 'x-amz-copy-source-server-side-encryption-customer-'), testPlatform, true)?.keyMd5B64,
    ).toBe(createHash('md5').update(key).digest('base64'))
    expect(readSseC(new Headers(), testPlatform)).toBeUndefined()
  })

  it("rejects each malformed trio with S3's code and message, in S3's order", () => {
    const fail = (h: Record<string, string>, copySource = false) => {
      try {
        readSseC(new Headers(h), testPlatform, copySource)
      } catch (e) {
        expect(e).toBeInstanceOf(S3Error)
        const err = e as S3Error
        return [err.code, err.message, err.details.ArgumentName]
      }
      return 'no error'
    }
    const p = 'x-amz-server-side-encryption-customer-'
    const keyB64 = key.toString('base64')
    const md5 = createHash('md5').update(key).digest('base64')
    const arg = 'x-amz-server-side-encryption'
    expect(fail({ [`${p}key`]: keyB64, [`${p}key-md5`]: md5 })).toEqual([
      'InvalidArgument',
      SSE_C_MESSAGES.missingAlgorithm,
      arg,
    ])
    expect(fail({ [`${p}algorithm`]: 'AES256', [`${p}key-md5`]: md5 })).toEqual([
      'InvalidArgument',
      SSE_C_MESSAGES.missingKey,
      arg,
    ])
    expect(fail({ [`${p}algorithm`]: 'AES128', [`${p}key`]: keyB64 })).toEqual([
      'InvalidEncryptionAlgorithmError',
      SSE_C_MESSAGES.badAlgorithm,
      arg,
    ])
    // A bad key is reported before a missing MD5; a missing MD5 before a mismatch.
    expect(fail({ [`${p}algorithm`]: 'AES256', [`${p}key`]: Buffer.alloc(16).toString('base64') })).toEqual([
      'InvalidArgument',
      SSE_C_MESSAGES.badKey,
      arg,
    ])
    expect(fail({ [`${p}algorithm`]: 'AES256', [`${p}key`]: '!!not base64!!', [`${p}key-md5`]: md5 })).toEqual([
      'InvalidArgument',
      SSE_C_MESSAGES.badKey,
      arg,
    ])
    expect(fail({ [`${p}algorithm`]: 'AES256', [`${p}key`]: keyB64 })).toEqual([
      'InvalidArgument',
      SSE_C_MESSAGES.missingKeyMd5,
      arg,
    ])
    expect(fail({ [`${p}algorithm`]: 'AES256', [`${p}key`]: keyB64, [`${p}key-md5`]: '!!' })).toEqual([
      'InvalidArgument',
      SSE_C_MESSAGES.md5Mismatch,
      arg,
    ])
    const c = 'x-amz-copy-source-server-side-encryption-customer-'
    expect(fail({ [`${c}algorithm`]: 'AES256', [`${c}key`]: keyB64, [`${c}key-md5`]: 'AAAA' }, true)).toEqual([
      'InvalidArgument',
      SSE_C_MESSAGES.md5Mismatch,
      'x-amz-copy-source-server-side-encryption',
    ])
    expect(SSE_C_MESSAGES.badAlgorithm).toContain('AES256')
  })

  it("maps each invalid trio to S3's 400", () => {
    expect(
      s3Code(() => readSseC(trio({ 'x-amz-server-side-encryption-customer-key-md5': 'AAAA' }), testPlatform)),
    ).toBe('400 InvalidArgument')
    expect(
      s3Code(() => readSseC(trio({ 'x-amz-server-side-encryption-customer-algorithm': 'AES128' }), testPlatform)),
    ).toBe('400 InvalidEncryptionAlgorithmError')
    expect(
      s3Code(() => readSseC(trio({ 'x-amz-server-side-encryption-customer-key': 'c2hvcnQ=' }), testPlatform)),
    ).toBe('400 InvalidArgument')
  })
})

describe('readSseRequest and encryptionHeaders', () => {
  it('AES256 is SSE-S3, aws:kms[:dsse] SSE-KMS with its key id, context and bucket key; other values and SSE with SSE-C are refused', () => {
    expect(readSseRequest(new Headers(), undefined)).toBeUndefined()
    expect(readSseRequest(new Headers({ 'x-amz-server-side-encryption': 'AES256' }), undefined)).toEqual({
      algorithm: 'AES256',
    })
    expect(readSseRequest(new Headers({ 'x-amz-server-side-encryption': 'aws:kms' }), undefined)).toEqual({
      algorithm: 'aws:kms',
    })
    expect(
      readSseRequest(
        new Headers({
          'x-amz-server-side-encryption': 'aws:kms:dsse',
          'x-amz-server-side-encryption-aws-kms-key-id': 'alias/app',
          'x-amz-server-side-encryption-context': Buffer.from('{"b":"2","a":"1"}').toString('base64'),
          'x-amz-server-side-encryption-bucket-key-enabled': 'true',
        }),
        undefined,
      ),
    ).toEqual({
      algorithm: 'aws:kms:dsse',
      kmsKeyId: 'alias/app',
      context: '{"a":"1","b":"2"}',
      bucketKeyEnabled: true,
    })
    expect(
      s3Code(() =>
        readSseRequest(
          new Headers({ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-context': 'W10=' }),
          undefined,
        ),
      ),
    ).toBe('400 InvalidArgument')
    expect(s3Code(() => readSseRequest(new Headers({ 'x-amz-server-side-encryption': 'none' }), undefined))).toBe(
      '400 InvalidArgument',
    )
    expect(
      s3Code(() => readSseRequest(new Headers({ 'x-amz-server-side-encryption': 'AES256' }), { key, keyMd5B64: 'm' })),
    ).toBe('400 InvalidArgument')
  })

  it('announces SSE-S3, or SSE-C with the echoed MD5, and nothing for clear objects', () => {
    expect(encryptionHeaders(undefined)).toEqual({})
    expect(encryptionHeaders('sse-s3')).toEqual({ 'x-amz-server-side-encryption': 'AES256' })
    expect(encryptionHeaders('sse-c')).toEqual({ 'x-amz-server-side-encryption-customer-algorithm': 'AES256' })
    expect(encryptionHeaders('sse-c', { key, keyMd5B64: 'md5' })).toEqual({
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key-md5': 'md5',
    })
  })
})

describe('classify ?encryption', () => {
  const c = (method: string, key?: string) =>
    classify({ method, bucket: 'b', key, query: new URLSearchParams('encryption'), headers: new Headers() })
  it('bucket level: Get/Put/DeleteBucketEncryption; object level: not implemented', () => {
    expect([c('GET'), c('PUT'), c('DELETE')]).toEqual([
      'GetBucketEncryption',
      'PutBucketEncryption',
      'DeleteBucketEncryption',
    ])
    expect(s3Code(() => c('GET', 'k'))).toBe('501 NotImplemented')
  })
})
