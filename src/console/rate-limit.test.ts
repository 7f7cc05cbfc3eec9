import { describe, expect, it } from 'vitest'
import { attemptIds, FailureLimiter, MAX_ACCESS_KEY_LENGTH } from './rate-limit.ts'

describe('FailureLimiter', () => {
  const opts = { limit: 3, windowMs: 1000, maxEntries: 4 }

  it('refuses after `limit` failures within the window, and lets in again when it ends', () => {
    const l = new FailureLimiter(opts)
    for (let i = 0; i < 2; i++) l.fail('k', 100)
    expect(l.retryAfter('k', 100)).toBe(0)
    l.fail('k', 200)
    expect(l.retryAfter('k', 300)).toBe(800)
    expect(l.retryAfter('k', 1099)).toBe(1)
    expect(l.retryAfter('k', 1100)).toBe(0)
    // A new window starts from the next failure.
    l.fail('k', 1200)
    expect(l.retryAfter('k', 1200)).toBe(0)
  })

  it('counts identifiers apart, and clear() forgets one', () => {
    const l = new FailureLimiter(opts)
    for (let i = 0; i < 3; i++) l.fail('a', 0)
    expect(l.retryAfter('a', 1)).toBeGreaterThan(0)
    expect(l.retryAfter('b', 1)).toBe(0)
    l.clear('a')
    expect(l.retryAfter('a', 1)).toBe(0)
  })

  it('tracks at most maxEntries identifiers, dropping the oldest', () => {
    const l = new FailureLimiter(opts)
    for (let i = 0; i < 3; i++) l.fail('old', 0)
    for (let i = 0; i < 10; i++) l.fail(`flood-${i}`, 1)
    expect(l.size).toBe(4)
    expect(l.retryAfter('old', 2)).toBe(0)
    expect(l.retryAfter('flood-9', 2)).toBe(0)
  })

  it('attempt ids keep at most MAX_ACCESS_KEY_LENGTH characters of the key', () => {
    const ids = attemptIds('A'.repeat(1_000_000), '10.0.0.1')
    expect(ids.key.length).toBe('key:'.length + MAX_ACCESS_KEY_LENGTH)
    expect(ids.address).toBe('ip:10.0.0.1')
  })
})
