/**
 * Buckets: names unique across the service, created race-free through the primary key, deleted
 * only when empty (in-progress uploads go with the bucket, as in S3). Uses the schema via drizzle.
 */
import { and, asc, eq, inArray, notExists, sql } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { buckets, gcQueue, multipartUploads, objects, parts } from '../schema.ts'
import { affected } from '../tx.ts'

export type BucketRow = typeof buckets.$inferSelect

/** 'exists' whoever owns it: the caller tells BucketAlreadyOwnedByYou from BucketAlreadyExists. */
export async function insertBucket(db: Db, row: BucketRow): Promise<'created' | 'exists'> {
  // One statement: two racing creators cannot both win, unlike a read-then-write.
  const res = await db.insert(buckets).values(row).onConflictDoNothing()
  return affected(res) === 1 ? 'created' : 'exists'
}

export async function getBucket(db: Db, name: string): Promise<BucketRow | undefined> {
  return db.select().from(buckets).where(eq(buckets.name, name)).get()
}

/** The namespace's buckets by name (ListBuckets order). */
export async function listBuckets(db: Db, namespace: string): Promise<BucketRow[]> {
  return db.select().from(buckets).where(eq(buckets.namespace, namespace)).orderBy(asc(buckets.name))
}

export async function bucketHasObjects(db: Db, name: string): Promise<boolean> {
  const row = await db.select({ key: objects.key }).from(objects).where(eq(objects.bucket, name)).limit(1).get()
  return row !== undefined
}

/** Reason recorded in gc_queue for parts of uploads dropped with their bucket. */
export const GC_REASON_BUCKET_DELETED = 'bucket-deleted'

/**
 * Deletes the bucket unless it holds objects. S3 (general purpose buckets) lets a bucket with
 * only in-progress multipart uploads be deleted and drops the uploads; their parts' storage is
 * queued for GC here, in the same transaction, so nothing is leaked.
 */
export async function deleteBucket(db: Db, name: string): Promise<'deleted' | 'not-empty' | 'missing'> {
  const empty = notExists(db.select({ one: sql`1` }).from(objects).where(eq(objects.bucket, name)))
  const uploadsOfBucket = db
    .select({ id: multipartUploads.uploadId })
    .from(multipartUploads)
    .where(eq(multipartUploads.bucket, name))
  // Every step carries the same gate; children go before the bucket so no FK is ever violated.
  const [existing, , , , gone] = await db.batch([
    db.select({ name: buckets.name }).from(buckets).where(eq(buckets.name, name)),
    // Columns in table order: id (null = next autoincrement), layout, reason, enqueued_at, retry_at.
    db.insert(gcQueue).select(
      sql`select null, ${parts.layout}, ${GC_REASON_BUCKET_DELETED}, ${Date.now()}, 0 from ${parts}
          where ${inArray(parts.uploadId, uploadsOfBucket)} and ${empty}`,
    ),
    db.delete(parts).where(and(inArray(parts.uploadId, uploadsOfBucket), empty)),
    db.delete(multipartUploads).where(and(eq(multipartUploads.bucket, name), empty)),
    db.delete(buckets).where(and(eq(buckets.name, name), empty)),
  ])
  if (affected(gone) === 1) return 'deleted'
  return existing.length === 0 ? 'missing' : 'not-empty'
}
