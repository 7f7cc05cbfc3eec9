/**
 * A bucket's access settings as S3 exposes them: its policy (Put/Get/DeleteBucketPolicy,
 * GetBucketPolicyStatus), Block Public Access (Put/Get/DeletePublicAccessBlock) and Object
 * Ownership (Put/Get/DeleteBucketOwnershipControls). Who may call each is decided before
 * (access.ts); these check the documents and store them on the very bucket admitted (by id).
 */
import * as meta from '../meta/index.ts'
import { isPublicPolicy, PolicyError, parsePolicy } from '../policy/index.ts'
import { bucketPolicy } from './access-policies.ts'
import type { ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'
import { type Actor, bucketFor } from './identities.ts'
import {
  effectivePublicAccessBlock,
  type PublicAccessBlock,
  parsePublicAccessBlock,
  publicAccessBlockText,
} from './public-access.ts'

export type ObjectOwnership = 'BucketOwnerEnforced' | 'BucketOwnerPreferred' | 'ObjectWriter'
export const OBJECT_OWNERSHIP_VALUES: readonly ObjectOwnership[] = [
  'BucketOwnerEnforced',
  'BucketOwnerPreferred',
  'ObjectWriter',
]
/** What new buckets get: ACLs disabled, as AWS does since April 2023. */
export const DEFAULT_OBJECT_OWNERSHIP: ObjectOwnership = 'BucketOwnerEnforced'

async function store(ctx: ServiceContext, bucket: meta.BucketRow, patch: meta.BucketAccessPatch): Promise<void> {
  if (!(await meta.setBucketAccess(ctx.db, bucket.name, bucket.id, patch)))
    throw new ServiceError('NoSuchBucket', undefined, { BucketName: bucket.name })
}

export async function putBucketPolicy(ctx: ServiceContext, actor: Actor, name: string, text: string): Promise<void> {
  const bucket = await bucketFor(ctx, actor, name)
  let policy: ReturnType<typeof parsePolicy>
  try {
    policy = parsePolicy(text, { kind: 'resource', bucket: name })
  } catch (e) {
    if (e instanceof PolicyError) throw new ServiceError('MalformedPolicy', e.message)
    throw e
  }
  if (isPublicPolicy(policy) && (await effectivePublicAccessBlock(ctx, bucket)).BlockPublicPolicy)
    // S3's answer when BlockPublicPolicy refuses a policy.
    throw new ServiceError(
      'AccessDenied',
      'Access Denied: public policies are blocked by the BlockPublicPolicy setting.',
    )
  await store(ctx, bucket, { policy: text })
}

export async function getBucketPolicy(ctx: ServiceContext, actor: Actor, name: string): Promise<string> {
  const bucket = await bucketFor(ctx, actor, name)
  if (bucket.policy === null) throw new ServiceError('NoSuchBucketPolicy', undefined, { BucketName: name })
  return bucket.policy
}

export async function deleteBucketPolicy(ctx: ServiceContext, actor: Actor, name: string): Promise<void> {
  await store(ctx, await bucketFor(ctx, actor, name), { policy: null })
}

/** GetBucketPolicyStatus: whether the policy makes the bucket public (NoSuchBucketPolicy without one). */
export async function bucketPolicyStatus(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
): Promise<{ isPublic: boolean }> {
  const bucket = await bucketFor(ctx, actor, name)
  if (bucket.policy === null) throw new ServiceError('NoSuchBucketPolicy', undefined, { BucketName: name })
  const policy = bucketPolicy(ctx, bucket)
  return { isPublic: policy !== undefined && isPublicPolicy(policy) }
}

export async function putBucketPublicAccessBlock(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
  block: PublicAccessBlock,
): Promise<void> {
  await store(ctx, await bucketFor(ctx, actor, name), { publicAccessBlock: publicAccessBlockText(block) })
}

export async function getBucketPublicAccessBlock(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
): Promise<PublicAccessBlock> {
  const bucket = await bucketFor(ctx, actor, name)
  const block = parsePublicAccessBlock(bucket.publicAccessBlock)
  if (!block) throw new ServiceError('NoSuchPublicAccessBlockConfiguration', undefined, { BucketName: name })
  return block
}

export async function deleteBucketPublicAccessBlock(ctx: ServiceContext, actor: Actor, name: string): Promise<void> {
  await store(ctx, await bucketFor(ctx, actor, name), { publicAccessBlock: null })
}

export async function putBucketOwnership(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
  ownership: ObjectOwnership,
): Promise<void> {
  await store(ctx, await bucketFor(ctx, actor, name), { ownership })
}

export async function getBucketOwnership(ctx: ServiceContext, actor: Actor, name: string): Promise<ObjectOwnership> {
  const bucket = await bucketFor(ctx, actor, name)
  if (bucket.ownership === null)
    throw new ServiceError('OwnershipControlsNotFoundError', undefined, { BucketName: name })
  return bucket.ownership as ObjectOwnership
}

export async function deleteBucketOwnership(ctx: ServiceContext, actor: Actor, name: string): Promise<void> {
  await store(ctx, await bucketFor(ctx, actor, name), { ownership: null })
}

/** Object Ownership in effect: a bucket without the setting behaves as BucketOwnerEnforced. */
export async function bucketOwnership(ctx: ServiceContext, actor: Actor, name: string): Promise<ObjectOwnership> {
  const bucket = await bucketFor(ctx, actor, name)
  return (bucket.ownership as ObjectOwnership | null) ?? DEFAULT_OBJECT_OWNERSHIP
}
