/**
 * Object Lock use cases: a bucket's lock configuration, a version's retention and legal hold,
 * and the lock a new version gets. The rules themselves are in ./object-lock.ts (pure); every
 * change of a version's lock is committed only if the lock is still what was judged.
 */
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'
import { findVersion } from './get-object.ts'
import { type Actor, bucketFor } from './identities.ts'
import {
  type BucketLock,
  decodeBucketLock,
  decodeVersionLock,
  encodeBucketLock,
  encodeVersionLock,
  type LockRefusal,
  mayBypassGovernance,
  type Retention,
  retentionChangeRefusal,
  retentionForNewVersion,
  type VersionLock,
} from './object-lock.ts'

/** Object Lock asked for by a write's headers (x-amz-object-lock-*). */
export interface LockRequest {
  retention?: Retention
  legalHold?: boolean
  /** The request carried Content-MD5 or an x-amz-checksum-*: S3 requires one with a lock. */
  integrity?: boolean
}

/** A bucket's lock configuration; undefined when Object Lock is not enabled on it. */
export const bucketLockOf = (bucket: meta.BucketRow): BucketLock | undefined =>
  decodeBucketLock(bucket.objectLock, `bucket ${bucket.name}`)

export const versionLockOf = (row: meta.ObjectRow): VersionLock =>
  decodeVersionLock(row.lock, `object ${row.bucket}/${row.key} version ${row.versionId}`)

const noLockConfig = () => new ServiceError('InvalidRequest', 'Bucket is missing Object Lock Configuration')

/** What the lock headers alone ask for (stored with a multipart upload until its completion). */
export function lockRequestOf(bucket: meta.BucketRow, req: LockRequest | undefined, now = new Date()): unknown {
  if (req?.retention === undefined && req?.legalHold === undefined) return null
  if (!bucketLockOf(bucket)) throw noLockConfig()
  if (req.retention && req.retention.until <= now)
    throw new ServiceError('InvalidArgument', 'The retain until date must be in the future!')
  return encodeVersionLock({ retention: req.retention, legalHold: req.legalHold })
}

/**
 * The lock a new version in `bucket` gets (stored JSON, null for none): what the request asks
 * for, else the bucket's default retention. Refused where S3 refuses it: lock headers on a bucket
 * without Object Lock, a date not in the future, no integrity header on a locked write.
 */
export function lockForNewVersion(bucket: meta.BucketRow, req: LockRequest | undefined, now = new Date()): unknown {
  const asked = decodeVersionLock(lockRequestOf(bucket, req, now), 'lock request')
  const config = bucketLockOf(bucket)
  if (!config) return null
  const lock: VersionLock = {
    retention: retentionForNewVersion(config, asked.retention, now),
    legalHold: asked.legalHold,
  }
  const encoded = encodeVersionLock(lock)
  if (encoded !== null && req?.integrity === false)
    throw new ServiceError(
      'InvalidRequest',
      'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters',
    )
  return encoded
}

/**
 * The lock the version a multipart upload completes into gets: what its creation asked for, else
 * the bucket's default as of `now`. Judged at completion (integrity true: the parts carried it)
 * and, as S3 does, on every UploadPart with that part's own integrity header, so a part without
 * Content-MD5 or an x-amz-checksum-* is refused exactly as a locked PutObject is.
 */
export function lockForUpload(
  bucket: meta.BucketRow,
  upload: meta.UploadRow,
  integrity: boolean,
  now = new Date(),
): unknown {
  const asked = decodeVersionLock(upload.lock, `multipart upload ${upload.uploadId}`)
  return lockForNewVersion(bucket, { ...asked, integrity }, now)
}

/** S3 answers every Object Lock refusal alike; `r` says which rule held (for logs and tests). */
export function lockRefusalError(r: LockRefusal): ServiceError {
  return new ServiceError('AccessDenied', 'Access Denied because object protected by object lock.', { Reason: r })
}

