/**
 * Tagging use cases: a version's tag set (Get/Put/DeleteObjectTagging, by version too) and a
 * bucket's (Get/Put/DeleteBucketTagging). The rules are ./tags.ts; a version's tags live on its
 * own row, so they are written by the commit that makes the version, go with it when it is
 * removed, and a tag change is one UPDATE of that row, gated on the writer like any commit.
 */
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'
import { findVersion } from './get-object.ts'
import { type Actor, bucketFor, refusalError, writerOf } from './identities.ts'
import { showsVersions } from './object-info.ts'
import { checkBucketTags, checkObjectTags, type Tag } from './tags.ts'

export interface TaggingAddress {
  bucket: string
  key: string
  /** `?versionId=`: that version; the current one when absent. */
  versionId?: string
}

export interface ObjectTagging {
  tags: Tag[]
  /** The version the answer is about, when the bucket shows version ids. */
  versionId?: string
}

/** The tag set stored on a row (version or upload); [] when none. */
export const tagsOf = (row: { tags?: meta.TagRow[] | null }): Tag[] => row.tags ?? []

export async function getObjectTagging(ctx: ServiceContext, actor: Actor, a: TaggingAddress): Promise<ObjectTagging> {
  const bucket = await bucketFor(ctx, actor, a.bucket)
  const row = await findVersion(ctx, bucket, a.key, a.versionId)
  return shown(bucket, row.versionId, tagsOf(row))
}

/** PutObjectTagging: replaces the version's whole tag set. Tags are not under Object Lock (as on S3). */
export async function putObjectTagging(
  ctx: ServiceContext,
  actor: Actor,
  a: TaggingAddress & { tags: readonly Tag[] },
): Promise<ObjectTagging> {
  return setTags(ctx, actor, a, checkObjectTags(a.tags, 'document'), 'PUT')
}

export async function deleteObjectTagging(
  ctx: ServiceContext,
  actor: Actor,
  a: TaggingAddress,
): Promise<ObjectTagging> {
  return setTags(ctx, actor, a, [], 'DELETE')
}

async function setTags(
  ctx: ServiceContext,
  actor: Actor,
  a: TaggingAddress,
  tags: Tag[],
  method: string,
): Promise<ObjectTagging> {
  const bucket = await bucketFor(ctx, actor, a.bucket)
  const row = await findVersion(ctx, bucket, a.key, a.versionId, method)
  const outcome = await meta.setVersionTags(
    ctx.db,
    writerOf(actor, bucket),
    a.key,
    row.versionId,
    tags.length ? tags : null,
  )
  if (outcome === 'missing') {
    // Removed (or overwritten, for the 'null' version) between the read and the update.
    if (a.versionId === undefined) throw new ServiceError('NoSuchKey', undefined, { Key: a.key })
    throw new ServiceError('NoSuchVersion', undefined, { Key: a.key, VersionId: a.versionId })
  }
  if (outcome !== 'set') throw refusalError(outcome, a.bucket)
  return shown(bucket, row.versionId, tags)
}

const shown = (bucket: meta.BucketRow, versionId: string, tags: Tag[]): ObjectTagging =>
  showsVersions(bucket) ? { tags, versionId } : { tags }

/**
 * The tags of the version a request acts on, for `s3:ExistingObjectTag/<key>` in policies;
 * undefined when there is no such version (or it is a delete marker).
 */
export async function existingObjectTags(
  ctx: ServiceContext,
  bucket: string,
  key: string,
  versionId: string | undefined,
): Promise<Tag[] | undefined> {
  const row =
    versionId === undefined
      ? await meta.getObject(ctx.db, bucket, key)
      : await meta.getVersion(ctx.db, bucket, key, versionId)
  return row && !row.deleteMarker ? tagsOf(row) : undefined
}

// ── bucket tagging ───────────────────────────────────────────────────────────────────────────

export async function getBucketTagging(ctx: ServiceContext, actor: Actor, name: string): Promise<Tag[]> {
  const bucket = await bucketFor(ctx, actor, name)
  const tags = bucket.tags === null || bucket.tags === undefined ? undefined : bucket.tags
  if (tags === undefined) throw new ServiceError('NoSuchTagSet', undefined, { BucketName: name })
  if (!meta.isTagList(tags)) throw new meta.CorruptRowError(`bucket ${name}: column tags is not a tag list`)
  return tags
}

export async function putBucketTagging(ctx: ServiceContext, actor: Actor, name: string, tags: readonly Tag[]) {
  await setBucketTags(ctx, actor, name, checkBucketTags(tags))
}

export async function deleteBucketTagging(ctx: ServiceContext, actor: Actor, name: string) {
  await setBucketTags(ctx, actor, name, null)
}

async function setBucketTags(ctx: ServiceContext, actor: Actor, name: string, tags: Tag[] | null) {
  const bucket = await bucketFor(ctx, actor, name)
  if (!(await meta.setBucketConfig(ctx.db, name, bucket.id, { tags: tags?.length ? tags : null })))
    throw new ServiceError('NoSuchBucket', undefined, { BucketName: name })
}
