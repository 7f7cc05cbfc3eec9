/**
 * Who is calling: access keys → secrets (for SigV4) and → actors (namespace, root flag), through
 * a small TTL cache of user rows. Bucket access is namespace-scoped. Uses meta and the context.
 */
import * as meta from '../meta/index.ts'
import type { Policy } from '../policy/index.ts'
import { userPolicies } from './access-policies.ts'
import { DEFAULT_TUNING, type KnownUser, type ServiceContext, type UserCache } from './context.ts'
import { ServiceError } from './errors.ts'
import { openSecret } from './user-secrets.ts'

export interface Actor {
  /** '' for an anonymous caller. */
  accessKeyId: string
  /** The caller's namespace; for an anonymous caller, the namespace of the bucket it was let into. */
  namespace: string
  isRoot: boolean
  displayName: string
  /** The user's identity policies (none for root, which needs none, and for anonymous callers). */
  policies: readonly Policy[]
  /** An unsigned request, admitted by a bucket policy (access.ts). */
  anonymous?: boolean
}

/** Bounds memory whatever the number of access keys in use; the oldest entry goes first. */
export const USER_CACHE_MAX_ENTRIES = 1024

/**
 * A deletion through this process's admin API drops the entry at once (forgetUser,
 * forgetNamespace); another gateway sharing the metadata keeps its entry for at most `ttlMs`.
 */
export function createUserCache(ttlMs = DEFAULT_TUNING.userCacheTtlMs, maxEntries = USER_CACHE_MAX_ENTRIES): UserCache {
  return { entries: new Map(), generation: 0, ttlMs, maxEntries }
}

/**
 * The user of an access key with its secret opened (user-secrets.ts), from the cache while
 * fresh. Unknown keys are never cached.
 */
async function userFor(ctx: ServiceContext, accessKeyId: string): Promise<KnownUser | undefined> {
  const cache = ctx.users
  const now = Date.now()
  const hit = cache.entries.get(accessKeyId)
  if (hit && hit.expires > now) return hit
  if (hit) cache.entries.delete(accessKeyId)
  const generation = cache.generation
  const row = await meta.getUser(ctx.db, accessKeyId)
  if (!row) return undefined
  const known = { user: row, secret: await openSecret(ctx, row), policies: userPolicies(ctx, row) }
  // An invalidation while the query ran may concern this very user: its answer may be stale.
  if (cache.ttlMs > 0 && cache.generation === generation) {
    if (cache.entries.size >= cache.maxEntries) {
      const oldest = cache.entries.keys().next()
      if (!oldest.done) cache.entries.delete(oldest.value)
    }
    // The clock started before the query: an entry never outlives the TTL from when it was read.
    cache.entries.set(accessKeyId, { ...known, expires: now + cache.ttlMs })
  }
  return known
}

export async function lookupSecret(ctx: ServiceContext, accessKeyId: string): Promise<string | undefined> {
  return (await userFor(ctx, accessKeyId))?.secret
}

export async function actorFor(ctx: ServiceContext, accessKeyId: string): Promise<Actor> {
  const known = await userFor(ctx, accessKeyId)
  // authenticate() already proved the key exists; a user deleted in between is simply denied.
  if (!known) throw new ServiceError('AccessDenied')
  const { user } = known
  return {
    accessKeyId: user.accessKeyId,
    namespace: user.namespace,
    isRoot: user.isRoot,
    displayName: user.name,
    policies: known.policies,
  }
}

/** Call after deleting a user (or attempting to): its next request reads the metadata again. */
export function forgetUser(ctx: ServiceContext, accessKeyId: string): void {
  ctx.users.generation++
  ctx.users.entries.delete(accessKeyId)
}

/** Call after deleting a namespace (which deletes its users). */
export function forgetNamespace(ctx: ServiceContext, namespace: string): void {
  ctx.users.generation++
  for (const [key, { user }] of ctx.users.entries) if (user.namespace === namespace) ctx.users.entries.delete(key)
}

/** Call after any other change to users (the root credentials replaced). */
export function forgetAllUsers(ctx: ServiceContext): void {
  ctx.users.generation++
  ctx.users.entries.clear()
}

/**
 * The actor as a writer into `bucket`: every commit checks again, in its own transaction, that
 * this very bucket (by id) still exists and the actor's user still belongs to its namespace
 * (an anonymous actor, admitted by a bucket policy or ACL: only that the bucket exists).
 */
export const writerOf = (actor: Actor, bucket: meta.BucketRow): meta.Writer => ({
  bucket: bucket.name,
  bucketId: bucket.id,
  // An anonymous writer has no user row to lose: its commit holds while the bucket does.
  ...(actor.anonymous ? {} : { accessKeyId: actor.accessKeyId }),
})

/** A refused commit as the S3 error the writer gets. */
export function refusalError(refusal: meta.Refusal, bucket: string): ServiceError {
  return refusal === 'no-such-bucket'
    ? new ServiceError('NoSuchBucket', undefined, { BucketName: bucket })
    : new ServiceError('AccessDenied')
}

/**
 * The bucket if the actor may use it; NoSuchBucket / AccessDenied otherwise. `known`: its row as
 * this request already read it (the authorization step's), which saves reading it again.
 */
export async function bucketFor(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
  known?: meta.BucketRow,
): Promise<meta.BucketRow> {
  const bucket = known?.name === name ? known : await meta.getBucket(ctx.db, name)
  if (!bucket) throw new ServiceError('NoSuchBucket', undefined, { BucketName: name })
  if (bucket.namespace !== actor.namespace) throw new ServiceError('AccessDenied')
  return bucket
}