export async function getObjectLockConfiguration(ctx: ServiceContext, actor: Actor, name: string): Promise<BucketLock> {
  const config = bucketLockOf(await bucketFor(ctx, actor, name))
  if (!config) throw new ServiceError('ObjectLockConfigurationNotFoundError', undefined, { BucketName: name })
  return config
}

/**
 * Sets the default retention (or none); turns Object Lock on for a bucket whose versioning is
 * Enabled, as S3 allows. Lock never goes off again.
 */
export async function putObjectLockConfiguration(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
  config: BucketLock,
): Promise<void> {
  const bucket = await bucketFor(ctx, actor, name)
  const enabled = bucketLockOf(bucket) !== undefined
  if (!enabled && bucket.versioning !== 'Enabled')
    throw new ServiceError(
      'InvalidBucketState',
      "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
    )
  if (!(await meta.setBucketObjectLock(ctx.db, name, bucket.id, encodeBucketLock(config), !enabled)))
    throw new ServiceError(
      'InvalidBucketState',
      'The bucket changed while its Object Lock configuration was set; retry.',
    )
}

export interface VersionAddress {
  bucket: string
  key: string
  versionId?: string
}

async function lockedVersion(ctx: ServiceContext, actor: Actor, a: VersionAddress, method: string) {
  const bucket = await bucketFor(ctx, actor, a.bucket)
  if (!bucketLockOf(bucket)) throw noLockConfig()
  const row = await findVersion(ctx, bucket, a.key, a.versionId, method)
  return { row, lock: versionLockOf(row) }
}

export async function getObjectRetention(ctx: ServiceContext, actor: Actor, a: VersionAddress): Promise<Retention> {
  const { lock } = await lockedVersion(ctx, actor, a, 'GET')
  if (!lock.retention)
    throw new ServiceError(
      'NoSuchObjectLockConfiguration',
      'The specified object does not have a ObjectLock configuration',
    )
  return lock.retention
}

export async function getObjectLegalHold(ctx: ServiceContext, actor: Actor, a: VersionAddress): Promise<boolean> {
  const { lock } = await lockedVersion(ctx, actor, a, 'GET')
  return lock.legalHold === true
}

/** Bounded: each round re-reads the version after a concurrent lock change. */
const LOCK_ATTEMPTS = 5

async function changeLock(
  ctx: ServiceContext,
  actor: Actor,
  a: VersionAddress,
  change: (lock: VersionLock) => VersionLock,
): Promise<string> {
  for (let attempt = 1; attempt <= LOCK_ATTEMPTS; attempt++) {
    const { row, lock } = await lockedVersion(ctx, actor, a, 'PUT')
    const next = encodeVersionLock(change(lock))
    if (await meta.setVersionLock(ctx.db, row.bucket, row.key, row.versionId, row.lock, next)) return row.versionId
  }
  throw new ServiceError('ConditionalRequestConflict')
}

/** PutObjectRetention: COMPLIANCE is never weakened; GOVERNANCE only with bypass by one allowed to. */
export async function putObjectRetention(
  ctx: ServiceContext,
  actor: Actor,
  a: VersionAddress & { retention?: Retention; bypassGovernance: boolean },
  now = new Date(),
): Promise<string> {
  if (a.retention && a.retention.until <= now)
    throw new ServiceError('InvalidArgument', 'The retain until date must be in the future!')
  const bypass = a.bypassGovernance && mayBypassGovernance(actor)
  return changeLock(ctx, actor, a, (lock) => {
    const refused = retentionChangeRefusal(lock.retention, a.retention, now, bypass)
    if (refused) throw lockRefusalError(refused)
    return { ...lock, retention: a.retention }
  })
}

/** PutObjectLegalHold: anyone who may write the object sets or clears it. */
export async function putObjectLegalHold(
  ctx: ServiceContext,
  actor: Actor,
  a: VersionAddress & { legalHold: boolean },
): Promise<string> {
  return changeLock(ctx, actor, a, (lock) => ({ ...lock, legalHold: a.legalHold }))
}
