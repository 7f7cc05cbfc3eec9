/**
 * Current objects, one row per (bucket, key): read, conditional commit (If-None-Match / If-Match
 * decided inside the write transaction), delete, metadata replace. Every change that drops a
 * row's data queues that data for GC in the same transaction. Uses the schema via drizzle.
 */
import { and, eq, exists, inArray, notExists, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { assertStorableKey } from '../errors.ts'
import { objectRow, type ObjectRow } from '../rows.ts'
import { namespaces, objects } from '../schema.ts'
import { affected, replaceAll, rowWhere } from '../tx.ts'
import { type KeyPin, keyVersionLive } from './keys.ts'
import { enqueueGcFrom } from './gc.ts'
import { type Refusal, type Writer, writerAllowed, writerState, refusalOf } from './writer.ts'

export type { ObjectRow }

/** Conditional-write headers as S3 accepts them on PutObject and CompleteMultipartUpload. */
export interface WriteCondition {
  /** Only `*`: fail if the key exists. */
  ifNoneMatch?: '*'
  /** An ETag list as sent (quotes optional, `*` = any): fail unless the current ETag is in it. */
  ifMatch?: string
}

export type CommitResult = { ok: true } | { ok: false; reason: 'precondition' | 'key-version' | Refusal }

/** Reasons recorded in gc_queue for data whose row went. */
export const GC_REASON_OVERWRITTEN = 'overwritten'
export const GC_REASON_DELETED = 'deleted'

export async function getObject(db: Db, bucket: string, key: string): Promise<ObjectRow | undefined> {
  const raw = await db.select().from(objects).where(at(bucket, key)).get()
  return raw && objectRow(raw)
}

export const at = (bucket: string, key: string): SQL => and(eq(objects.bucket, bucket), eq(objects.key, key))!

/** Quoted ETags from an If-Match value; undefined means `*` (any existing object). */
export function parseEtagList(header: string): string[] | undefined {
  const tags = header.split(',').map((t) => t.trim().replace(/^W\//, '').replace(/^"|"$/g, ''))
  return tags.includes('*') ? undefined : tags.filter((t) => t !== '').map((t) => `"${t}"`)
}

/** The condition as SQL over the current row of (bucket, key); undefined = always true. */
export function conditionSql(bucket: string, key: string, cond: WriteCondition, db: Db): SQL | undefined | false {
  if (cond.ifNoneMatch === '*' && cond.ifMatch !== undefined) return false // exists and does not: never
  const current = db.select({ one: sql`1` }).from(objects)
  if (cond.ifNoneMatch === '*') return notExists(current.where(at(bucket, key)))
  if (cond.ifMatch !== undefined) {
    const tags = parseEtagList(cond.ifMatch)
    if (tags && tags.length === 0) return false
    return exists(current.where(and(at(bucket, key), tags ? inArray(objects.etag, tags) : undefined)))
  }
  return undefined
}

/** Upsert of a whole row when `gate` holds (INSERT … SELECT … WHERE gate ON CONFLICT …). */
export function upsertObjectWhere(db: Db, row: ObjectRow, gate: SQL) {
  return db
    .insert(objects)
    .select(rowWhere(objects, row, gate))
    .onConflictDoUpdate({ target: [objects.bucket, objects.key], set: replaceAll(objects, ['bucket', 'key']) })
}

/**
 * Makes `row` the current object in ONE transaction: the writer must still be allowed into the
 * very bucket it was admitted to (./writer.ts; a bucket deleted and re-created under the same
 * name is another bucket), the namespace key version the row's object key is wrapped under
 * (`pin`) must still exist, the condition is checked against the row as it is at commit time,
 * and the replaced row's data is queued for GC in the same transaction, so no crash can lose
 * track of it.
 */
export async function commitObject(
  db: Db,
  row: ObjectRow,
  writer: Writer,
  cond: WriteCondition = {},
  pin?: KeyPin,
  now = Date.now(),
): Promise<CommitResult> {
  assertStorableKey(row.key)
  if (writer.bucket !== row.bucket)
    throw new Error(`commitObject: a writer of ${writer.bucket} writing into ${row.bucket}`)
  const condition = conditionSql(row.bucket, row.key, cond, db)
  if (condition === false) return { ok: false, reason: 'precondition' }
  const live = keyVersionLive(db, pin)
  const gate = and(writerAllowed(db, writer), live, condition)!
  // The old row's data is queued before the upsert replaces it, under the same gate: both
  // statements see the same bucket, user, key version and condition, so they happen together or
  // not at all.
  const [state, keyLive, , written] = await db.batch([
    writerState(db, writer),
    // Holds a row while the key version lives (the pinned namespace's row exists then).
    db.select({ one: sql`1` }).from(namespaces).where(live).limit(1),
    enqueueGcFrom(
      db,
      objects.layout,
      sql`${objects} where ${and(at(row.bucket, row.key), gate)}`,
      GC_REASON_OVERWRITTEN,
      now,
    ),
    upsertObjectWhere(db, row, gate),
  ])
  if (affected(written) === 1) return { ok: true }
  const refusal = refusalOf(state, writer)
  if (refusal) return { ok: false, reason: refusal }
  return { ok: false, reason: keyLive.length === 0 && pin ? 'key-version' : 'precondition' }
}

export type DeleteResult = 'deleted' | 'missing' | Refusal

/**
 * Removes the current object and queues its data for GC in ONE transaction (the data stays until
 * the grace period ends, so readers streaming it finish). The writer is checked as for a commit:
 * a delete admitted to a bucket that was deleted and re-created never touches the new one.
 */
export async function deleteObject(
  db: Db,
  writer: Writer,
  key: string,
  reason = GC_REASON_DELETED,
  now = Date.now(),
): Promise<DeleteResult> {
  const target = and(at(writer.bucket, key), writerAllowed(db, writer))
  const [state, , removed] = await db.batch([
    writerState(db, writer),
    enqueueGcFrom(db, objects.layout, sql`${objects} where ${target}`, reason, now),
    db.delete(objects).where(target),
  ])
  if (affected(removed) === 1) return 'deleted'
  return refusalOf(state, writer) ?? 'missing'
}

export type MetadataPatch = Partial<Pick<ObjectRow, 'contentType' | 'headers' | 'userMeta' | 'lastModified'>>

/**
 * CopyObject onto itself with the REPLACE directive: new metadata, same bytes, same ETag.
 * With `expectEtag`, nothing changes if the object was overwritten since the caller read it.
 */
export async function updateObjectMetadata(
  db: Db,
  bucket: string,
  key: string,
  patch: MetadataPatch,
  expectEtag?: string,
): Promise<ObjectRow | undefined> {
  const [updated] = await db
    .update(objects)
    .set({ lastModified: new Date(), ...patch })
    .where(and(at(bucket, key), expectEtag === undefined ? undefined : eq(objects.etag, expectEtag)))
    .returning()
  return updated && objectRow(updated)
}
