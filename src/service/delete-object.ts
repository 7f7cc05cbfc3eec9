/**
 * Deleting objects, as S3 does in each versioning state (docs/architecture.md §4, versions):
 * without a version id an unversioned bucket loses the key's row, and a versioned one gets a
 * delete marker as its new current version (older versions and their data stay); with a version
 * id that version goes for good. Data whose row goes is queued for garbage collection in the same
 * transaction, so readers still streaming it are not cut off and no crash can lose track of it.
 */
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'
import { type Actor, bucketFor, refusalError, writerOf } from './identities.ts'
import { deleteMarkerRow } from './versioning.ts'
import { bucketLockOf, lockRefusalError, versionLockOf } from './locks.ts'
import { deleteRefusal, mayBypassGovernance } from './object-lock.ts'

/** What a delete did, as S3 reports it (x-amz-version-id, x-amz-delete-marker). */
export interface Deleted {
  /** The version removed (when one was named) or the delete marker made. */
  versionId?: string
  /** A delete marker was made, or the version removed was one. */
  deleteMarker?: boolean
}

/** Deleting a missing key or version succeeds, as in S3. */
export async function deleteObject(
  ctx: ServiceContext,
  actor: Actor,
  bucket: string,
  key: string,
  versionId?: string,
  bypassGovernance = false,
): Promise<Deleted> {
  const b = await bucketFor(ctx, actor, bucket)
  const bypass = bypassGovernance && mayBypassGovernance(actor)
  return deleteIn(ctx, b, writerOf(actor, b), key, versionId, bypass)
}

/** Bounded: each round re-reads a version whose lock changed under the delete. */
const LOCKED_DELETE_ATTEMPTS = 5

/**
 * Removes one version for good. In a bucket with Object Lock the version's lock is judged first
 * (./object-lock.ts) and the delete commits only if that lock is still the one judged.
 */
async function deleteVersion(
  ctx: ServiceContext,
  bucket: meta.BucketRow,
  writer: meta.Writer,
  key: string,
  versionId: string,
  bypass: boolean,
): Promise<meta.VersionDeleted> {
  if (!bucketLockOf(bucket)) return meta.deleteVersion(ctx.db, writer, key, versionId)
  for (let attempt = 1; attempt <= LOCKED_DELETE_ATTEMPTS; attempt++) {
    const row = await meta.getVersion(ctx.db, bucket.name, key, versionId)
    if (!row) return { result: 'missing' }
    const refused = deleteRefusal(versionLockOf(row), new Date(), bypass)
    if (refused) throw lockRefusalError(refused)
    const done = await meta.deleteVersion(ctx.db, writer, key, versionId, undefined, undefined, { lock: row.lock })
    if (done.result !== 'missing') return done
  }
  throw new ServiceError('ConditionalRequestConflict')
}

async function deleteIn(
  ctx: ServiceContext,
  bucket: meta.BucketRow,
  writer: meta.Writer,
  key: string,
  versionId: string | undefined,
  bypass = false,
): Promise<Deleted> {
  if (versionId !== undefined || bucket.versioning === null) {
    const v = versionId ?? meta.NULL_VERSION
    const { result, deleteMarker } = await deleteVersion(ctx, bucket, writer, key, v, bypass)
    if (result === 'no-such-bucket' || result === 'access-denied') throw refusalError(result, writer.bucket)
    if (versionId === undefined) return {}
    return { versionId, ...(deleteMarker ? { deleteMarker: true } : {}) }
  }
  const marker = deleteMarkerRow(bucket, key)
  const result = await meta.commitObject(ctx.db, marker, writer)
  if (!result.ok) {
    if (result.reason === 'no-such-bucket' || result.reason === 'access-denied')
      throw refusalError(result.reason, writer.bucket)
    throw new Error(`delete marker for ${bucket.name}/${key} refused: ${result.reason}`)
  }
  return { versionId: marker.versionId, deleteMarker: true }
}

/**
 * Removes every version of one key and queues all their data for GC, in one transaction; false
 * when there was none (namespace deletion). Throws NoSuchBucket / AccessDenied when the writer's
 * bucket is gone or not its own.
 */
export async function deleteKey(
  ctx: ServiceContext,
  writer: meta.Writer,
  key: string,
  reason = meta.GC_REASON_DELETED,
): Promise<boolean> {
  const result = await meta.deleteObject(ctx.db, writer, key, reason)
  if (result === 'no-such-bucket' || result === 'access-denied') throw refusalError(result, writer.bucket)
  return result === 'deleted'
}

export interface DeleteOutcome extends Deleted {
  key: string
  /** The version id the request named, echoed back. */
  requestedVersionId?: string
  error?: { code: 'InternalError' | 'NoSuchBucket' | 'AccessDenied'; message: string }
}

/** DeleteObjects: each key (or version) on its own; one failure does not stop the others. */
export async function deleteObjects(
  ctx: ServiceContext,
  actor: Actor,
  bucket: string,
  items: readonly { key: string; versionId?: string }[],
  bypassGovernance = false,
): Promise<DeleteOutcome[]> {
  const b = await bucketFor(ctx, actor, bucket)
  const writer = writerOf(actor, b)
  const bypass = bypassGovernance && mayBypassGovernance(actor)
  const out: DeleteOutcome[] = []
  for (const { key, versionId } of items) {
    const asked = versionId === undefined ? {} : { requestedVersionId: versionId }
    try {
      out.push({ key, ...asked, ...(await deleteIn(ctx, b, writer, key, versionId, bypass)) })
    } catch (e) {
      // The bucket deleted (or re-created by someone else) while the keys were being deleted.
      const code =
        e instanceof ServiceError && (e.code === 'NoSuchBucket' || e.code === 'AccessDenied') ? e.code : 'InternalError'
      // A locked version stays, and is reported as S3 does; other keys go on.
      out.push({ key, ...asked, error: { code, message: e instanceof Error ? e.message : String(e) } })
    }
  }
  return out
}
