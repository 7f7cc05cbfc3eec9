/**
 * "Is this bucket policy public?" as Block Public Access decides it: a policy is public when an
 * Allow statement grants a wildcard principal ("*", or NotPrincipal) without a condition that
 * pins the caller to fixed values (a source IP range narrower than the whole internet, an
 * account, a user id, an ARN, a VPC…).
 */
import type { Policy, Statement } from './document.ts'
import { parseCidr } from './ip.ts'
import { hasWildcard } from './wildcard.ts'

/** Keys whose fixed values make a statement non-public (AWS's list, as applies to Coffer). */
const PINNING_KEYS = new Set([
  'aws:sourceip',
  'aws:sourcearn',
  'aws:sourcevpc',
  'aws:sourcevpce',
  'aws:sourceaccount',
  'aws:sourceowner',
  'aws:principalaccount',
  'aws:principalarn',
  'aws:principalorgid',
  'aws:userid',
  'aws:username',
])

function pins(st: Statement): boolean {
  return st.conditions.some((c) => {
    if (c.op.negated || c.op.ifExists || c.op.base === 'Null' || c.op.set === 'all') return false
    if (!PINNING_KEYS.has(c.key.toLowerCase())) return false
    if (c.values.some(hasWildcard)) return false
    if (c.op.base === 'Ip') {
      // AWS counts a range as public when it is wider than /8 (IPv4) or /32 (IPv6).
      return c.values.every((v) => {
        const cidr = parseCidr(v)
        return cidr !== undefined && (v.includes(':') ? cidr.bits >= 32 : cidr.bits - 96 >= 8)
      })
    }
    return true
  })
}

export function isPublicStatement(st: Statement): boolean {
  if (st.effect !== 'Allow') return false
  const wildcard = st.notPrincipal !== undefined || st.principal?.any === true
  return wildcard && !pins(st)
}

export function isPublicPolicy(policy: Policy): boolean {
  return policy.statements.some(isPublicStatement)
}
