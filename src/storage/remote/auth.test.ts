import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createPlatform } from '../../runtime/platform.ts'
import { deriveRequestKey, NonceCache, signingString, signRequest, verifyRequest, EMPTY_SHA256 } from './auth.ts'
import {
  CLOCK_WINDOW_MS,
  HEADER_CONTENT,
  HEADER_DATE,
  HEADER_NONCE,
  HEADER_SIGNATURE,
  STREAMING_PAYLOAD,
} from './protocol.ts'

const platform = createPlatform()
const secret = new Uint8Array(32).map((_, i) => i)
const key = deriveRequestKey(platform, secret)
const NOW = 1_750_000_000_000

describe('signing (FORMAT: golden)', () => {
  it('builds the signing string exactly', () => {
    expect(
      signingString({
        method: 'put',
        target: '/v1/shards/a.0?x=1',
        date: '1750000000000',
        nonce: '00112233445566778899aabbccddeeff',
        content: STREAMING_PAYLOAD,
      }),
    ).toBe(
      'COFFER-NODE-HMAC-SHA256-V1\nPUT\n/v1/shards/a.0?x=1\n1750000000000\n00112233445566778899aabbccddeeff\nSTREAMING-HMAC-SHA256-TRAILER-V1',
    )
  })

  it('derives the request key and signs with HMAC-SHA256 as documented', () => {
    const want = createHmac('sha256', Buffer.from(secret)).update('coffer-node-request-key-v1').digest()
    expect(Buffer.from(key).equals(want)).toBe(true)
    const { headers, signature } = signRequest(platform, key, {
      method: 'GET',
      target: '/v1/health',
      content: EMPTY_SHA256(platform),
      now: NOW,
      nonce: 'ab'.repeat(16),
    })
    const sts = signingString({
      method: 'GET',
      target: '/v1/health',
      date: String(NOW),
      nonce: 'ab'.repeat(16),
      content: EMPTY_SHA256(platform),
    })
    expect(signature).toBe(createHmac('sha256', want).update(sts).digest('hex'))
    expect(headers[HEADER_SIGNATURE]).toBe(signature)
    expect(headers[HEADER_CONTENT]).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('refuses secrets that are not 256 bits', () => {
    expect(() => deriveRequestKey(platform, new Uint8Array(16))).toThrow(/32 bytes/)
  })
})

describe('verifyRequest', () => {
  const signed = (over: { method?: string; target?: string; now?: number; content?: string } = {}) =>
    signRequest(platform, key, {
      method: over.method ?? 'GET',
      target: over.target ?? '/v1/shards/a.0?offset=0&length=5',
      content: over.content ?? EMPTY_SHA256(platform),
      now: over.now ?? NOW,
    })
  const check = (
    headers: Record<string, string>,
    req: { method?: string; target?: string } = {},
    nonces = new NonceCache(),
    now = NOW,
    k = key,
  ) =>
    verifyRequest(
      {
        method: req.method ?? 'GET',
        target: req.target ?? '/v1/shards/a.0?offset=0&length=5',
        headers: new Headers(headers),
      },
      { platform, key: k, nonces, now },
    )

  it('accepts a correctly signed request and returns its signature', () => {
    const s = signed()
    expect(check(s.headers)).toEqual({
      ok: true,
      signature: s.signature,
      content: s.headers[HEADER_CONTENT],
      date: NOW,
    })
  })

  it('refuses missing or malformed credentials with 401', () => {
    expect(check({})).toMatchObject({ ok: false, status: 401, reason: 'missing credentials' })
    for (const h of [HEADER_DATE, HEADER_NONCE, HEADER_CONTENT, HEADER_SIGNATURE]) {
      const s = signed().headers
      expect(check({ ...s, [h]: s[h]!.slice(1) }), h).toMatchObject({ ok: false, status: 401 })
    }
  })

  it('refuses a date outside the window with 401, at either side', () => {
    expect(check(signed({ now: NOW - CLOCK_WINDOW_MS - 1 }).headers)).toMatchObject({ ok: false, status: 401 })
    expect(check(signed({ now: NOW + CLOCK_WINDOW_MS + 1 }).headers)).toMatchObject({ ok: false, status: 401 })
    expect(check(signed({ now: NOW - CLOCK_WINDOW_MS + 1000 }).headers)).toMatchObject({ ok: true })
  })

  it('refuses with 403 when anything signed was changed', () => {
    const s = signed().headers
    expect(check(s, { method: 'DELETE' })).toMatchObject({ ok: false, status: 403 })
    expect(check(s, { target: '/v1/shards/b.0?offset=0&length=5' })).toMatchObject({ ok: false, status: 403 })
    expect(check(s, { target: '/v1/shards/a.0?offset=0&length=6' })).toMatchObject({ ok: false, status: 403 })
    expect(check({ ...s, [HEADER_DATE]: String(NOW + 1) })).toMatchObject({ ok: false, status: 403 })
    expect(check({ ...s, [HEADER_NONCE]: 'f'.repeat(32) })).toMatchObject({ ok: false, status: 403 })
    expect(check({ ...s, [HEADER_CONTENT]: STREAMING_PAYLOAD })).toMatchObject({ ok: false, status: 403 })
    const other = deriveRequestKey(platform, new Uint8Array(32).fill(9))
    expect(check(s, {}, new NonceCache(), NOW, other)).toMatchObject({ ok: false, status: 403 })
  })

  it('refuses a replayed nonce with 401', () => {
    const nonces = new NonceCache()
    const s = signed().headers
    expect(check(s, {}, nonces)).toMatchObject({ ok: true })
    expect(check(s, {}, nonces)).toMatchObject({ ok: false, status: 401, reason: 'replayed nonce' })
  })

  it('refuses anything dated at or before the floor a restart starts from (the saved replay mark)', () => {
    const nonces = new NonceCache(undefined, undefined, NOW)
    expect(check(signed({ now: NOW }).headers, {}, nonces)).toMatchObject({
      ok: false,
      status: 401,
      reason: expect.stringContaining('replay floor'),
    })
    expect(check(signed({ now: NOW - 1 }).headers, {}, nonces)).toMatchObject({ ok: false, status: 401 })
    expect(check(signed({ now: NOW + 1 }).headers, {}, nonces, NOW + 1)).toMatchObject({ ok: true, date: NOW + 1 })
  })
})

describe('NonceCache', () => {
  it('forgets nonces once their date has left the window', () => {
    const c = new NonceCache(1000, 100)
    expect(c.admit('a', 0, 0)).toBe(true)
    expect(c.admit('b', 150, 150)).toBe(true)
    expect(c.size).toBe(1) // 'a' (date 0) expired at now=150
  })

  it('when full, refuses anything dated at or before the evicted entries', () => {
    const c = new NonceCache(3, 1_000_000)
    for (const [i, n] of ['a', 'b', 'c'].entries()) expect(c.admit(n, 10 + i, 20)).toBe(true)
    expect(c.admit('d', 13, 20)).toBe(true) // evicts 'a' (date 10): floor becomes 10
    expect(c.size).toBe(3)
    expect(c.admit('a', 10, 20)).toBe(false) // a replay of the evicted nonce is still refused
    expect(c.admit('e', 9, 20)).toBe(false)
    expect(c.admit('b', 11, 20)).toBe(false) // still remembered
  })
})
