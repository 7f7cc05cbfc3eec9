/**
 * Multipart uploads and their parts: create, put a part, list, complete (upload → object in one
 * transaction) and abort. Every change that drops stored data (a replaced part, the parts a
 * completion leaves out, the object it replaces, an aborted upload's parts) queues it for GC in
 * the same transaction. Uses the schema via drizzle, ./objects.ts for the conditional commit.
 */
import { and, asc, eq, exists, gt, notExists, sql } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { assertStorableKey } from '../errors.ts'
import { type ObjectRow, type PartRow, partRow, type UploadRow, uploadRow } from '../rows.ts'
import { multipartUploads, parts } from '../schema.ts'
import { affected, replaceAll, rowWhere } from '../tx.ts'
import { enqueueGcFrom } from './gc.ts'
import { type KeyPin, keyVersionLive } from './keys.ts'
import { conditionSql, newVersionStatements, type WriteCondition } from './objects.ts'
import { type Refusal, refusalOf, type Writer, writerAllowed, writerState } from './writer.ts'

export type { PartRow, UploadRow }

/** A part the completed object uses. With its layout, completion also proves it is unchanged. */
export type UsedPart = number | Pick<PartRow, 'partNumber' | 'layout'>

export type CompleteResult =
  | { ok: true }
  | { ok: false; reason: 'precondition' | 'missing' | 'invalid-part' | 'key-version' | Refusal }

export type PartResult = { ok: true } | { ok: false; reason: 'no-such-upload' | Refusal }

/** Reasons recorded in gc_queue. */
export const GC_REASON_PART_REPLACED = 'part-replaced'
export const GC_REASON_PART_UNUSED = 'part-unused'
export const GC_REASON_ABORTED = 'aborted'

const uploadExists = (db: Db, uploadId: string) =>
  db.select({ one: sql`1` }).from(multipartUploads).where(eq(multipartUploads.uploadId, uploadId))

/**
 * Creates the upload while the writer may still write into its bucket (./writer.ts) and the
 * namespace key version its object key is wrapped under (`pin`) was not dropped by a rotation
 * meanwhile.
 */
export async function createUpload(
  db: Db,
  row: UploadRow,
  writer: Writer,
  pin?: KeyPin,
): Promise<{ ok: true } | { ok: false; reason: Refusal | 'key-version' }> {
  assertStorableKey(row.key)
  if (writer.bucket !== row.bucket)
    throw new Error(`createUpload: a writer of ${writer.bucket} writing into ${row.bucket}`)
  const [state, written] = await db.batch([
    writerState(db, writer),
    db
      .insert(multipartUploads)
      .select(
        rowWhere(
          multipartUploads,
          { ...row, tags: row.tags ?? null, acl: row.acl ?? null },
          and(writerAllowed(db, writer), keyVersionLive(db, pin))!,
        ),
      ),
  ])
  if (affected(written) === 1) return { ok: true }
  return { ok: false, reason: refusalOf(state, writer) ?? (pin ? 'key-version' : 'no-such-bucket') }
}

export async function getUpload(db: Db, uploadId: string): Promise<UploadRow | undefined> {
  const raw = await db.select().from(multipartUploads).where(eq(multipartUploads.uploadId, uploadId)).get()
  return raw && uploadRow(raw)
}

/**
 * Stores (or replaces) a part while the upload exists in the writer's bucket and the writer may
 * still write there; a replaced part's data is queued for GC in the same transaction. When the
 * upload was completed or aborted meanwhile (or its bucket deleted), nothing is written and the
 * caller owns the part's storage.
 */
