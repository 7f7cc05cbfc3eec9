/**
 * Multipart uploads and their parts: create, put a part, list, complete (upload → object in one
 * transaction) and abort. Uses the schema via drizzle, ./objects.ts for the conditional commit.
 */
import { and, asc, eq, exists, gt, notExists, sql } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { assertStorableKey, NoSuchUploadError } from '../errors.ts'
import { type ObjectRow, type PartRow, partRow, type UploadRow, uploadRow } from '../rows.ts'
import { buckets, multipartUploads, objects, parts } from '../schema.ts'
import { affected, replaceAll, rowWhere } from '../tx.ts'
import { type KeyPin, keyVersionLive } from './keys.ts'
import { at, conditionSql, upsertObjectWhere, type WriteCondition } from './objects.ts'

export type { PartRow, UploadRow }

/** A part the completed object uses. With its layout, completion also proves it is unchanged. */
export type UsedPart = number | Pick<PartRow, 'partNumber' | 'layout'>

export type CompleteResult =
  | {
      ok: true /** The overwritten object's layout. */
      replaced?: unknown /** Parts not used. */
      unusedParts: unknown[]
    }
  | { ok: false; reason: 'precondition' | 'missing' | 'invalid-part' | 'key-version' }

const uploadExists = (db: Db, uploadId: string) =>
  db.select({ one: sql`1` }).from(multipartUploads).where(eq(multipartUploads.uploadId, uploadId))

/**
 * Records a new upload unless the bucket no longer exists or the namespace key version its
 * object key is wrapped under (`pin`) was dropped by a rotation meanwhile.
 */
export async function createUpload(
  db: Db,
  row: UploadRow,
  pin?: KeyPin,
): Promise<'created' | 'no-such-bucket' | 'key-version'> {
  assertStorableKey(row.key)
  const bucketExists = exists(db.select({ one: sql`1` }).from(buckets).where(eq(buckets.name, row.bucket)))
  const live = keyVersionLive(db, pin)
  const [bucket, written] = await db.batch([
    db.select({ name: buckets.name }).from(buckets).where(eq(buckets.name, row.bucket)),
    db.insert(multipartUploads).select(rowWhere(multipartUploads, row, and(bucketExists, live)!)),
  ])
  if (affected(written) === 1) return 'created'
  return bucket.length === 0 ? 'no-such-bucket' : 'key-version'
}

export async function getUpload(db: Db, uploadId: string): Promise<UploadRow | undefined> {
  const raw = await db.select().from(multipartUploads).where(eq(multipartUploads.uploadId, uploadId)).get()
  return raw && uploadRow(raw)
}

/**
 * Stores (or replaces) a part; returns the replaced part's layout. Throws NoSuchUploadError when
 * the upload was completed or aborted meanwhile — the caller then owns the part's storage.
 */
export async function putPart(db: Db, row: PartRow): Promise<unknown | undefined> {
  const [old, written] = await db.batch([
    db
      .select({ layout: parts.layout })
      .from(parts)
      .where(and(eq(parts.uploadId, row.uploadId), eq(parts.partNumber, row.partNumber))),
    db
      .insert(parts)
      .select(rowWhere(parts, row, exists(uploadExists(db, row.uploadId))))
      .onConflictDoUpdate({
        target: [parts.uploadId, parts.partNumber],
        set: replaceAll(parts, ['uploadId', 'partNumber']),
      }),
  ])
  if (affected(written) === 0) throw new NoSuchUploadError(row.uploadId)
  return old[0]?.layout
}

/** Every part of the upload by part number. */
export async function getParts(db: Db, uploadId: string): Promise<PartRow[]> {
  const rows = await db.select().from(parts).where(eq(parts.uploadId, uploadId)).orderBy(asc(parts.partNumber))
  return rows.map(partRow)
}

export interface ListPartsResult {
  parts: PartRow[]
  isTruncated: boolean
  /** The last part number on this page (0 when empty): pass it back as partNumberMarker. */
  nextPartNumberMarker: number
}

export async function listParts(
  db: Db,
  uploadId: string,
  o: { partNumberMarker?: number; maxParts: number },
): Promise<ListPartsResult> {
  if (o.maxParts <= 0) return { parts: [], isTruncated: false, nextPartNumberMarker: o.partNumberMarker ?? 0 }
  const rows = await db
    .select()
    .from(parts)
    .where(and(eq(parts.uploadId, uploadId), gt(parts.partNumber, o.partNumberMarker ?? 0)))
    .orderBy(asc(parts.partNumber))
    .limit(o.maxParts + 1)
  const page = rows.slice(0, o.maxParts).map(partRow)
  return {
    parts: page,
    isTruncated: rows.length > o.maxParts,
    nextPartNumberMarker: page.at(-1)?.partNumber ?? o.partNumberMarker ?? 0,
  }
}

