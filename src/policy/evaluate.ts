/**
 * AWS's policy evaluation, within one account (a namespace; nothing crosses namespaces):
 * an explicit Deny in any applicable policy wins; else an Allow from an identity policy or from
 * the resource (bucket) policy allows; else the request is implicitly denied. The root user of
 * the namespace needs no identity policy, but a bucket policy's explicit Deny still applies to it.
 */
import { normalizeKey, testCondition, type ContextValues } from './conditions.ts'
import { hasVariable, type Policy, type PrincipalSet, type Statement } from './document.ts'
import { accountArn, type Caller, userArn } from './principals.ts'
import { isPublicStatement } from './public.ts'
import { wildcardMatch } from './wildcard.ts'

export interface AccessRequest {
  caller: Caller
  action: string
  /** The resource ARN (or "*" for ListAllMyBuckets). */
  resource: string
  context: ContextValues
}

export interface ApplicablePolicies {
  /** The caller's identity policies (none for anonymous). */
  identity: readonly Policy[]
  /** The bucket's policy, if it has one. */
  resource?: Policy
  /** The namespace owning the resource: a caller from another one is always denied. */
  resourceNamespace: string
  /**
   * RestrictPublicBuckets is in effect: a public statement of the bucket policy allows nobody
   * from outside the namespace — here, anonymous callers.
   */
  restrictPublic?: boolean
}

export type Decision = 'allow' | 'explicit-deny' | 'implicit-deny'

export function evaluate(req: AccessRequest, policies: ApplicablePolicies): Decision {
  const { caller } = req
  if (caller.kind !== 'anonymous' && caller.namespace !== policies.resourceNamespace) return 'explicit-deny'
  let allowed = caller.kind === 'root'
  const identity = caller.kind === 'anonymous' ? [] : policies.identity
  for (const policy of identity) {
    for (const st of policy.statements) {
      if (!statementApplies(st, policy, req, false)) continue
      if (st.effect === 'Deny') return 'explicit-deny'
      allowed = true
    }
  }
  const bucketPolicy = policies.resource
  if (bucketPolicy) {
    for (const st of bucketPolicy.statements) {
      if (!statementApplies(st, bucketPolicy, req, true)) continue
      if (st.effect === 'Deny') return 'explicit-deny'
      if (policies.restrictPublic && caller.kind === 'anonymous' && isPublicStatement(st)) continue
      allowed = true
    }
  }
  return allowed ? 'allow' : 'implicit-deny'
}

function statementApplies(st: Statement, policy: Policy, req: AccessRequest, asResource: boolean): boolean {
  if (asResource) {
    if (st.principal && !principalMatches(st.principal, req.caller)) return false
    if (st.notPrincipal && principalMatches(st.notPrincipal, req.caller)) return false
  }
  if (st.action && !st.action.some((a) => wildcardMatch(a, req.action, true))) return false
  if (st.notAction?.some((a) => wildcardMatch(a, req.action, true))) return false
  const vars = policy.version === '2012-10-17'
  const resourceHit = (patterns: readonly string[]) =>
    patterns.some((p) => {
      const pattern = vars ? substitute(p, req.context) : p
      return pattern !== undefined && wildcardMatch(pattern, req.resource)
    })
  if (st.resource && !resourceHit(st.resource)) return false
  if (st.notResource && resourceHit(st.notResource)) return false
  for (const c of st.conditions) {
    const values = vars
      ? c.values.flatMap((v) => {
          const s = substitute(v, req.context)
          return s === undefined ? [] : [s]
        })
      : c.values
    if (!testCondition(c.op, req.context.get(normalizeKey(c.key)), values)) return false
  }
  return true
}

/** Does a Principal element name the caller? Anonymous callers match only "*". */
export function principalMatches(p: PrincipalSet, caller: Caller): boolean {
  if (p.any) return true
  if (caller.kind === 'anonymous') return false
  if (caller.kind === 'user' && caller.userName !== undefined) {
    if (p.aws.includes(userArn(caller.namespace, caller.userName))) return true
  }
  // Naming the account delegates to its identity policies (AWS): it names the root user only.
  if (caller.kind === 'root') {
    if (p.aws.includes(accountArn(caller.namespace)) || p.aws.includes(caller.namespace)) return true
    if (caller.canonicalId !== undefined && p.canonical.includes(caller.canonicalId)) return true
  }
  return false
}

/**
 * Policy variables (${aws:username}, ${s3:prefix}, …) and the escapes ${*} ${?} ${$}; undefined
 * when a variable has no value in the request (the element then matches nothing).
 */
export function substitute(text: string, context: ContextValues): string | undefined {
  if (!hasVariable(text)) return text
  let missing = false
  const out = text.replace(/\$\{([^}]*)\}/g, (_, name: string) => {
    if (name === '*' || name === '?' || name === '$') return name
    const v = context.get(normalizeKey(name.trim()))
    if (v?.length !== 1) {
      missing = true
      return ''
    }
    return v[0]!
  })
  return missing ? undefined : out
}
