import { describe, expect, it } from 'vitest'
import { isConditionOperator, isKnownConditionKey, parseOperator, testCondition } from './conditions.ts'

const t = (op: string, actual: string[] | undefined, values: string[]) =>
  testCondition(parseOperator(op), actual, values)

describe('condition operators', () => {
  it('knows the operators and their IfExists / set forms, and nothing else', () => {
    for (const ok of [
      'StringEquals',
      'StringNotLikeIfExists',
      'ForAnyValue:StringLike',
      'ForAllValues:StringEquals',
      'Null',
      'ArnLike',
      'NumericGreaterThanEqualsIfExists',
      'BinaryEquals',
      'DateLessThan',
      'IpAddress',
      'NotIpAddress',
    ])
      expect(isConditionOperator(ok), ok).toBe(true)
    for (const bad of ['StringEqual', 'NullIfExists', 'ForSomeValue:StringEquals', 'stringequals', ''])
      expect(isConditionOperator(bad), bad).toBe(false)
  })

  it('String operators: OR over policy values; negation is none-match; case rules', () => {
    expect(t('StringEquals', ['a'], ['b', 'a'])).toBe(true)
    expect(t('StringEquals', ['A'], ['a'])).toBe(false)
    expect(t('StringEqualsIgnoreCase', ['A'], ['a'])).toBe(true)
    expect(t('StringNotEquals', ['a'], ['b', 'c'])).toBe(true)
    expect(t('StringNotEquals', ['a'], ['b', 'a'])).toBe(false)
    expect(t('StringLike', ['home/bob/x'], ['home/bob/*'])).toBe(true)
    expect(t('StringNotLike', ['home/bob/x'], ['home/alice/*'])).toBe(true)
  })

  it('a missing key fails positive operators, passes negated ones and IfExists', () => {
    expect(t('StringEquals', undefined, ['a'])).toBe(false)
    expect(t('StringNotEquals', undefined, ['a'])).toBe(true)
    expect(t('StringEqualsIfExists', undefined, ['a'])).toBe(true)
    expect(t('StringEqualsIfExists', ['b'], ['a'])).toBe(false)
    expect(t('NumericLessThan', undefined, ['5'])).toBe(false)
  })

  it('Numeric and Date comparisons', () => {
    expect(t('NumericLessThan', ['5'], ['10'])).toBe(true)
    expect(t('NumericLessThan', ['10'], ['10'])).toBe(false)
    expect(t('NumericLessThanEquals', ['10'], ['10'])).toBe(true)
    expect(t('NumericGreaterThan', ['x'], ['1'])).toBe(false)
    expect(t('NumericNotEquals', ['3'], ['4'])).toBe(true)
    expect(t('DateLessThan', ['2026-01-01T00:00:00Z'], ['2027-01-01T00:00:00Z'])).toBe(true)
    expect(t('DateGreaterThan', ['2026-01-01T00:00:00Z'], ['1767225600'])).toBe(false) // 2026-01-01 as epoch seconds
    expect(t('DateGreaterThanEquals', ['2026-01-01T00:00:00Z'], ['1767225600'])).toBe(true)
  })

  it('Bool, IpAddress, Arn, Null', () => {
    expect(t('Bool', ['true'], ['true'])).toBe(true)
    expect(t('Bool', ['true'], ['false'])).toBe(false)
    expect(t('Bool', ['TRUE'], ['true'])).toBe(true)
    expect(t('IpAddress', ['127.0.0.1'], ['10.0.0.0/8', '127.0.0.0/8'])).toBe(true)
    expect(t('NotIpAddress', ['127.0.0.1'], ['10.0.0.0/8'])).toBe(true)
    expect(t('NotIpAddress', ['127.0.0.1'], ['127.0.0.1/32'])).toBe(false)
    expect(t('ArnLike', ['arn:aws:iam::ns:user/bob'], ['arn:aws:iam::ns:user/*'])).toBe(true)
    expect(t('ArnNotLike', ['arn:aws:iam::ns:user/bob'], ['arn:aws:iam::ns:user/*'])).toBe(false)
    expect(t('Null', undefined, ['true'])).toBe(true)
    expect(t('Null', ['x'], ['true'])).toBe(false)
    expect(t('Null', ['x'], ['false'])).toBe(true)
  })

  it('ForAnyValue / ForAllValues over multi-valued keys', () => {
    expect(t('ForAnyValue:StringEquals', ['a', 'z'], ['a', 'b'])).toBe(true)
    expect(t('ForAnyValue:StringEquals', ['y', 'z'], ['a', 'b'])).toBe(false)
    expect(t('ForAnyValue:StringEquals', [], ['a'])).toBe(false)
    expect(t('ForAllValues:StringEquals', ['a', 'b'], ['a', 'b', 'c'])).toBe(true)
    expect(t('ForAllValues:StringEquals', ['a', 'z'], ['a', 'b'])).toBe(false)
    // AWS: ForAllValues is true for a missing or empty key.
    expect(t('ForAllValues:StringEquals', undefined, ['a'])).toBe(true)
    expect(t('ForAllValues:StringNotEquals', ['y', 'z'], ['a'])).toBe(true)
  })

  it('knows the condition keys Coffer fills in, case-insensitively, with tag-key prefixes', () => {
    for (const k of [
      'aws:SecureTransport',
      'AWS:SOURCEIP',
      's3:prefix',
      's3:ExistingObjectTag/Project',
      's3:RequestObjectTag/k',
      's3:object-lock-mode',
      's3:signatureversion',
      's3:authType',
    ])
      expect(isKnownConditionKey(k), k).toBe(true)
    for (const k of ['s3:prefixes', 'aws:Bogus', 's3:ExistingObjectTag/', 'prefix'])
      expect(isKnownConditionKey(k), k).toBe(false)
  })
})