/**
 * Turns the upload into `object` in ONE transaction: the upload must still exist for the same
 * bucket and key, every used part must be as the caller read it, the write condition must hold
 * and the namespace key version the object key is wrapped under (`pin`) must still exist; then
 * the object is upserted and the upload and its parts are deleted. The batch's later steps are
 * gated on the first one's effect: "upload row gone, parts still there".
 */
export async function completeUpload(
  db: Db,
  uploadId: string,
  object: ObjectRow,
  usedParts: readonly UsedPart[],
  cond: WriteCondition = {},
  pin?: KeyPin,
): Promise<CompleteResult> {
  if (usedParts.length === 0) return { ok: false, reason: 'invalid-part' }
  const condition = conditionSql(object.bucket, object.key, cond, db)
  if (condition === false) return { ok: false, reason: 'precondition' }
  // One JSON parameter, not one per part: 10,000 parts must not hit SQLite's variable or
  // expression-depth limits. Layouts are compared as the JSON text they were stored as.
  const wanted = usedParts.map((p) =>
    typeof p === 'number' ? { n: p } : { n: p.partNumber, l: JSON.stringify(p.layout) },
  )
  const partsMatch = sql`(select count(*) from ${parts}, json_each(${JSON.stringify(wanted)}) as w
    where ${parts.uploadId} = ${uploadId} and ${parts.partNumber} = json_extract(w.value, '$.n')
      and (json_extract(w.value, '$.l') is null or ${parts.layout} = json_extract(w.value, '$.l'))) = ${wanted.length}`
  const gone = notExists(uploadExists(db, uploadId))
  const partsLeft = exists(db.select({ one: sql`1` }).from(parts).where(eq(parts.uploadId, uploadId)))
  const live = keyVersionLive(db, pin)
  const [upload, keyLive, old, allParts, gate, written] = await db.batch([
    db.select().from(multipartUploads).where(eq(multipartUploads.uploadId, uploadId)),
    db
      .select({ one: sql`1` })
      .from(multipartUploads)
      .where(and(eq(multipartUploads.uploadId, uploadId), live)),
    db.select({ layout: objects.layout }).from(objects).where(at(object.bucket, object.key)),
    db.select({ partNumber: parts.partNumber, layout: parts.layout }).from(parts).where(eq(parts.uploadId, uploadId)),
    db
      .delete(multipartUploads)
      .where(
        and(
          eq(multipartUploads.uploadId, uploadId),
          eq(multipartUploads.bucket, object.bucket),
          eq(multipartUploads.key, object.key),
          partsMatch,
          live,
          condition,
        ),
      ),
    upsertObjectWhere(db, object, and(gone, partsLeft)!),
    db.delete(parts).where(and(eq(parts.uploadId, uploadId), gone)),
  ])
  if (affected(gate) === 1) {
    if (affected(written) !== 1) throw new Error(`completeUpload ${uploadId}: the object write did not follow its gate`)
    const used = new Set(wanted.map((w) => w.n))
    const unusedParts = allParts.filter((p) => !used.has(p.partNumber)).map((p) => p.layout)
    return old[0] ? { ok: true, replaced: old[0].layout, unusedParts } : { ok: true, unusedParts }
  }
  const u = upload[0]
  if (!u || u.bucket !== object.bucket || u.key !== object.key) return { ok: false, reason: 'missing' }
  const stored = new Map(allParts.map((p) => [p.partNumber, JSON.stringify(p.layout)]))
  const intact = wanted.every((w) => stored.has(w.n) && (w.l === undefined || stored.get(w.n) === w.l))
  if (!intact) return { ok: false, reason: 'invalid-part' }
  return { ok: false, reason: keyLive.length === 0 ? 'key-version' : 'precondition' }
}

/** Deletes the upload and its parts; returns the parts' layouts, or undefined if it was gone. */
export async function abortUpload(db: Db, uploadId: string): Promise<unknown[] | undefined> {
  const [upload, layouts] = await db.batch([
    db.select({ id: multipartUploads.uploadId }).from(multipartUploads).where(eq(multipartUploads.uploadId, uploadId)),
    db.select({ layout: parts.layout }).from(parts).where(eq(parts.uploadId, uploadId)),
    db.delete(multipartUploads).where(eq(multipartUploads.uploadId, uploadId)),
    db.delete(parts).where(eq(parts.uploadId, uploadId)),
  ])
  return upload.length === 0 ? undefined : layouts.map((p) => p.layout)
}
