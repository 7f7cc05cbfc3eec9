/**
 * Who is calling: access keys → secrets (for SigV4) and → actors (namespace, root flag).
 * Bucket access is namespace-scoped: a bucket of another namespace is AccessDenied.
 */
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'

export interface Actor {
  accessKeyId: string
  namespace: string
  isRoot: boolean
  displayName: string
}

export async function lookupSecret(ctx: ServiceContext, accessKeyId: string): Promise<string | undefined> {
  const user = await meta.getUser(ctx.db, accessKeyId)
  return user?.secretAccessKey
}

export async function actorFor(ctx: ServiceContext, accessKeyId: string): Promise<Actor> {
  const user = await meta.getUser(ctx.db, accessKeyId)
  // authenticate() already proved the key exists; a user deleted in between is simply denied.
  if (!user) throw new ServiceError('AccessDenied')
  return { accessKeyId: user.accessKeyId, namespace: user.namespace, isRoot: user.isRoot, displayName: user.name }
}

/** The bucket if the actor may use it; NoSuchBucket / AccessDenied otherwise. */
export async function bucketFor(ctx: ServiceContext, actor: Actor, name: string): Promise<meta.BucketRow> {
  const bucket = await meta.getBucket(ctx.db, name)
  if (!bucket) throw new ServiceError('NoSuchBucket', undefined, { BucketName: name })
  if (bucket.namespace !== actor.namespace) throw new ServiceError('AccessDenied')
  return bucket
}
