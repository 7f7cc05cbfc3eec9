import { describe, expect, it } from 'vitest'
import { BUILTIN_POLICY_NAMES, builtinPolicy } from './builtin.ts'
import { evaluate } from './evaluate.ts'
import type { Caller } from './principals.ts'

const alice: Caller = { kind: 'user', namespace: 'team', userName: 'alice', userId: 'AK' }
const decide = (name: (typeof BUILTIN_POLICY_NAMES)[number], action: string) =>
  evaluate(
    { caller: alice, action, resource: 'arn:aws:s3:::b/k', context: new Map() },
    { identity: [builtinPolicy(name)], resourceNamespace: 'team' },
  )

describe('built-in user policies', () => {
  it.each([
    ['readonly', 's3:GetObject', 'allow'],
    ['readonly', 's3:ListBucket', 'allow'],
    ['readonly', 's3:PutObject', 'implicit-deny'],
    ['readonly', 's3:DeleteObject', 'implicit-deny'],
    ['writeonly', 's3:PutObject', 'allow'],
    ['writeonly', 's3:AbortMultipartUpload', 'allow'],
    ['writeonly', 's3:GetObject', 'implicit-deny'],
    ['writeonly', 's3:ListBucket', 'implicit-deny'],
    ['readwrite', 's3:GetObject', 'allow'],
    ['readwrite', 's3:PutObject', 'allow'],
    ['readwrite', 's3:DeleteBucket', 'allow'],
    ['readwrite', 's3:PutBucketPolicy', 'implicit-deny'],
    ['readwrite', 's3:PutBucketPublicAccessBlock', 'implicit-deny'],
    ['admin', 's3:PutBucketPolicy', 'allow'],
    ['admin', 's3:BypassGovernanceRetention', 'allow'],
  ] as const)('%s: %s → %s', (name, action, want) => {
    expect(decide(name, action)).toBe(want)
  })

  it('never reach another namespace', () => {
    for (const name of BUILTIN_POLICY_NAMES)
      expect(
        evaluate(
          { caller: alice, action: 's3:GetObject', resource: 'arn:aws:s3:::b/k', context: new Map() },
          { identity: [builtinPolicy(name)], resourceNamespace: 'other' },
        ),
      ).toBe('explicit-deny')
  })
})
