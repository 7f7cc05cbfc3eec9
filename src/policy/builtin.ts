/**
 * The built-in user policies an operator attaches by name. Their Resource "*" means every
 * bucket of the user's namespace: evaluation never lets a user past its namespace.
 */
import { type Policy, parsePolicyValue } from './document.ts'

export const BUILTIN_POLICY_NAMES = ['readonly', 'readwrite', 'writeonly', 'admin'] as const
export type BuiltinPolicyName = (typeof BUILTIN_POLICY_NAMES)[number]

/** What `readwrite` leaves to `admin`: who else may read or write, and whether it can be public. */
const ACCESS_MANAGEMENT = [
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:PutBucketPublicAccessBlock',
  's3:PutBucketOwnershipControls',
  's3:BypassGovernanceRetention',
]

export const BUILTIN_POLICY_DOCUMENTS: Record<BuiltinPolicyName, unknown> = {
  // AWS's AmazonS3ReadOnlyAccess.
  readonly: {
    Version: '2012-10-17',
    Statement: [{ Sid: 'ReadOnly', Effect: 'Allow', Action: ['s3:Get*', 's3:List*'], Resource: '*' }],
  },
  // Everything an application does with data, nothing that changes who may access it.
  readwrite: {
    Version: '2012-10-17',
    Statement: [{ Sid: 'ReadWrite', Effect: 'Allow', NotAction: ACCESS_MANAGEMENT, Resource: '*' }],
  },
  // A backup job's key: write objects (multipart included), read and list nothing.
  writeonly: {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'WriteOnly',
        Effect: 'Allow',
        Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:GetBucketLocation'],
        Resource: '*',
      },
    ],
  },
  admin: {
    Version: '2012-10-17',
    Statement: [{ Sid: 'NamespaceAdmin', Effect: 'Allow', Action: 's3:*', Resource: '*' }],
  },
}

const parsed = new Map<BuiltinPolicyName, Policy>()

export const isBuiltinPolicyName = (name: string): name is BuiltinPolicyName =>
  (BUILTIN_POLICY_NAMES as readonly string[]).includes(name)

export function builtinPolicy(name: BuiltinPolicyName): Policy {
  let p = parsed.get(name)
  if (!p) {
    p = parsePolicyValue(BUILTIN_POLICY_DOCUMENTS[name], { kind: 'identity' })
    parsed.set(name, p)
  }
  return p
}
