/**
 * Authorization: may this caller do these actions on these resources? One call per request
 * (the S3 layer's `authorizeRequest`), after authentication and before any body is read or any
 * data touched. AWS's evaluation (src/policy) over the caller's identity policies, the bucket's
 * policy and Block Public Access; a caller never reaches another namespace's bucket, and an
 * anonymous caller acts only inside the namespace of the bucket it asks for.
 */
import * as meta from '../meta/index.ts'
import {
  type ActionCheck,
  type Caller,
  callerArn,
  evaluate,
  mentionsConditionKey,
  principalType,
} from '../policy/index.ts'
import { bucketPolicy } from './access-policies.ts'
import { aclAllows } from './acl.ts'
import { canonicalId } from './canonical-id.ts'
import type { ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'
import type { Actor } from './identities.ts'
import { effectivePublicAccessBlock } from './public-access.ts'
import { existingObjectTags } from './tagging.ts'

export interface AccessQuery {
  /** What the request needs (policy's checksFor): the operation's own action first. */
  checks: readonly ActionCheck[]
  /** The request's condition keys by normalized name (the S3 layer's); the caller's are added here. */
  context: Map<string, string[]>
  /** CreateBucket: the bucket does not exist yet; it will be the caller's namespace's. */
  creating?: boolean
  /**
   * With no checks: only admit the caller to this bucket (it exists, and is its namespace's; an
   * anonymous caller acts in its namespace). DeleteObjects, whose keys are checked one by one.
   */
  bucketGate?: string
  /**
   * The object version the request acts on, for `s3:ExistingObjectTag/<key>`: its tags are read
   * (one seek) only when a policy that applies names such a key.
   */
  existingObject?: { bucket: string; key: string; versionId?: string }
}

const EXISTING_TAG = 's3:existingobjecttag/'

/** An unsigned request, acting inside `namespace` once a bucket policy lets it in. */
export const anonymousActor = (namespace: string): Actor => ({
  accessKeyId: '',
  namespace,
  isRoot: false,
  displayName: 'anonymous',
  policies: [],
  anonymous: true,
})

/** The bucket an S3 ARN names (`arn:aws:s3:::bucket[/key]`); undefined for "*". */
function bucketOf(resource: string): string | undefined {
  if (!resource.startsWith('arn:aws:s3:::')) return undefined
  const rest = resource.slice('arn:aws:s3:::'.length)
  const slash = rest.indexOf('/')
  return slash < 0 ? rest : rest.slice(0, slash)
}

/** The key an S3 object ARN names; undefined for a bucket ARN. */
function keyOf(resource: string): string | undefined {
  const rest = resource.slice('arn:aws:s3:::'.length)
  const slash = rest.indexOf('/')
  return slash < 0 ? undefined : rest.slice(slash + 1)
}

/** Only root may always read and change the bucket policy: AWS's guard against locking oneself out. */
const POLICY_ACTIONS = new Set(['s3:getbucketpolicy', 's3:putbucketpolicy', 's3:deletebucketpolicy'])

type Outcome = { actor: Actor } | { denied: true }

async function decide(
  ctx: ServiceContext,
  who: Actor | undefined,
  q: AccessQuery,
  rows = new Map<string, meta.BucketRow | undefined>(),
): Promise<Outcome> {
  const rowOf = async (name: string) => {
    if (!rows.has(name)) rows.set(name, await meta.getBucket(ctx.db, name))
    return rows.get(name)
  }
  // The target bucket first: a missing one is NoSuchBucket for everyone, as S3 answers.
  const targetName = q.bucketGate ?? (q.checks[0] ? bucketOf(q.checks[0].resource) : undefined)
  const target = targetName === undefined ? undefined : await rowOf(targetName)
  if (targetName !== undefined && !target && !q.creating)
    throw new ServiceError('NoSuchBucket', undefined, { BucketName: targetName })
  // Anonymous callers exist only where a bucket exists to let them in.
  if (!who && !target) return { denied: true }
  const actor = who ?? anonymousActor(target!.namespace)
  if (target && target.namespace !== actor.namespace && !q.creating) return { denied: true }
  const caller: Caller = {
    kind: actor.anonymous ? 'anonymous' : actor.isRoot ? 'root' : 'user',
    namespace: actor.namespace,
    userName: actor.anonymous ? undefined : actor.displayName,
    userId: actor.anonymous ? undefined : actor.accessKeyId,
    canonicalId: actor.anonymous ? undefined : canonicalId(ctx, actor.namespace),
  }
  const context = withCaller(q.context, caller)
  const targetPolicy = target ? bucketPolicy(ctx, target) : undefined
  const o = q.existingObject
  if (
    o &&
    [...actor.policies, ...(targetPolicy ? [targetPolicy] : [])].some((p) => mentionsConditionKey(p, EXISTING_TAG))
  )
    for (const t of (await existingObjectTags(ctx, o.bucket, o.key, o.versionId)) ?? [])
      context.set(`${EXISTING_TAG}${t.key}`, [t.value])
  for (const check of q.checks) {
    const name = bucketOf(check.resource)
    // CreateBucket is the caller's namespace's to decide; a taken name is the operation's answer.
    const creatingThis = q.creating === true && name === targetName
    const row = name === undefined || creatingThis ? undefined : await rowOf(name)
    if (name !== undefined && !row && !creatingThis)
      // A copy source that is missing: the operation answers it (NoSuchBucket / NoSuchKey).
      continue
    const resourceNamespace = row?.namespace ?? actor.namespace
    if (resourceNamespace !== actor.namespace) return { denied: true }
    if (caller.kind === 'root' && POLICY_ACTIONS.has(check.action.toLowerCase())) continue
    const policy = row ? bucketPolicy(ctx, row) : undefined
    const restrictPublic =
      policy !== undefined && caller.kind === 'anonymous'
        ? (await effectivePublicAccessBlock(ctx, row!)).RestrictPublicBuckets
        : false
    const decision = evaluate(
      { caller, action: check.action, resource: check.resource, context },
      { identity: actor.policies, resource: policy, resourceNamespace, restrictPublic },
    )
    if (decision === 'allow') continue
    // No policy allows it: an ACL may, where the bucket enables ACLs (never past an explicit Deny).
    if (decision === 'implicit-deny' && row) {
      const key = keyOf(check.resource)
      // A check on the object the request writes (its ACL, tagging) rides on the bucket's WRITE
      // grant; a copy source is read, in the version it names, even when it is the same key.
      const writing =
        !check.copySource && check.resource === q.checks[0]?.resource && q.checks[0]?.action === 's3:PutObject'
      if (await aclAllows(ctx, row, caller, check.action, key, check.versionId, writing)) continue
    }
    return { denied: true }
  }
  return { actor }
}

/**
 * The actor the request runs as, or AccessDenied (NoSuchBucket for a bucket that does not
 * exist). `who` undefined: an unsigned request. `rows` receives the bucket rows the decision
 * read, so the operation need not read its bucket again.
 */
export async function authorize(
  ctx: ServiceContext,
  who: Actor | undefined,
  q: AccessQuery,
  rows = new Map<string, meta.BucketRow | undefined>(),
): Promise<Actor> {
  const outcome = await decide(ctx, who, q, rows)
  if ('denied' in outcome) throw new ServiceError('AccessDenied')
  return outcome.actor
}

/**
 * The same decision as booleans, one per query (per-key checks of DeleteObjects, NoSuchKey vs
 * AccessDenied); the bucket rows are read once for all of them.
 */
export async function isAllowed(
  ctx: ServiceContext,
  who: Actor | undefined,
  queries: readonly AccessQuery[],
): Promise<boolean[]> {
  const rows = new Map<string, meta.BucketRow | undefined>()
  const out: boolean[] = []
  for (const q of queries) {
    try {
      out.push('actor' in (await decide(ctx, who, q, rows)))
    } catch (e) {
      if (e instanceof ServiceError && e.code === 'NoSuchBucket') out.push(false)
      else throw e
    }
  }
  return out
}

/** The caller's own condition keys: aws:username, aws:userid, aws:PrincipalType, … */
function withCaller(base: Map<string, string[]>, caller: Caller): Map<string, string[]> {
  const context = new Map(base)
  context.set('aws:principaltype', [principalType(caller)])
  if (caller.kind === 'anonymous') return context
  context.set('aws:principalaccount', [caller.namespace])
  const arn = callerArn(caller)
  if (arn) context.set('aws:principalarn', [arn])
  if (caller.userId) context.set('aws:userid', [caller.userId])
  if (caller.kind === 'user' && caller.userName) context.set('aws:username', [caller.userName])
  return context
}
