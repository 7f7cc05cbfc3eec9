/**
 * Deleting objects: the metadata row goes first (the object vanishes at once), then its data is
 * queued for garbage collection so readers still streaming it are not cut off.
 */
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import { type Actor, bucketFor } from './identities.ts'
import { layoutsOf, parseStoredData } from './stored-data.ts'

/** Deleting a missing key succeeds, as in S3. */
export async function deleteObject(ctx: ServiceContext, actor: Actor, bucket: string, key: string): Promise<void> {
  await bucketFor(ctx, actor, bucket)
  await deleteKey(ctx, bucket, key)
}

/** Deletes one object's row and queues its data for GC; false when there was no object. */
export async function deleteKey(
  ctx: ServiceContext,
  bucket: string,
  key: string,
  reason = 'deleted',
): Promise<boolean> {
  const removed = await meta.deleteObject(ctx.db, bucket, key)
  if (!removed) return false
  await meta.enqueueGc(ctx.db, layoutsOf(parseStoredData(removed.layout, `deleted object ${bucket}/${key}`)), reason)
  return true
}

export interface DeleteOutcome {
  key: string
  error?: { code: 'InternalError'; message: string }
}

/** DeleteObjects: each key on its own; one failure does not stop the others. */
export async function deleteObjects(
  ctx: ServiceContext,
  actor: Actor,
  bucket: string,
  keys: string[],
): Promise<DeleteOutcome[]> {
  await bucketFor(ctx, actor, bucket)
  const out: DeleteOutcome[] = []
  for (const key of keys) {
    try {
      await deleteKey(ctx, bucket, key)
      out.push({ key })
    } catch (e) {
      out.push({ key, error: { code: 'InternalError', message: e instanceof Error ? e.message : String(e) } })
    }
  }
  return out
}
