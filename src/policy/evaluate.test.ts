// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${aws:username} is IAM policy syntax, not a template
import { describe, expect, it } from 'vitest'
import { normalizeKey } from './conditions.ts'
import { parsePolicyValue, type Policy } from './document.ts'
import { type AccessRequest, type Decision, evaluate, substitute } from './evaluate.ts'
import type { Caller } from './principals.ts'

const alice: Caller = { kind: 'user', namespace: 'team', userName: 'alice', userId: 'AKALICE' }
const bob: Caller = { kind: 'user', namespace: 'team', userName: 'bob', userId: 'AKBOB' }
const root: Caller = { kind: 'root', namespace: 'team', userId: 'AKROOT', canonicalId: 'c'.repeat(64) }
const anon: Caller = { kind: 'anonymous', namespace: 'team' }
const stranger: Caller = { kind: 'user', namespace: 'other', userName: 'alice', userId: 'AKOTHER' }

const ctx = (values: Record<string, string | string[]> = {}) =>
  new Map(Object.entries(values).map(([k, v]) => [normalizeKey(k), Array.isArray(v) ? v : [v]]))

const identity = (...statements: unknown[]): Policy =>
  parsePolicyValue({ Version: '2012-10-17', Statement: statements }, { kind: 'identity' })
const bucket = (...statements: unknown[]): Policy =>
  parsePolicyValue({ Version: '2012-10-17', Statement: statements }, { kind: 'resource', bucket: 'b' })

const req = (caller: Caller, action: string, resource: string, context = ctx()): AccessRequest => ({
  caller,
  action,
  resource,
  context,
})

