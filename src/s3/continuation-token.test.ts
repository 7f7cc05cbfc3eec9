import { describe, expect, it } from 'vitest'
import { createTestPlatform } from '../util/platform.testkit.ts'
import { decodeContinuationToken, encodeContinuationToken } from './continuation-token.ts'
import type { S3Error } from './errors.ts'

const platform = createTestPlatform()

describe('continuation tokens', () => {
  it.each(['a', 'page/0137', 'é/ü 日本', 'k'.repeat(1024), 'a+b/c=d'])('round-trip %j', (marker) => {
    const token = encodeContinuationToken(platform, marker)
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(decodeContinuationToken(platform, token)).toBe(marker)
  })

  const good = encodeContinuationToken(platform, 'page/0137')
  it.each([
    ['garbage', 'not-a-token'],
    ['base64 of a key (the old format)', Buffer.from('page/0137').toString('base64url')],
    ['not base64', 'ab$cd'],
    ['empty', ''],
    ['truncated', good.slice(0, -3)],
    ['one character changed', `${good.slice(0, 5)}${good[5] === 'A' ? 'B' : 'A'}${good.slice(6)}`],
    ['header only', Buffer.from(good, 'base64url').subarray(0, 9).toString('base64url')],
  ])('refuses %s with InvalidArgument', (_label, token) => {
    try {
      decodeContinuationToken(platform, token)
      expect.unreachable()
    } catch (e) {
      expect((e as S3Error).code).toBe('InvalidArgument')
      expect((e as S3Error).status).toBe(400)
      expect((e as S3Error).details.ArgumentName).toBe('continuation-token')
    }
  })
})
