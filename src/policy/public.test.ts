import { describe, expect, it } from 'vitest'
import { parsePolicyValue } from './document.ts'
import { isPublicPolicy } from './public.ts'

const policy = (statement: Record<string, unknown>) =>
  parsePolicyValue(
    {
      Version: '2012-10-17',
      Statement: { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*', ...statement },
    },
    { kind: 'resource', bucket: 'b' },
  )

describe('isPublicPolicy (Block Public Access)', () => {
  it.each([
    [{ Principal: '*' }, true],
    [{ Principal: { AWS: '*' } }, true],
    [{ NotPrincipal: { AWS: 'arn:aws:iam::ns:user/a' } }, true],
    [{ Principal: { AWS: 'arn:aws:iam::ns:user/a' } }, false],
    [{ Principal: '*', Effect: 'Deny' }, false],
    [{ Principal: '*', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }, false],
    [{ Principal: '*', Condition: { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } } }, true],
    [{ Principal: '*', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/7' } } }, true],
    [{ Principal: '*', Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }, true],
    [{ Principal: '*', Condition: { StringEquals: { 'aws:userid': 'AK1' } } }, false],
    [{ Principal: '*', Condition: { StringLike: { 'aws:userid': 'AK*' } } }, true],
    [{ Principal: '*', Condition: { StringEquals: { 'aws:Referer': 'https://example.com' } } }, true],
    [{ Principal: '*', Condition: { Bool: { 'aws:SecureTransport': 'true' } } }, true],
  ])('%j → %s', (s, want) => {
    expect(isPublicPolicy(policy(s))).toBe(want)
  })
})
