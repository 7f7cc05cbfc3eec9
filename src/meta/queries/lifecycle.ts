/**
 * What the lifecycle worker reads and writes (src/service/lifecycle/): the buckets that have
 * rules, a bucket's versions and uploads in index order from a cursor, bounded pages only (memory
 * never grows with the bucket), a round's actions in ONE transaction, and the lease that lets one
 * gateway at a time run it.
 */
import { and, asc, desc, eq, gt, isNotNull, lt, or, sql } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { type ObjectRow, objectRow, type UploadRow, uploadRow } from '../rows.ts'
import { buckets, multipartUploads, objects, settings } from '../schema.ts'
import { affected } from '../tx.ts'
import type { BucketRow } from './buckets.ts'
import { abortUploadStatements } from './multipart.ts'
import {
  at,
  conditionSql,
  gatedCommitStatements,
  type RemovalGuards,
  removeVersionStatements,
  type RowIdentity,
} from './objects.ts'
import type { Writer } from './writer.ts'

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
      // A value that is not JSON (damaged) is free to take: json_extract would fail on it, and a
      // lease nobody can read must not stop every gateway's worker for good.
      where: sql`json_valid(${settings.value}) = 0 or json_extract(${settings.value}, '$.until') < ${now} or json_extract(${settings.value}, '$.holder') = ${holder}`,
    })
  return affected(res) === 1
}

/**
 * Gives the lease `name` back, only while `holder` holds it (a lease that ran out and was taken
 * by another stays theirs): the next taker need not wait for it to run out. False otherwise.
 */
export async function releaseLease(db: Db, name: string, holder: string): Promise<boolean> {
  const res = await db
    .delete(settings)
    .where(
      and(
        eq(settings.key, name),
        sql`json_valid(${settings.value}) = 1 and json_extract(${settings.value}, '$.holder') = ${holder}`,
      ),
    )
  return affected(res) === 1
}

/** One thing a lifecycle round does, judged by the worker and guarded again in SQL. */
export type LifecycleAction =
  /** Removes a version for good (its data queued for GC) while every guard holds. */
  | { kind: 'remove'; writer: Writer; key: string; versionId: string; guards: RemovalGuards }
  /** Writes `marker` as the key's current version while `current` is still the current version. */
  | { kind: 'marker'; writer: Writer; marker: ObjectRow; current: RowIdentity }
  /** Aborts an incomplete multipart upload (its parts' data queued for GC). */
  | { kind: 'abort'; uploadId: string }

export const LIFECYCLE_GC_REASON = 'lifecycle'

/**
 * Applies a round's actions in ONE transaction (one commit, so one fsync on an embedded file,
 * instead of one per action) and says which took effect. Each action is gated on its own rows as
 * its single-action form is (deleteVersion, commitObject, abortUpload): a guard that fails — the
 * version replaced, no longer current, its lock changed, another version written beside a lone
 * marker — skips that action only. Statements run in order, so an action sees the ones before it.
 */
export async function applyLifecycle(db: Db, actions: readonly LifecycleAction[], now: number): Promise<boolean[]> {
  if (actions.length === 0) return []
  // biome-ignore lint/suspicious/noExplicitAny: a batch mixes statement types; results are read by index.
  const statements: any[] = []
  const decisive: number[] = []
  for (const a of actions) {
    if (a.kind === 'remove') {
      const s = removeVersionStatements(db, a.writer, a.key, a.versionId, LIFECYCLE_GC_REASON, now, a.guards)
      decisive.push(statements.length + 2)
      statements.push(...s)
    } else if (a.kind === 'marker') {
      // Only while the version judged is still current: a write meanwhile is not hidden.
      const current = conditionSql(a.marker.bucket, a.marker.key, { current: a.current }, db) || undefined
      const s = gatedCommitStatements(db, a.marker, a.writer, current, now)
      decisive.push(statements.length)
      statements.push(...s)
    } else {
      const s = abortUploadStatements(db, a.uploadId, now)
      decisive.push(statements.length + 2)
      statements.push(...s)
    }
  }
  const results = await db.batch(statements as [(typeof statements)[number]])
  return decisive.map((i) => affected(results[i]) === 1)
}

/**
 * Saves `value` under `key` only while `holder` holds the lease `lease`, renewing it until
 * `until`, in one transaction: a gateway that lost the lease (paused past it) must not overwrite
 * the progress of the one that took over. False when the lease is another's.
 */
export async function saveUnderLease(
  db: Db,
  lease: string,
  holder: string,
  until: number,
  key: string,
  value: string,
): Promise<boolean> {
  const mine = sql`json_extract(${settings.value}, '$.holder') = ${holder}`
  const [renewed] = await db.batch([
    db
      .update(settings)
      .set({ value: JSON.stringify({ holder, until }) })
      .where(and(eq(settings.key, lease), mine)),
    db
      .insert(settings)
      .select(
        sql`select ${key}, ${value} where exists (select 1 from ${settings} where ${settings.key} = ${lease} and ${mine})`,
      )
      .onConflictDoUpdate({ target: settings.key, set: { value: sql`excluded.value` } }),
  ])
  return affected(renewed) === 1
}
