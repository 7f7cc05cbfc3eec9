/**
 * Who calls, in the policy language's terms. Coffer's scheme (README, Access control): a
 * namespace is an account whose id is the namespace's name; a user is
 * `arn:aws:iam::<namespace>:user/<name>`, the namespace itself `arn:aws:iam::<namespace>:root`;
 * anonymous (unsigned) requests are the principal "*" only.
 */

export interface Caller {
  kind: 'root' | 'user' | 'anonymous'
  /** The caller's namespace; for anonymous, the namespace of the bucket it asks for. */
  namespace: string
  /** User name (aws:username). */
  userName?: string
  /** Access key id (aws:userid). */
  userId?: string
  /** The canonical id of the caller's namespace (ACL grantee, CanonicalUser principal). */
  canonicalId?: string
}

export const userArn = (namespace: string, name: string): string => `arn:aws:iam::${namespace}:user/${name}`
export const accountArn = (namespace: string): string => `arn:aws:iam::${namespace}:root`

/** The caller's ARN (aws:PrincipalArn); undefined for anonymous. */
export function callerArn(c: Caller): string | undefined {
  if (c.kind === 'anonymous') return undefined
  if (c.kind === 'root') return accountArn(c.namespace)
  return userArn(c.namespace, c.userName ?? '')
}

/** aws:PrincipalType as AWS reports it. */
export const principalType = (c: Caller): string =>
  c.kind === 'anonymous' ? 'Anonymous' : c.kind === 'root' ? 'Account' : 'User'
