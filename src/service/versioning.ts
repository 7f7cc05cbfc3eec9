/**
 * Bucket versioning (docs/architecture.md §4, versions): the bucket's state, the version id a
 * new write takes, and ListObjectVersions. Every version is a row in meta's objects table.
 */
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'
import { type Actor, bucketFor } from './identities.ts'
import { type ObjectSummary, objectSummary } from './object-info.ts'

export type VersioningStatus = 'Enabled' | 'Suspended'

/** What a new write is called: a fresh id while versioning is Enabled, else S3's 'null' version. */
export const versionIdFor = (bucket: meta.BucketRow): string =>
  bucket.versioning === 'Enabled' ? meta.newVersionId() : meta.NULL_VERSION

/** Undefined while the bucket was never versioned (S3 then shows no Status at all). */
/**
 * A delete marker for `key`, as DeleteObject without a version id and lifecycle expiry write it
 * in a versioned bucket: the new current version ('null' while versioning is suspended, replacing
 * the null version as a write would). Its `ord` is placed by the commit.
 */
export const deleteMarkerRow = (bucket: meta.BucketRow, key: string): meta.ObjectRow => ({
  bucket: bucket.name,
  key,
  versionId: versionIdFor(bucket),
  ord: 0,
  latest: true,
  deleteMarker: true,
  size: 0,
  etag: '',
  lastModified: new Date(),
  contentType: 'binary/octet-stream',
  headers: {},
  userMeta: {},
  checksum: null,
  parts: null,
  layout: null,
  encryption: null,
  lock: null,
  uploadId: null,
})

export async function getBucketVersioning(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
): Promise<VersioningStatus | undefined> {
  const bucket = await bucketFor(ctx, actor, name)
  const v = bucket.versioning
  return v === 'Enabled' || v === 'Suspended' ? v : undefined
}

export async function putBucketVersioning(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
  status: VersioningStatus,
): Promise<void> {
  const bucket = await bucketFor(ctx, actor, name)
  if (status === 'Suspended' && bucket.objectLock !== null) {
    throw new ServiceError(
      'InvalidBucketState',
      'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.',
    )
  }
  if (!(await meta.setBucketVersioning(ctx.db, name, bucket.id, status)))
    throw new ServiceError('NoSuchBucket', undefined, { BucketName: name })
}

export interface ListVersionsInput {
  bucket: string
  prefix: string
  delimiter?: string
  keyMarker?: string
  versionIdMarker?: string
  maxKeys: number
}

/** A version or a delete marker as ListObjectVersions shows it. */
export interface VersionSummary extends ObjectSummary {
  versionId: string
  isLatest: boolean
  deleteMarker: boolean
}

export interface VersionsPage {
  versions: VersionSummary[]
  commonPrefixes: string[]
  isTruncated: boolean
  nextKeyMarker?: string
  nextVersionIdMarker?: string
}

export async function listObjectVersions(
  ctx: ServiceContext,
  actor: Actor,
  input: ListVersionsInput,
): Promise<VersionsPage> {
  await bucketFor(ctx, actor, input.bucket)
  if (input.versionIdMarker !== undefined && input.keyMarker === undefined)
    throw new ServiceError('InvalidArgument', 'A version-id marker cannot be specified without a key marker.')
  const page = await meta.listVersions(ctx.db, input)
  if (page === 'bad-marker') throw new ServiceError('InvalidArgument', 'Invalid version id specified')
  return {
    ...page,
    versions: page.versions.map((r) => {
      // Fields added to the fresh summary rather than spread into a copy: a page does this a
      // thousand times, and the spreads were a tenth of a versions page's CPU (§8).
      const v = objectSummary(r) as VersionSummary
      v.versionId = r.versionId
      v.isLatest = r.latest
      v.deleteMarker = r.deleteMarker
      return v
    }),
  }
}
