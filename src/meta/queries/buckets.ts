/**
 * Buckets: names unique across the service, created race-free through the primary key, deleted
 * only when empty (in-progress uploads go with the bucket, as in S3). Uses the schema via drizzle.
 */
import { and, asc, eq, exists, inArray, notExists, sql } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { buckets, gcQueue, multipartUploads, objects, parts } from '../schema.ts'
import { affected } from '../tx.ts'
import { preparedPer } from '../prepared.ts'
import { CorruptRowError } from '../errors.ts'

/** A bucket row; `id` is never null once read (the migration filled every row, inserts set it). */
export type BucketRow = Omit<typeof buckets.$inferSelect, 'id'> & { id: string }

/** What creating a bucket takes; the immutable id is drawn here unless given (tests). */
export type NewBucket = Omit<
  BucketRow,
  'id' | 'versioning' | 'objectLock' | 'policy' | 'publicAccessBlock' | 'ownership' | 'acl' | BucketConfig
> & {
  acl?: string | null
  id?: string
  versioning?: string | null
  objectLock?: unknown
} & Partial<Pick<BucketRow, 'policy' | 'publicAccessBlock' | 'ownership' | BucketConfig>>

/** Bucket sub-resources stored as opaque JSON of the service's, set and cleared whole. */
type BucketConfig = 'tags' | 'lifecycle'
export type BucketConfigPatch = Partial<Pick<BucketRow, BucketConfig>>

/**
 * Sets (or, with null, clears) bucket sub-resources on the very bucket (by id) the request was
 * admitted to; false when it is gone.
 */
export async function setBucketConfig(db: Db, name: string, id: string, patch: BucketConfigPatch): Promise<boolean> {
  const res = await db
    .update(buckets)
    .set(patch)
    .where(and(eq(buckets.name, name), eq(buckets.id, id)))
  return affected(res) === 1
}

/**
 * Sets the bucket's versioning state ('Enabled' or 'Suspended'; S3 never goes back to
 * unversioned) for the bucket of this id only; false when that bucket is gone.
 */
export async function setBucketVersioning(db: Db, name: string, id: string, status: string): Promise<boolean> {
  const res = await db
    .update(buckets)
    .set({ versioning: status })
    .where(and(eq(buckets.name, name), eq(buckets.id, id)))
  return affected(res) === 1
}

/**
 * Sets the bucket's Object Lock configuration (opaque JSON, the service's) and turns versioning
 * on with it, as S3 does; false when the bucket of this id is gone. `requireVersioning`: only
 * while versioning is Enabled (PutObjectLockConfiguration on an existing bucket).
 */
export async function setBucketObjectLock(
  db: Db,
  name: string,
  id: string,
  config: unknown,
  requireVersioning: boolean,
): Promise<boolean> {
  const res = await db
    .update(buckets)
    .set({ objectLock: config, versioning: 'Enabled' })
    .where(
      and(
        eq(buckets.name, name),
        eq(buckets.id, id),
        requireVersioning ? eq(buckets.versioning, 'Enabled') : undefined,
      ),
    )
  return affected(res) === 1
}
/** The access-control settings of a bucket, as the service's text; null removes one. */
export type BucketAccessPatch = Partial<Pick<BucketRow, 'policy' | 'publicAccessBlock' | 'ownership' | 'acl'>>

/**
 * Changes a bucket's policy, Block Public Access or ownership, on the very bucket (by id) the
 * request was admitted to; false when it is gone (deleted, or its name taken again).
 */
export async function setBucketAccess(db: Db, name: string, id: string, patch: BucketAccessPatch): Promise<boolean> {
  if (Object.keys(patch).length === 0) return (await getBucket(db, name))?.id === id
  const res = await db
    .update(buckets)
    .set(patch)
    .where(and(eq(buckets.name, name), eq(buckets.id, id)))
  return affected(res) === 1
}

function bucketRow(raw: typeof buckets.$inferSelect): BucketRow {
  if (raw.id === null) throw new CorruptRowError(`bucket ${raw.name} has no id`)
  return { ...raw, id: raw.id }
}

/** 'exists' whoever owns it: the caller tells BucketAlreadyOwnedByYou from BucketAlreadyExists. */
export async function insertBucket(db: Db, row: NewBucket): Promise<'created' | 'exists'> {
  // Random, never derived from the name: a name deleted and created again is another bucket.
  const id = row.id ?? crypto.randomUUID()
  // One statement: two racing creators cannot both win, unlike a read-then-write.
  const res = await db
    .insert(buckets)
    .values({ ...row, id })
    .onConflictDoNothing()
  return affected(res) === 1 ? 'created' : 'exists'
}

const bucketQuery = preparedPer((db) =>
  db
    .select()
    .from(buckets)
    .where(eq(buckets.name, sql.placeholder('name')))
    .prepare(),
)

export async function getBucket(db: Db, name: string): Promise<BucketRow | undefined> {
  const raw = await bucketQuery(db).get({ name })
  return raw && bucketRow(raw)
}

/** The namespace's buckets by name (ListBuckets order). */
export async function listBuckets(db: Db, namespace: string): Promise<BucketRow[]> {
  const rows = await db.select().from(buckets).where(eq(buckets.namespace, namespace)).orderBy(asc(buckets.name))
  return rows.map(bucketRow)
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
 * queued for GC here, in the same transaction, so nothing is leaked. `id` names the bucket the
 * caller was admitted to: another bucket created under the same name since is 'missing'.
 */
export async function deleteBucket(db: Db, name: string, id: string): Promise<'deleted' | 'not-empty' | 'missing'> {
  const empty = and(
    exists(
      db
        .select({ one: sql`1` })
        .from(buckets)
        .where(and(eq(buckets.name, name), eq(buckets.id, id))),
    ),
    notExists(db.select({ one: sql`1` }).from(objects).where(eq(objects.bucket, name))),
  )!
  const uploadsOfBucket = db
    .select({ id: multipartUploads.uploadId })
    .from(multipartUploads)
    .where(eq(multipartUploads.bucket, name))
  // Every step carries the same gate; children go before the bucket so no FK is ever violated.
  const [existing, , , , gone] = await db.batch([
    db
      .select({ name: buckets.name })
      .from(buckets)
      .where(and(eq(buckets.name, name), eq(buckets.id, id))),
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
