import { describe, expect, it } from 'vitest'
import {
  decodeBucketLock,
  decodeVersionLock,
  deleteRefusal,
  encodeBucketLock,
  encodeVersionLock,
  mayBypassGovernance,
  retentionChangeRefusal,
  retentionForNewVersion,
  type Retention,
} from './object-lock.ts'

const now = new Date('2030-01-01T00:00:00Z')
const later = (days: number) => new Date(now.getTime() + days * 86_400_000)
const gov = (days: number): Retention => ({ mode: 'GOVERNANCE', until: later(days) })
const comp = (days: number): Retention => ({ mode: 'COMPLIANCE', until: later(days) })

describe('deleting a version', () => {
  it('a legal hold refuses whoever asks, bypass or not', () => {
    expect(deleteRefusal({ legalHold: true }, now, true)).toBe('legal-hold')
  })
  it('COMPLIANCE refuses until it passes, bypass included; GOVERNANCE only without bypass', () => {
    expect(deleteRefusal({ retention: comp(1) }, now, true)).toBe('compliance')
    expect(deleteRefusal({ retention: gov(1) }, now, false)).toBe('governance')
    expect(deleteRefusal({ retention: gov(1) }, now, true)).toBeUndefined()
    expect(deleteRefusal({ retention: comp(-1) }, now, false)).toBeUndefined()
    expect(deleteRefusal({}, now, false)).toBeUndefined()
  })
})

describe('changing retention', () => {
  it('COMPLIANCE can be extended but never shortened, removed or made GOVERNANCE', () => {
    expect(retentionChangeRefusal(comp(5), comp(6), now, false)).toBeUndefined()
    expect(retentionChangeRefusal(comp(5), comp(4), now, true)).toBe('compliance')
    expect(retentionChangeRefusal(comp(5), undefined, now, true)).toBe('compliance')
    expect(retentionChangeRefusal(comp(5), gov(9), now, true)).toBe('compliance')
  })
  it('GOVERNANCE can be extended or made COMPLIANCE freely; weakened only with bypass', () => {
    expect(retentionChangeRefusal(gov(5), gov(6), now, false)).toBeUndefined()
    expect(retentionChangeRefusal(gov(5), comp(5), now, false)).toBeUndefined()
    expect(retentionChangeRefusal(gov(5), gov(1), now, false)).toBe('governance')
    expect(retentionChangeRefusal(gov(5), undefined, now, true)).toBeUndefined()
  })
  it('a retention that has passed no longer binds', () => {
    expect(retentionChangeRefusal(comp(-1), undefined, now, false)).toBeUndefined()
  })
})

describe('defaults and formats', () => {
  it('a new version takes its own retention, else the bucket default in days or years', () => {
    expect(retentionForNewVersion({ defaultRetention: { mode: 'GOVERNANCE', days: 2 } }, undefined, now)).toEqual(
      gov(2),
    )
    expect(retentionForNewVersion({ defaultRetention: { mode: 'COMPLIANCE', years: 1 } }, undefined, now)).toEqual({
      mode: 'COMPLIANCE',
      until: new Date('2031-01-01T00:00:00Z'),
    })
    expect(retentionForNewVersion({ defaultRetention: { mode: 'GOVERNANCE', days: 2 } }, comp(1), now)).toEqual(comp(1))
    expect(retentionForNewVersion({}, undefined, now)).toBeUndefined()
  })
  it('stored JSON round-trips; nothing to store is null', () => {
    const lock = { retention: comp(3), legalHold: true }
    expect(decodeVersionLock(JSON.parse(JSON.stringify(encodeVersionLock(lock))), 'v')).toEqual(lock)
    expect(encodeVersionLock({})).toBeNull()
    expect(decodeVersionLock(null, 'v')).toEqual({})
    expect(() => decodeVersionLock({ v: 1, retention: { mode: 'X', until: 1 } }, 'v')).toThrow(/malformed/)
    const bucket = { defaultRetention: { mode: 'GOVERNANCE' as const, days: 7 } }
    expect(decodeBucketLock(encodeBucketLock(bucket), 'b')).toEqual(bucket)
    expect(decodeBucketLock(null, 'b')).toBeUndefined()
  })
  it('only the root user may bypass GOVERNANCE for now', () => {
    expect(mayBypassGovernance({ isRoot: true })).toBe(true)
    expect(mayBypassGovernance({ isRoot: false })).toBe(false)
  })
})
