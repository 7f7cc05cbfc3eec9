/**
 * What the lifecycle worker reads (src/service/lifecycle/): the buckets that have rules, a
 * bucket's versions and uploads in index order from a cursor, bounded pages only (memory never
 * grows with the bucket), and the lease that lets one gateway at a time run it.
 */
import { and, asc, desc, eq, gt, isNotNull, lt, or, sql } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { type ObjectRow, objectRow, type UploadRow, uploadRow } from '../rows.ts'
import { buckets, multipartUploads, objects, settings } from '../schema.ts'
import { affected } from '../tx.ts'
import type { BucketRow } from './buckets.ts'
import { at } from './objects.ts'

/** Buckets with a lifecycle configuration, by name after `after`. */
export async function lifecycleBuckets(db: Db, after: string, limit: number): Promise<BucketRow[]> {
  const rows = await db
    .select()
    .from(buckets)
    .where(and(isNotNull(buckets.lifecycle), gt(buckets.name, after)))
    .orderBy(asc(buckets.name))
    .limit(limit)
  return rows.flatMap((r) => (r.id === null ? [] : [{ ...r, id: r.id }]))
}

/** A page of a bucket's versions in primary-key order (key, then newest first), after a cursor. */
export async function versionsAfter(
  db: Db,
  bucket: string,
  after: { key: string; ord: number } | undefined,
  limit: number,
): Promise<ObjectRow[]> {
  const past = after
    ? or(gt(objects.key, after.key), and(eq(objects.key, after.key), gt(objects.ord, after.ord)))
    : undefined
  const rows = await db
    .select()
    .from(objects)
    .where(and(eq(objects.bucket, bucket), past))
    .orderBy(asc(objects.key), asc(objects.ord))
    .limit(limit)
  return rows.map(objectRow)
}

/** The version just newer than the row at `ord` (its successor made it noncurrent). */
export async function newerVersion(db: Db, bucket: string, key: string, ord: number): Promise<ObjectRow | undefined> {
  const raw = await db
    .select()
    .from(objects)
    .where(and(at(bucket, key), lt(objects.ord, ord)))
    .orderBy(desc(objects.ord))
    .limit(1)
    .get()
  return raw && objectRow(raw)
}

/** How many versions the key has, counting at most `cap`. */
export async function versionCount(db: Db, bucket: string, key: string, cap = 2): Promise<number> {
  const rows = await db.select({ one: sql`1` }).from(objects).where(at(bucket, key)).limit(cap)
  return rows.length
}

/** A page of a bucket's multipart uploads in (key, upload id) order, after a cursor. */
export async function uploadsAfter(
  db: Db,
  bucket: string,
  after: { key: string; uploadId: string } | undefined,
  limit: number,
): Promise<UploadRow[]> {
  const u = multipartUploads
  const past = after ? or(gt(u.key, after.key), and(eq(u.key, after.key), gt(u.uploadId, after.uploadId))) : undefined
  const rows = await db
    .select()
    .from(u)
    .where(and(eq(u.bucket, bucket), past))
    .orderBy(asc(u.key), asc(u.uploadId))
    .limit(limit)
  return rows.map(uploadRow)
}

/**
 * Takes or renews the lease `name` for `holder` until `until` (ms), in one statement: it is
 * free, expired, or already this holder's. False while another holder has it.
 */
export async function takeLease(db: Db, name: string, holder: string, now: number, until: number): Promise<boolean> {
  const value = JSON.stringify({ holder, until })
  const res = await db
    .insert(settings)
    .values({ key: name, value })
    .onConflictDoUpdate({
      target: settings.key,
      set: { value: sql`excluded.value` },
      where: sql`json_extract(${settings.value}, '$.until') < ${now} or json_extract(${settings.value}, '$.holder') = ${holder}`,
    })
  return affected(res) === 1
}
