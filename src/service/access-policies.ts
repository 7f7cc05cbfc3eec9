/**
 * Stored policy documents back into evaluable policies: a user's (its built-in policy by name
 * and its own document) and a bucket's, parsed once and cached by text. The text was validated
 * when it was written; one that no longer parses grants nothing (and is logged), never more.
 */
import type * as meta from '../meta/index.ts'
import { builtinPolicy, isBuiltinPolicyName, type Policy, type PolicyKind, parsePolicy } from '../policy/index.ts'
import type { ServiceContext } from './context.ts'

/** Parsed bucket policies kept per gateway; the oldest goes first beyond this. */
const POLICY_CACHE_MAX = 512

function parseStored(ctx: ServiceContext, text: string, kind: PolicyKind, bucket?: string): Policy | undefined {
  const cacheKey = `${kind}\n${bucket ?? ''}\n${text}`
  const hit = ctx.policyCache.get(cacheKey)
  if (hit) return hit
  try {
    const p = parsePolicy(text, { kind, bucket })
    if (ctx.policyCache.size >= POLICY_CACHE_MAX) {
      const oldest = ctx.policyCache.keys().next()
      if (!oldest.done) ctx.policyCache.delete(oldest.value)
    }
    ctx.policyCache.set(cacheKey, p)
    return p
  } catch (e) {
    ctx.logger.log('warn', 'a stored policy no longer parses; it grants nothing', {
      kind,
      bucket,
      error: e instanceof Error ? e.message : String(e),
    })
    return undefined
  }
}

/** The identity policies of a user row: its built-in one, then its own. */
export function userPolicies(ctx: ServiceContext, row: meta.UserRow): Policy[] {
  const out: Policy[] = []
  if (row.builtinPolicy && isBuiltinPolicyName(row.builtinPolicy)) out.push(builtinPolicy(row.builtinPolicy))
  if (row.policy) {
    const p = parseStored(ctx, row.policy, 'identity')
    if (p) out.push(p)
  }
  return out
}

export function bucketPolicy(ctx: ServiceContext, row: meta.BucketRow): Policy | undefined {
  return row.policy ? parseStored(ctx, row.policy, 'resource', row.name) : undefined
}