describe('evaluate', () => {
  const readOnly = identity({ Effect: 'Allow', Action: ['s3:Get*', 's3:List*'], Resource: '*' })

  it('implicit deny without any policy; root needs none', () => {
    expect(evaluate(req(alice, 's3:GetObject', 'arn:aws:s3:::b/k'), { identity: [], resourceNamespace: 'team' })).toBe(
      'implicit-deny',
    )
    expect(
      evaluate(req(root, 's3:PutBucketPolicy', 'arn:aws:s3:::b'), { identity: [], resourceNamespace: 'team' }),
    ).toBe('allow')
  })

  it('identity Allow allows only its actions', () => {
    const p = { identity: [readOnly], resourceNamespace: 'team' }
    expect(evaluate(req(alice, 's3:GetObject', 'arn:aws:s3:::b/k'), p)).toBe('allow')
    expect(evaluate(req(alice, 's3:ListBucket', 'arn:aws:s3:::b'), p)).toBe('allow')
    expect(evaluate(req(alice, 's3:PutObject', 'arn:aws:s3:::b/k'), p)).toBe('implicit-deny')
  })

  it('an explicit Deny anywhere wins over any Allow, for root too', () => {
    const denyDelete = bucket({
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:DeleteObject',
      Resource: 'arn:aws:s3:::b/*',
    })
    const all = identity({ Effect: 'Allow', Action: 's3:*', Resource: '*' })
    expect(
      evaluate(req(alice, 's3:DeleteObject', 'arn:aws:s3:::b/k'), {
        identity: [all],
        resource: denyDelete,
        resourceNamespace: 'team',
      }),
    ).toBe('explicit-deny')
    expect(
      evaluate(req(root, 's3:DeleteObject', 'arn:aws:s3:::b/k'), {
        identity: [],
        resource: denyDelete,
        resourceNamespace: 'team',
      }),
    ).toBe('explicit-deny')
    const selfDeny = identity(
      { Effect: 'Allow', Action: 's3:*', Resource: '*' },
      { Effect: 'Deny', Action: 's3:PutObject', Resource: 'arn:aws:s3:::b/locked/*' },
    )
    expect(
      evaluate(req(alice, 's3:PutObject', 'arn:aws:s3:::b/locked/x'), {
        identity: [selfDeny],
        resourceNamespace: 'team',
      }),
    ).toBe('explicit-deny')
    expect(
      evaluate(req(alice, 's3:PutObject', 'arn:aws:s3:::b/open/x'), {
        identity: [selfDeny],
        resourceNamespace: 'team',
      }),
    ).toBe('allow')
  })

  it('a bucket policy grants a named user of the namespace, not another', () => {
    const p = bucket({
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::team:user/bob' },
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::b/*',
    })
    const set = { identity: [], resource: p, resourceNamespace: 'team' }
    expect(evaluate(req(bob, 's3:GetObject', 'arn:aws:s3:::b/k'), set)).toBe('allow')
    expect(evaluate(req(alice, 's3:GetObject', 'arn:aws:s3:::b/k'), set)).toBe('implicit-deny')
    expect(evaluate(req(anon, 's3:GetObject', 'arn:aws:s3:::b/k'), set)).toBe('implicit-deny')
  })

  it('nothing crosses a namespace, whatever the policies say', () => {
    const everyone = bucket({
      Effect: 'Allow',
      Principal: '*',
      Action: 's3:*',
      Resource: ['arn:aws:s3:::b', 'arn:aws:s3:::b/*'],
    })
    const all = identity({ Effect: 'Allow', Action: '*', Resource: '*' })
    expect(
      evaluate(req(stranger, 's3:GetObject', 'arn:aws:s3:::b/k'), {
        identity: [all],
        resource: everyone,
        resourceNamespace: 'team',
      }),
    ).toBe('explicit-deny')
    expect(
      evaluate(req({ ...root, namespace: 'other' }, 's3:GetObject', 'arn:aws:s3:::b/k'), {
        identity: [],
        resource: everyone,
        resourceNamespace: 'team',
      }),
    ).toBe('explicit-deny')
  })

  it('anonymous callers get only what "*" is granted, and never identity policies', () => {
    const pub = bucket({
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::b/public/*',
    })
    const set = { identity: [readOnly], resource: pub, resourceNamespace: 'team' }
    expect(evaluate(req(anon, 's3:GetObject', 'arn:aws:s3:::b/public/a.png'), set)).toBe('allow')
    expect(evaluate(req(anon, 's3:GetObject', 'arn:aws:s3:::b/private/a.png'), set)).toBe('implicit-deny')
    expect(evaluate(req(anon, 's3:ListBucket', 'arn:aws:s3:::b'), set)).toBe('implicit-deny')
    // RestrictPublicBuckets: the public statement allows no anonymous caller, users still get it.
    expect(evaluate(req(anon, 's3:GetObject', 'arn:aws:s3:::b/public/a.png'), { ...set, restrictPublic: true })).toBe(
      'implicit-deny',
    )
    expect(
      evaluate(req(bob, 's3:GetObject', 'arn:aws:s3:::b/public/a.png'), {
        identity: [],
        resource: pub,
        resourceNamespace: 'team',
        restrictPublic: true,
      }),
    ).toBe('allow')
  })

  it('NotPrincipal, NotAction and NotResource', () => {
    const p = bucket({
      Effect: 'Deny',
      NotPrincipal: { AWS: 'arn:aws:iam::team:user/alice' },
      NotAction: 's3:Get*',
      NotResource: 'arn:aws:s3:::b/scratch/*',
    })
    const all = identity({ Effect: 'Allow', Action: 's3:*', Resource: '*' })
    const set = { identity: [all], resource: p, resourceNamespace: 'team' }
    expect(evaluate(req(bob, 's3:PutObject', 'arn:aws:s3:::b/k'), set)).toBe('explicit-deny')
    expect(evaluate(req(bob, 's3:GetObject', 'arn:aws:s3:::b/k'), set)).toBe('allow')
    expect(evaluate(req(bob, 's3:PutObject', 'arn:aws:s3:::b/scratch/k'), set)).toBe('allow')
    expect(evaluate(req(alice, 's3:PutObject', 'arn:aws:s3:::b/k'), set)).toBe('allow')
  })

  it('the account principal names the root user only (delegation), as does its canonical id', () => {
    const p = bucket({
      Effect: 'Deny',
      Principal: { AWS: 'arn:aws:iam::team:root' },
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::b/*',
    })
    const c = bucket({
      Effect: 'Deny',
      Principal: { CanonicalUser: 'c'.repeat(64) },
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::b/*',
    })
    const all = identity({ Effect: 'Allow', Action: 's3:*', Resource: '*' })
    for (const resource of [p, c]) {
      expect(
        evaluate(req(root, 's3:GetObject', 'arn:aws:s3:::b/k'), { identity: [], resource, resourceNamespace: 'team' }),
      ).toBe('explicit-deny')
      expect(
        evaluate(req(bob, 's3:GetObject', 'arn:aws:s3:::b/k'), {
          identity: [all],
          resource,
          resourceNamespace: 'team',
        }),
      ).toBe('allow')
    }
  })

  it('a prefix-per-user policy through ${aws:username}', () => {
    const home = identity(
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: 'arn:aws:s3:::b',
        Condition: { StringLike: { 's3:prefix': ['home/${aws:username}/*', 'home/${aws:username}/'] } },
      },
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: 'arn:aws:s3:::b/home/${aws:username}/*' },
    )
    const set = { identity: [home], resourceNamespace: 'team' }
    const c = (extra: Record<string, string> = {}) => ctx({ 'aws:username': 'alice', ...extra })
    expect(evaluate(req(alice, 's3:PutObject', 'arn:aws:s3:::b/home/alice/x', c()), set)).toBe('allow')
    expect(evaluate(req(alice, 's3:PutObject', 'arn:aws:s3:::b/home/bob/x', c()), set)).toBe('implicit-deny')
    expect(evaluate(req(alice, 's3:ListBucket', 'arn:aws:s3:::b', c({ 's3:prefix': 'home/alice/' })), set)).toBe(
      'allow',
    )
    expect(evaluate(req(alice, 's3:ListBucket', 'arn:aws:s3:::b', c({ 's3:prefix': 'home/' })), set)).toBe(
      'implicit-deny',
    )
    expect(evaluate(req(alice, 's3:ListBucket', 'arn:aws:s3:::b', c()), set)).toBe('implicit-deny')
  })

  it('policy variables are literal text under Version 2008-10-17', () => {
    const old = parsePolicyValue(
      {
        Version: '2008-10-17',
        Statement: { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/${aws:username}/*' },
      },
      { kind: 'identity' },
    )
    expect(
      evaluate(req(alice, 's3:GetObject', 'arn:aws:s3:::b/alice/x', ctx({ 'aws:username': 'alice' })), {
        identity: [old],
        resourceNamespace: 'team',
      }),
    ).toBe('implicit-deny')
    expect(
      evaluate(req(alice, 's3:GetObject', 'arn:aws:s3:::b/${aws:username}/x', ctx({ 'aws:username': 'alice' })), {
        identity: [old],
        resourceNamespace: 'team',
      }),
    ).toBe('allow')
  })

  it('substitute: escapes, missing variables', () => {
    const c = ctx({ 'aws:username': 'al' })
    expect(substitute('a/${aws:username}/${*}${?}${$}', c)).toBe('a/al/*?$')
    expect(substitute('${aws:userid}', c)).toBeUndefined()
    expect(substitute('plain', c)).toBe('plain')
  })

  it('conditions: SecureTransport and SourceIp', () => {
    const p = identity({
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: '*',
      Condition: { Bool: { 'aws:SecureTransport': 'true' }, IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } },
    })
    const set = { identity: [p], resourceNamespace: 'team' }
    expect(
      evaluate(
        req(
          alice,
          's3:GetObject',
          'arn:aws:s3:::b/k',
          ctx({ 'aws:SecureTransport': 'true', 'aws:SourceIp': '127.0.0.1' }),
        ),
        set,
      ),
    ).toBe('allow')
    expect(
      evaluate(
        req(
          alice,
          's3:GetObject',
          'arn:aws:s3:::b/k',
          ctx({ 'aws:SecureTransport': 'true', 'aws:SourceIp': '10.1.1.1' }),
        ),
        set,
      ),
    ).toBe('implicit-deny')
    expect(evaluate(req(alice, 's3:GetObject', 'arn:aws:s3:::b/k', ctx({ 'aws:SourceIp': '127.0.0.1' })), set)).toBe(
      'implicit-deny',
    )
  })
})

/**
 * The property test the issue asks for: random policies built from statements whose outcome for
 * one fixed request is known from the AWS documentation (written by hand below, not computed by
 * the evaluator), combined at random, and the evaluator's decision compared with AWS's rule:
 * any applicable Deny → explicit deny; else any applicable Allow → allow; else implicit deny.
 */
describe('evaluate agrees with AWS evaluation outcomes on random policies', () => {
  // The request: alice (team) does s3:GetObject on b/photos/cat.png over TLS from 127.0.0.1.
  const request = req(
    alice,
    's3:GetObject',
    'arn:aws:s3:::b/photos/cat.png',
    ctx({
      'aws:SecureTransport': 'true',
      'aws:SourceIp': '127.0.0.1',
      'aws:username': 'alice',
      'aws:userid': 'AKALICE',
    }),
  )
  /** Statement bodies (without Effect/Principal) and whether each applies to the request. */
  const BODIES: [Record<string, unknown>, boolean][] = [
    [{ Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }, true],
    [{ Action: 's3:getobject', Resource: 'arn:aws:s3:::b/photos/*' }, true], // actions are case-insensitive
    [{ Action: 's3:Get*', Resource: '*' }, true],
    [{ Action: 's3:*', Resource: 'arn:aws:s3:::b/photos/cat.???' }, true],
    [{ Action: 's3:PutObject', Resource: 'arn:aws:s3:::b/*' }, false],
    [{ Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/videos/*' }, false],
    [{ Action: 's3:GetObject', Resource: 'arn:aws:s3:::B/*' }, false], // resources are case-sensitive
    [{ Action: 's3:GetObject', Resource: 'arn:aws:s3:::b' }, false],
    [{ NotAction: 's3:PutObject', Resource: '*' }, true],
    [{ NotAction: 's3:Get*', Resource: '*' }, false],
    [{ Action: 's3:GetObject', NotResource: 'arn:aws:s3:::b/secret/*' }, true],
    [{ Action: 's3:GetObject', NotResource: 'arn:aws:s3:::b/photos/*' }, false],
    [{ Action: 's3:GetObject', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }, false],
    [{ Action: 's3:GetObject', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'true' } } }, true],
    [{ Action: 's3:GetObject', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } } }, true],
    [{ Action: 's3:GetObject', Resource: '*', Condition: { NotIpAddress: { 'aws:SourceIp': '127.0.0.0/8' } } }, false],
    [{ Action: 's3:GetObject', Resource: '*', Condition: { StringEquals: { 'aws:Referer': 'https://x' } } }, false], // key absent
    [{ Action: 's3:GetObject', Resource: '*', Condition: { StringNotEquals: { 'aws:Referer': 'https://x' } } }, true], // absent, negated
    [
      { Action: 's3:GetObject', Resource: '*', Condition: { StringEqualsIfExists: { 'aws:Referer': 'https://x' } } },
      true,
    ],
    [{ Action: 's3:GetObject', Resource: '*', Condition: { Null: { 'aws:Referer': 'true' } } }, true],
    [{ Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/${aws:username}/*' }, false],
    [
      { Action: 's3:GetObject', Resource: '*', Condition: { StringEquals: { 'aws:username': '${aws:username}' } } },
      true,
    ],
    [
      {
        Action: 's3:GetObject',
        Resource: '*',
        Condition: { StringLike: { 'aws:userid': 'AK*' }, Bool: { 'aws:SecureTransport': 'false' } },
      },
      false,
    ], // conditions AND
  ]
  const BUCKET_BODIES = BODIES.filter(([b]) => b.Resource !== 'arn:aws:s3:::B/*')
  /** Principal elements (bucket policies) and whether each names alice. */
  const PRINCIPALS: [Record<string, unknown>, boolean][] = [
    [{ Principal: '*' }, true],
    [{ Principal: { AWS: '*' } }, true],
    [{ Principal: { AWS: 'arn:aws:iam::team:user/alice' } }, true],
    [{ Principal: { AWS: 'arn:aws:iam::team:user/bob' } }, false],
    [{ Principal: { AWS: 'arn:aws:iam::team:root' } }, false], // delegates to identity policies
    [{ NotPrincipal: { AWS: 'arn:aws:iam::team:user/bob' } }, true],
    [{ NotPrincipal: { AWS: 'arn:aws:iam::team:user/alice' } }, false],
  ]

  let seed = 12345
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }

  it('for 2000 random combinations of identity and bucket statements', () => {
    const seen = new Set<Decision>()
    for (let round = 0; round < 2000; round++) {
      let anyDeny = false
      let anyAllow = false
      const idStatements: unknown[] = []
      const bucketStatements: unknown[] = []
      for (let i = 0, n = rand(4); i < n; i++) {
        const [body, applies] = BODIES[rand(BODIES.length)]!
        const effect = rand(3) === 0 ? 'Deny' : 'Allow'
        idStatements.push({ Effect: effect, ...body })
        if (applies && effect === 'Deny') anyDeny = true
        if (applies && effect === 'Allow') anyAllow = true
      }
      for (let i = 0, n = rand(3); i < n; i++) {
        // A bucket policy may not name another bucket (MalformedPolicy), so not the upper-case one.
        const [body, applies] = BUCKET_BODIES[rand(BUCKET_BODIES.length)]!
        const [principal, names] = PRINCIPALS[rand(PRINCIPALS.length)]!
        const effect = rand(3) === 0 ? 'Deny' : 'Allow'
        bucketStatements.push({ Effect: effect, ...principal, ...body })
        if (applies && names && effect === 'Deny') anyDeny = true
        if (applies && names && effect === 'Allow') anyAllow = true
      }
      const expected: Decision = anyDeny ? 'explicit-deny' : anyAllow ? 'allow' : 'implicit-deny'
      const policies = {
        identity: idStatements.length ? [identity(...idStatements)] : [],
        resource: bucketStatements.length ? bucket(...bucketStatements) : undefined,
        resourceNamespace: 'team',
      }
      const got = evaluate(request, policies)
      if (got !== expected)
        throw new Error(
          `round ${round}: expected ${expected}, got ${got}\n${JSON.stringify({ idStatements, bucketStatements }, null, 1)}`,
        )
      seen.add(got)
    }
    expect([...seen].sort()).toEqual(['allow', 'explicit-deny', 'implicit-deny'])
  })
})
