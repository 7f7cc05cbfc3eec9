// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${aws:username} is IAM policy syntax, not a template
import { describe, expect, it } from 'vitest'
import { parsePolicy, PolicyError } from './document.ts'

const bucketPolicy = (statement: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ Version: '2012-10-17', Statement: statement, ...extra })

const reason = (text: string, kind: 'identity' | 'resource' = 'resource'): string => {
  try {
    parsePolicy(text, { kind, bucket: 'photos' })
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError)
    return (e as Error).message
  }
  throw new Error(`accepted: ${text}`)
}

describe('parsePolicy', () => {
  it('accepts a public-read bucket policy and normalizes its elements', () => {
    const p = parsePolicy(
      bucketPolicy({
        Sid: 'Public',
        Effect: 'Allow',
        Principal: '*',
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::photos/*',
      }),
      { kind: 'resource', bucket: 'photos' },
    )
    expect(p.version).toBe('2012-10-17')
    expect(p.statements).toHaveLength(1)
    expect(p.statements[0]).toMatchObject({
      sid: 'Public',
      effect: 'Allow',
      principal: { any: true },
      action: ['s3:GetObject'],
      resource: ['arn:aws:s3:::photos/*'],
      conditions: [],
    })
  })

  it('defaults Version to 2008-10-17 and keeps a statement list', () => {
    const p = parsePolicy(
      JSON.stringify({
        Statement: [
          { Effect: 'Allow', Action: ['s3:GetObject', 's3:List*'], Resource: '*' },
          { Effect: 'Deny', NotAction: 's3:Get*', NotResource: 'arn:aws:s3:::x/*' },
        ],
      }),
      { kind: 'identity' },
    )
    expect(p.version).toBe('2008-10-17')
    expect(p.statements.map((s) => s.effect)).toEqual(['Allow', 'Deny'])
  })

  it('parses conditions with their operators and values', () => {
    const p = parsePolicy(
      JSON.stringify({
        Version: '2012-10-17',
        Statement: {
          Effect: 'Allow',
          Action: 's3:ListBucket',
          Resource: '*',
          Condition: {
            StringLikeIfExists: { 's3:prefix': ['home/${aws:username}/*', ''] },
            'ForAnyValue:StringEquals': { 's3:RequestObjectTagKeys': 'a' },
            Bool: { 'aws:SecureTransport': true },
            NumericLessThanEquals: { 's3:max-keys': 10 },
            IpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '::1'] },
          },
        },
      }),
      { kind: 'identity' },
    )
    const c = p.statements[0]!.conditions
    expect(c.map((x) => [x.op.base, x.op.test, x.op.negated, x.op.ifExists, x.op.set])).toEqual([
      ['String', 'Like', false, true, undefined],
      ['String', 'Equals', false, false, 'any'],
      ['Bool', 'Equals', false, false, undefined],
      ['Numeric', 'LessThanEquals', false, false, undefined],
      ['Ip', 'In', false, false, undefined],
    ])
    expect(c[2]!.values).toEqual(['true'])
    expect(c[3]!.values).toEqual(['10'])
  })

  it.each([
    ['not json', "Policies must be valid JSON and the first byte must be '{'"],
    ['{"Version": "2012-10-17", ', 'Policies must be valid JSON'],
    ['{"Version": "2011-01-01", "Statement": []}', 'The policy must contain a valid version string'],
    ['{"Version": "2012-10-17"}', 'Missing required field Statement'],
    ['{"Version": "2012-10-17", "Statement": []}', 'Statement must not be empty'],
    ['{"Version": "2012-10-17", "Statement": [], "Extra": 1}', 'Unknown field Extra'],
  ])('refuses %s', (text, why) => {
    expect(reason(text)).toBe(why)
  })

  const stmt = (s: Record<string, unknown>) =>
    bucketPolicy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::photos/*', ...s })

  it.each([
    [{ Effect: 'Maybe' }, 'Effect must be Allow or Deny'],
    [{ Principal: undefined }, 'Missing required field Principal'],
    [{ Principal: { AWS: 'arn:aws:iam::ns:user/*' } }, 'Invalid principal in policy'],
    [{ Principal: { Someone: 'x' } }, 'Invalid principal in policy'],
    [{ Principal: '*', NotPrincipal: '*' }, 'A statement has either Principal or NotPrincipal, not both'],
    [{ Action: 's3:GetObjekt' }, 'Policy has invalid action'],
    [{ Action: 'iam:CreateUser' }, 'Policy has invalid action'],
    [{ Action: 's3:Get Object' }, 'Policy has invalid action'],
    [{ Action: [] }, 'Action must not be empty'],
    [{ NotAction: 's3:GetObject' }, 'A statement has exactly one of Action and NotAction'],
    [{ Resource: 'arn:aws:s3:::other/*' }, 'Policy has invalid resource'],
    [{ Resource: 'arn:aws:s3:::photosx' }, 'Policy has invalid resource'],
    [{ Resource: undefined }, 'A statement has exactly one of Resource and NotResource'],
    [{ Condition: { StringEqualz: { 's3:prefix': 'a' } } }, 'Invalid Condition type : StringEqualz'],
    [{ Condition: { StringEquals: { 's3:prefixx': 'a' } } }, 'Policy has an invalid condition key: s3:prefixx'],
    [
      { Condition: { IpAddress: { 'aws:SourceIp': '1.2.3.4/40' } } },
      'Condition IpAddress aws:SourceIp: "1.2.3.4/40" is not an IP address or CIDR block',
    ],
    [
      { Condition: { NumericLessThan: { 's3:max-keys': 'ten' } } },
      'Condition NumericLessThan s3:max-keys: "ten" is not a number',
    ],
    [
      { Condition: { DateGreaterThan: { 'aws:CurrentTime': 'yesterday' } } },
      'Condition DateGreaterThan aws:CurrentTime: "yesterday" is not a date',
    ],
    [
      { Condition: { Bool: { 'aws:SecureTransport': 'yes' } } },
      'Condition Bool aws:SecureTransport: "yes" is not true or false',
    ],
    [
      { Condition: { StringEquals: { 's3:prefix': { a: 1 } } } },
      'Condition StringEquals s3:prefix: values are strings, numbers or booleans',
    ],
    [{ Sid: 'has/slash' }, 'Statement IDs (SID) must be alphanumeric'],
  ])('refuses the statement %j', (s, why) => {
    expect(reason(stmt(s))).toBe(why)
  })

  it('refuses duplicate Sids', () => {
    const s = { Sid: 'A', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::photos/*' }
    expect(reason(bucketPolicy([s, s]))).toBe('Statement IDs (SID) must be unique: A')
  })

  it('accepts resources that reach the bucket through wildcards, and the bucket itself', () => {
    for (const r of ['arn:aws:s3:::photos', 'arn:aws:s3:::photos/a/*', 'arn:aws:s3:::pho*/x', 'arn:aws:s3:::*', '*'])
      expect(() => parsePolicy(stmt({ Resource: r }), { kind: 'resource', bucket: 'photos' }), r).not.toThrow()
  })

  it('a user policy may not name a principal, and may name other services', () => {
    expect(
      reason(
        JSON.stringify({ Statement: { Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' } }),
        'identity',
      ),
    ).toBe('Policy document should not specify a principal')
    expect(() =>
      parsePolicy(
        JSON.stringify({ Statement: { Effect: 'Allow', Action: 'iam:*', Resource: 'arn:aws:iam::x:user/y' } }),
        { kind: 'identity' },
      ),
    ).not.toThrow()
    expect(
      reason(JSON.stringify({ Statement: { Effect: 'Allow', Action: '*', Resource: 'photos' } }), 'identity'),
    ).toBe('Policy has invalid resource')
  })

  it('refuses a document over 20 KiB', () => {
    const big = stmt({ Sid: 'x'.repeat(21 * 1024) })
    expect(reason(big)).toBe('Policies must be at most 20480 bytes')
  })

  it('accepts account, user and canonical principals', () => {
    const p = parsePolicy(
      stmt({
        Principal: {
          AWS: ['arn:aws:iam::team-a:user/alice', 'arn:aws:iam::team-a:root', 'team-a'],
          CanonicalUser: 'a'.repeat(64),
        },
      }),
      { kind: 'resource', bucket: 'photos' },
    )
    expect(p.statements[0]!.principal).toEqual({
      any: false,
      aws: ['arn:aws:iam::team-a:user/alice', 'arn:aws:iam::team-a:root', 'team-a'],
      canonical: ['a'.repeat(64)],
      other: [],
    })
  })
})