export async function putPart(db: Db, row: PartRow, writer: Writer, now = Date.now()): Promise<PartResult> {
  const upload = exists(
    db
      .select({ one: sql`1` })
      .from(multipartUploads)
      .where(and(eq(multipartUploads.uploadId, row.uploadId), eq(multipartUploads.bucket, writer.bucket))),
  )
  const gate = and(upload, writerAllowed(db, writer))!
  const samePart = and(eq(parts.uploadId, row.uploadId), eq(parts.partNumber, row.partNumber))
  const [state, , written] = await db.batch([
    writerState(db, writer),
    enqueueGcFrom(db, parts.layout, sql`${parts} where ${and(samePart, gate)}`, GC_REASON_PART_REPLACED, now),
    db
      .insert(parts)
      .select(rowWhere(parts, row, gate))
      .onConflictDoUpdate({
        target: [parts.uploadId, parts.partNumber],
        set: replaceAll(parts, ['uploadId', 'partNumber']),
      }),
  ])
  if (affected(written) === 1) return { ok: true }
  return { ok: false, reason: refusalOf(state, writer) ?? 'no-such-upload' }
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
 * bucket and key, the writer must still be allowed into that bucket (by id), every used part
 * must be as the caller read it, the write condition must hold and the namespace key version the
 * object key is wrapped under (`pin`) must still exist; then the replaced object's data and the
 * unused parts are queued for GC, the object is upserted and the upload and its parts are
 * deleted. The batch's later steps are gated on the first one's effect: "upload row gone, parts
 * still there".
 */
export async function completeUpload(
  db: Db,
  uploadId: string,
  object: ObjectRow,
  usedParts: readonly UsedPart[],
  writer: Writer,
  cond: WriteCondition = {},
  pin?: KeyPin,
  now = Date.now(),
): Promise<CompleteResult> {
  if (writer.bucket !== object.bucket)
    throw new Error(`completeUpload: a writer of ${writer.bucket} writing into ${object.bucket}`)
  if (usedParts.length === 0) return { ok: false, reason: 'invalid-part' }
  const condition = conditionSql(object.bucket, object.key, cond, db)
  if (condition === false) return { ok: false, reason: 'precondition' }
  // One JSON parameter, not one per part: 10,000 parts must not hit SQLite's variable or
  // expression-depth limits. Layouts are compared as the JSON text they were stored as.
  const wanted = usedParts.map((p) =>
    typeof p === 'number' ? { n: p } : { n: p.partNumber, l: JSON.stringify(p.layout) },
  )
  const wantedJson = JSON.stringify(wanted)
  const partsMatch = sql`(select count(*) from ${parts}, json_each(${wantedJson}) as w
    where ${parts.uploadId} = ${uploadId} and ${parts.partNumber} = json_extract(w.value, '$.n')
      and (json_extract(w.value, '$.l') is null or ${parts.layout} = json_extract(w.value, '$.l'))) = ${wanted.length}`
  const gone = notExists(uploadExists(db, uploadId))
  const partsLeft = exists(db.select({ one: sql`1` }).from(parts).where(eq(parts.uploadId, uploadId)))
  const live = keyVersionLive(db, pin)
  const completing = and(gone, partsLeft)!
  const unused = sql`${parts} where ${parts.uploadId} = ${uploadId} and ${gone}
    and ${parts.partNumber} not in (select json_extract(value, '$.n') from json_each(${wantedJson}))`
  const versionStatements = newVersionStatements(db, object, completing, now).length
  const results = await db.batch([
    writerState(db, writer),
    db.select().from(multipartUploads).where(eq(multipartUploads.uploadId, uploadId)),
    db
      .select({ one: sql`1` })
      .from(multipartUploads)
      .where(and(eq(multipartUploads.uploadId, uploadId), live)),
    db.select({ partNumber: parts.partNumber, layout: parts.layout }).from(parts).where(eq(parts.uploadId, uploadId)),
    db
      .delete(multipartUploads)
      .where(
        and(
          eq(multipartUploads.uploadId, uploadId),
          eq(multipartUploads.bucket, object.bucket),
          eq(multipartUploads.key, object.key),
          writerAllowed(db, writer),
          partsMatch,
          live,
          condition,
        ),
      ),
    // The new version, under the completion's own gate (which these statements do not change).
    ...newVersionStatements(db, object, completing, now),
    enqueueGcFrom(db, parts.layout, unused, GC_REASON_PART_UNUSED, now),
    db.delete(parts).where(and(eq(parts.uploadId, uploadId), gone)),
  ])
  const [state, upload, keyLive, allParts, gate] = results
  const written = results[5 + versionStatements - 1]
  if (affected(gate) === 1) {
    if (affected(written) !== 1) throw new Error(`completeUpload ${uploadId}: the object write did not follow its gate`)
    return { ok: true }
  }
  // First: a deleted bucket took its uploads with it, and NoSuchBucket says why.
  const refused = refusalOf(state, writer)
  if (refused) return { ok: false, reason: refused }
  const u = upload[0]
  if (!u || u.bucket !== object.bucket || u.key !== object.key) return { ok: false, reason: 'missing' }
  const stored = new Map(allParts.map((p) => [p.partNumber, JSON.stringify(p.layout)]))
  const intact = wanted.every((w) => stored.has(w.n) && (w.l === undefined || stored.get(w.n) === w.l))
  if (!intact) return { ok: false, reason: 'invalid-part' }
  return { ok: false, reason: keyLive.length === 0 ? 'key-version' : 'precondition' }
}

/**
 * Deletes the upload and its parts, queuing the parts' data for GC in the same transaction;
 * false if the upload was gone.
 */
export async function abortUpload(db: Db, uploadId: string, now = Date.now()): Promise<boolean> {
  const [gc, removeParts, removeUpload] = abortUploadStatements(db, uploadId, now)
  const [, , gone] = await db.batch([gc, removeParts, removeUpload])
  return affected(gone) === 1
}

/** The statements of abortUpload; the last one's affected count is 1 when the upload went. */
export function abortUploadStatements(db: Db, uploadId: string, now: number) {
  const upload = exists(uploadExists(db, uploadId))
  return [
    enqueueGcFrom(
      db,
      parts.layout,
      sql`${parts} where ${parts.uploadId} = ${uploadId} and ${upload}`,
      GC_REASON_ABORTED,
      now,
    ),
    db.delete(parts).where(and(eq(parts.uploadId, uploadId), upload)),
    db.delete(multipartUploads).where(eq(multipartUploads.uploadId, uploadId)),
  ] as const
}
