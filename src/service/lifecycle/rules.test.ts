import { describe, expect, it } from 'vitest'
import { ServiceError } from '../errors.ts'
import { afterDays, checkLifecycle, DAY_MS, type LifecycleRule, objectExpiry, ruleMatches } from './rules.ts'

const rule = (over: Partial<LifecycleRule> = {}): LifecycleRule => ({
  id: 'r',
  enabled: true,
  filter: { prefix: '', tags: [] },
  expiration: { days: 1 },
  ...over,
})
const newId = () => 'generated'

function code(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    if (e instanceof ServiceError) return e.code
    throw e
  }
  return 'accepted'
}

describe('checkLifecycle', () => {
  it('accepts AWS-valid rules and names a rule without an ID', () => {
    const c = checkLifecycle([rule({ id: '' }), rule({ id: 'b', abortAfterDays: 7, expiration: undefined })], newId)
    expect(c.rules.map((r) => r.id)).toEqual(['generated', 'b'])
  })

  it.each([
    ['no rules', [], 'MalformedXML'],
    ['1,001 rules', Array.from({ length: 1001 }, (_, i) => rule({ id: `r${i}` })), 'MalformedXML'],
    ['a 256-character ID', [rule({ id: 'x'.repeat(256) })], 'InvalidArgument'],
    ['duplicate IDs', [rule(), rule()], 'InvalidArgument'],
    ['no action', [rule({ expiration: undefined })], 'InvalidRequest'],
    ['Days 0', [rule({ expiration: { days: 0 } })], 'InvalidArgument'],
    ['Days and Date', [rule({ expiration: { days: 1, date: 0 } })], 'MalformedXML'],
    ['a Date past midnight', [rule({ expiration: { date: DAY_MS + 1 } })], 'InvalidArgument'],
    [
      'ExpiredObjectDeleteMarker with a tag filter',
      [
        rule({
          expiration: { expiredObjectDeleteMarker: true },
          filter: { prefix: '', tags: [{ key: 'a', value: 'b' }] },
        }),
      ],
      'InvalidArgument',
    ],
    ['NoncurrentDays 0', [rule({ noncurrentExpiration: { noncurrentDays: 0 } })], 'InvalidArgument'],
    [
      'NewerNoncurrentVersions 101',
      [rule({ noncurrentExpiration: { noncurrentDays: 1, newerNoncurrentVersions: 101 } })],
      'InvalidArgument',
    ],
    [
      'an abort with a size filter',
      [rule({ expiration: undefined, abortAfterDays: 1, filter: { prefix: '', tags: [], sizeLessThan: 5 } })],
      'InvalidArgument',
    ],
    [
      'sizes that leave nothing',
      [rule({ filter: { prefix: '', tags: [], sizeGreaterThan: 9, sizeLessThan: 9 } })],
      'InvalidArgument',
    ],
  ] as const)('refuses %s', (_what, rules, expected) => {
    expect(code(() => checkLifecycle(rules as LifecycleRule[], newId))).toBe(expected)
  })
})

describe('matching and due dates', () => {
  const o = { key: 'logs/2026/a', size: 100, tags: [{ key: 'env', value: 'dev' }] }

  it('a filter matches by prefix, every tag, and strict size bounds; a disabled rule never', () => {
    const f = (filter: Partial<LifecycleRule['filter']>) => rule({ filter: { prefix: '', tags: [], ...filter } })
    expect(ruleMatches(f({ prefix: 'logs/' }), o)).toBe(true)
    expect(ruleMatches(f({ prefix: 'log/' }), o)).toBe(false)
    expect(ruleMatches(f({ tags: [{ key: 'env', value: 'dev' }] }), o)).toBe(true)
    expect(ruleMatches(f({ tags: [{ key: 'env', value: 'prod' }] }), o)).toBe(false)
    expect(ruleMatches(f({ sizeGreaterThan: 99, sizeLessThan: 101 }), o)).toBe(true)
    expect(ruleMatches(f({ sizeGreaterThan: 100 }), o)).toBe(false)
    expect(ruleMatches(f({ sizeLessThan: 100 }), o)).toBe(false)
    expect(ruleMatches(rule({ enabled: false }), o)).toBe(false)
  })

  it('real days round up to the next midnight UTC, as AWS does; a shrunken day does not', () => {
    const noon = Date.UTC(2026, 0, 1, 12)
    expect(afterDays(noon, 30, DAY_MS)).toBe(Date.UTC(2026, 0, 32))
    expect(afterDays(noon, 30, 1000)).toBe(noon + 30_000)
  })

  it('x-amz-expiration names the earliest expiry among matching rules', () => {
    const rules = [
      rule({ id: 'late', expiration: { days: 10 } }),
      rule({ id: 'soon', expiration: { days: 2 } }),
      rule({ id: 'other', filter: { prefix: 'x/', tags: [] }, expiration: { days: 1 } }),
    ]
    expect(objectExpiry(rules, { ...o, modified: 0 }, 1000)).toEqual({ at: 2000, ruleId: 'soon' })
    expect(
      objectExpiry([rule({ expiration: { expiredObjectDeleteMarker: true } })], { ...o, modified: 0 }, 1000),
    ).toBeUndefined()
  })
})
