/**
 * Deleting objects: the metadata row goes (the object vanishes at once) and its data is queued
 * for garbage collection in the same transaction, so readers still streaming it are not cut off
 * and no crash can lose track of it.
 */
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'
import { type Actor, bucketFor, refusalError, writerOf } from './identities.ts'

/** Deleting a missing key succeeds, as in S3. */
export async function deleteObject(ctx: ServiceContext, actor: Actor, bucket: string, key: string): Promise<void> {
  const writer = writerOf(actor, await bucketFor(ctx, actor, bucket))
  await deleteKey(ctx, writer, key)
}

/**
 * Deletes one object's row and queues its data for GC, in one transaction; false when there was
 * no object. Throws NoSuchBucket / AccessDenied when the writer's bucket is gone or not its own.
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

export interface DeleteOutcome {
  key: string
  error?: { code: 'InternalError' | 'NoSuchBucket' | 'AccessDenied'; message: string }
}

/** DeleteObjects: each key on its own; one failure does not stop the others. */
export async function deleteObjects(
  ctx: ServiceContext,
  actor: Actor,
  bucket: string,
  keys: string[],
): Promise<DeleteOutcome[]> {
  const writer = writerOf(actor, await bucketFor(ctx, actor, bucket))
  const out: DeleteOutcome[] = []
  for (const key of keys) {
    try {
      await deleteKey(ctx, writer, key)
      out.push({ key })
    } catch (e) {
      // The bucket deleted (or re-created by someone else) while the keys were being deleted.
      const code =
        e instanceof ServiceError && (e.code === 'NoSuchBucket' || e.code === 'AccessDenied') ? e.code : 'InternalError'
      out.push({ key, error: { code, message: e instanceof Error ? e.message : String(e) } })
    }
  }
  return out
}
