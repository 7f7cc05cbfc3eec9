/**
 * Bucket use cases: create (names unique across the service), list the actor's namespace,
 * head, delete when empty, location, encryption (per namespace); for operators, what a bucket holds.
 */
import { forgetBucketEncryption } from './bucket-encryption.ts'
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'
import { type AclRequest, bucketAclForCreate } from './acl.ts'
import { DEFAULT_OBJECT_OWNERSHIP, type ObjectOwnership } from './bucket-access.ts'
import { forgetBucketCors } from './bucket-cors.ts'
import { type Actor, bucketFor } from './identities.ts'
import { bucketLockOf } from './locks.ts'
import { encodeBucketLock } from './object-lock.ts'
import { ALL_BLOCKED, publicAccessBlockText } from './public-access.ts'

export interface BucketInfo {
  name: string
  region: string
  createdAt: Date
}

const bucketInfo = (b: meta.BucketRow): BucketInfo => ({ name: b.name, region: b.region, createdAt: b.createdAt })

/** `objectLock`: x-amz-bucket-object-lock-enabled — lock on (no default retention) and versioning Enabled. */
export async function createBucket(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
  region: string,
  opts: { objectLock?: boolean; ownership?: ObjectOwnership; acl?: AclRequest } = {},
): Promise<void> {
  // AWS's defaults for new buckets since April 2023: public access blocked, ACLs disabled.
  const settings = {
    name,
    publicAccessBlock: publicAccessBlockText(ALL_BLOCKED),
    ownership: opts.ownership ?? DEFAULT_OBJECT_OWNERSHIP,
  }
  const acl = opts.acl ? await bucketAclForCreate(ctx, actor.namespace, settings, opts.acl) : null
  const result = await meta.insertBucket(ctx.db, {
    name,
    namespace: actor.namespace,
    owner: actor.accessKeyId,
    region,
    createdAt: new Date(),
    ...(opts.objectLock ? { versioning: 'Enabled', objectLock: encodeBucketLock({}) } : {}),
    publicAccessBlock: settings.publicAccessBlock,
    ownership: settings.ownership,
    acl,
  })
  if (result === 'created') return
  const existing = await meta.getBucket(ctx.db, name)
  if (existing && existing.owner === actor.accessKeyId) {
    // S3 keeps a legacy answer in us-east-1: re-creating your own bucket there succeeds.
    if (region === 'us-east-1') return
    throw new ServiceError('BucketAlreadyOwnedByYou', undefined, { BucketName: name })
  }
  throw new ServiceError('BucketAlreadyExists', undefined, { BucketName: name })
}

export async function listBuckets(ctx: ServiceContext, actor: Actor): Promise<BucketInfo[]> {
  return (await meta.listBuckets(ctx.db, actor.namespace)).map(bucketInfo)
}

export async function headBucket(ctx: ServiceContext, actor: Actor, name: string): Promise<BucketInfo> {
  return bucketInfo(await bucketFor(ctx, actor, name))
}

export async function deleteBucket(ctx: ServiceContext, actor: Actor, name: string): Promise<void> {
  const bucket = await bucketFor(ctx, actor, name)
  // By id: if the name was deleted and taken again meanwhile, the new bucket is not ours to delete.
  const result = await meta.deleteBucket(ctx.db, name, bucket.id)
  if (result === 'not-empty') throw new ServiceError('BucketNotEmpty', undefined, { BucketName: name })
  if (result === 'missing') throw new ServiceError('NoSuchBucket', undefined, { BucketName: name })
  await forgetBucketCors(ctx, bucket.id)
  await forgetBucketEncryption(ctx, bucket.id)
}

/** What `coffer admin bucket stats` reports: the bucket, and its versions by kind. */
export interface BucketStats extends meta.BucketVersionStats {
  bucket: string
  namespace: string
  /** 'Unversioned' (never enabled), 'Enabled' or 'Suspended'. */
  versioning: string
  objectLock: boolean
}

/**
 * Operators (the admin API): counts and logical bytes of the bucket's current and non-current
 * versions and its delete markers, in one aggregate over the bucket's rows (never loaded).
 */
export async function bucketStats(ctx: ServiceContext, name: string): Promise<BucketStats> {
  const bucket = await meta.getBucket(ctx.db, name)
  if (!bucket) throw new ServiceError('NoSuchBucket', undefined, { BucketName: name })
  return {
    bucket: bucket.name,
    namespace: bucket.namespace,
    versioning: bucket.versioning ?? 'Unversioned',
    objectLock: bucketLockOf(bucket) !== undefined,
    ...(await meta.bucketVersionStats(ctx.db, name)),
  }
}
