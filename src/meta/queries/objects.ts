/**
 * Current objects, one row per (bucket, key): read, conditional commit (If-None-Match / If-Match
 * decided inside the write transaction), delete, metadata replace. Uses the schema via drizzle.
 */
import { and, eq, exists, inArray, notExists, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { assertStorableKey } from '../errors.ts'
import { objectRow, type ObjectRow } from '../rows.ts'
import { buckets, objects } from '../schema.ts'
import { affected, replaceAll, rowWhere } from '../tx.ts'
import { type KeyPin, keyVersionLive } from './keys.ts'

export type { ObjectRow }

/** Conditional-write headers as S3 accepts them on PutObject and CompleteMultipartUpload. */
export interface WriteCondition {
  /** Only `*`: fail if the key exists. */
  ifNoneMatch?: '*'
  /** An ETag list as sent (quotes optional, `*` = any): fail unless the current ETag is in it. */
  ifMatch?: string
}

export type CommitResult =
  | { ok: true /** The replaced row's layout, for the caller to garbage collect. */; replaced?: unknown }
  | { ok: false; reason: 'precondition' | 'no-such-bucket' | 'key-version' }

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
 * Makes `row` the current object in one transaction: the condition is checked against the row
 * as it is at commit time, the bucket must still exist (it may be deleted meanwhile), and the
 * namespace key version the row's object key is wrapped under (`pin`) must still exist.
 */
export async function commitObject(
  db: Db,
  row: ObjectRow,
  cond: WriteCondition = {},
  pin?: KeyPin,
): Promise<CommitResult> {
  assertStorableKey(row.key)
  const condition = conditionSql(row.bucket, row.key, cond, db)
  if (condition === false) return { ok: false, reason: 'precondition' }
  const bucketExists = exists(db.select({ one: sql`1` }).from(buckets).where(eq(buckets.name, row.bucket)))
  const live = keyVersionLive(db, pin)
  const [bucket, keyLive, old, written] = await db.batch([
    db.select({ name: buckets.name }).from(buckets).where(eq(buckets.name, row.bucket)),
    db
      .select({ one: sql`1` })
      .from(buckets)
      .where(and(eq(buckets.name, row.bucket), live)),
    db.select({ layout: objects.layout }).from(objects).where(at(row.bucket, row.key)),
    upsertObjectWhere(db, row, and(bucketExists, live, condition)!),
  ])
  if (affected(written) === 0) {
    if (bucket.length === 0) return { ok: false, reason: 'no-such-bucket' }
    return { ok: false, reason: keyLive.length === 0 ? 'key-version' : 'precondition' }
  }
  return old[0] ? { ok: true, replaced: old[0].layout } : { ok: true }
}

/**
 * Removes the current object; returns the removed row's layout (now garbage), undefined when
 * there was none. Only the layout: a row that is gone must not fail to read back.
 */
export async function deleteObject(db: Db, bucket: string, key: string): Promise<{ layout: unknown } | undefined> {
  const [removed] = await db.delete(objects).where(at(bucket, key)).returning({ layout: objects.layout })
  return removed
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
