/**
 * Object versions, many rows per (bucket, key) (docs/architecture.md §4, versions): the current
 * version, a version by id, conditional commit of a new version (If-None-Match / If-Match decided
 * inside the write transaction), permanent deletion of one version. Every change that drops a
 * row's data queues that data for GC in the same transaction; a change that only makes a version
 * non-current queues nothing. Uses the schema via drizzle.
 */
import { and, eq, exists, getTableColumns, inArray, notExists, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { assertStorableKey } from '../errors.ts'
import { objectRow, type ObjectRow, type TagRow } from '../rows.ts'
import { commitTokens, inlineData, namespaces, objects, writeIntents } from '../schema.ts'
import { affected, rowWhere } from '../tx.ts'
import { preparedPer } from '../prepared.ts'
import { type KeyPin, keyVersionLive } from './keys.ts'
import { enqueueGcFrom } from './gc.ts'
import { type InlineBytes, insertInlineStatement } from './inline.ts'
import { type Refusal, type Writer, writerAllowed, writerState, refusalOf } from './writer.ts'

export type { ObjectRow }

/** Conditional-write headers as S3 accepts them on PutObject and CompleteMultipartUpload. */
export interface WriteCondition {
  /** `*`: fail if the key has a current object; an ETag list: fail if the current ETag is in it. */
  ifNoneMatch?: string
  /** An ETag list as sent (quotes optional, `*` = any): fail unless the current ETag is in it. */
  ifMatch?: string
  /** Fail unless the key's current version (marker or not) is still this row (see RowIdentity). */
  current?: RowIdentity
}

/**
 * A row as it was read: its `ord` and last-modified time. `ord` alone does not name a row: an
 * overwrite of a key's only ('null') version deletes it and inserts the new row at the same `ord`.
 */
export interface RowIdentity {
  ord: number
  lastModified: Date
}

const isRow = (r: RowIdentity): SQL => and(eq(objects.ord, r.ord), eq(objects.lastModified, r.lastModified))!

export type CommitResult = { ok: true } | { ok: false; reason: 'precondition' | 'key-version' | Refusal }

/** Reasons recorded in gc_queue for data whose row went. */
export const GC_REASON_OVERWRITTEN = 'overwritten'
export const GC_REASON_DELETED = 'deleted'

/** S3's version id of what was written while a bucket was unversioned or suspended. */
export const NULL_VERSION = 'null'

/**
 * A fresh version id: opaque to clients, unique, and time-ordered (48-bit milliseconds, then 80
 * random bits, as 32 lowercase hex digits) so ids sort roughly by age when humans look at them.
 * Which version is newest is decided by `ord` in the commit, never by the id.
 */
export function newVersionId(now = Date.now()): string {
  const random = Array.from(crypto.getRandomValues(new Uint8Array(10)), (b) => b.toString(16).padStart(2, '0'))
  return now.toString(16).padStart(12, '0').slice(-12) + random.join('')
}

export const at = (bucket: string, key: string): SQL => and(eq(objects.bucket, bucket), eq(objects.key, key))!

/** The current version of a key (literal `latest = 1` so SQLite picks the partial index). */
export const latestAt = (bucket: string, key: string): SQL => and(at(bucket, key), sql`${objects.latest} = 1`)!

/** The current version of a key when it is an object, not a delete marker. */
export const currentAt = (bucket: string, key: string): SQL =>
  and(at(bucket, key), sql`${objects.latest} = 1 and ${objects.deleteMarker} = 0`)!

/** Rows of `where` that hold data (delete markers hold none), as the FROM clause of enqueueGcFrom. */
export const withData = (where: SQL | undefined): SQL =>
  sql`${objects} where ${and(where, sql`${objects.layout} is not null`)}`

/** The key's current version, which may be a delete marker; undefined when the key has none. */
const latestQuery = preparedPer((db) =>
  db
    .select()
    .from(objects)
    .where(
      // latestAt, with placeholders
      and(
        eq(objects.bucket, sql.placeholder('bucket')),
        eq(objects.key, sql.placeholder('key')),
        sql`${objects.latest} = 1`,
      ),
    )
    .prepare(),
)

export async function getObject(db: Db, bucket: string, key: string): Promise<ObjectRow | undefined> {
  const raw = await latestQuery(db).get({ bucket, key })
  return raw && objectRow(raw)
}

const versionQuery = preparedPer((db) =>
  db
    .select()
    .from(objects)
    .where(
      and(
        eq(objects.bucket, sql.placeholder('bucket')),
        eq(objects.key, sql.placeholder('key')),
        eq(objects.versionId, sql.placeholder('versionId')),
      ),
    )
    .prepare(),
)

/** One version of a key by its id ('null' included); undefined when there is no such version. */
export async function getVersion(
  db: Db,
  bucket: string,
  key: string,
  versionId: string,
): Promise<ObjectRow | undefined> {
  const raw = await versionQuery(db).get({ bucket, key, versionId })
  return raw && objectRow(raw)
}

/** A row with the stored bytes of its first inline segment, read by the same statement. */
export interface RowWithInline {
  row: ObjectRow
  /** The `inline_data` row the layout names first, when it names one and it exists. */
  inline?: InlineBytes
}

/**
 * Where StoredData (docs/formats.md, `objects.layout`) names the `inline_data` id of its first
 * segment. Only a hint for the join: the caller checks the id it gets back against the layout it
 * parsed, and reads any other inline segment separately, so a layout of another shape costs one
 * more statement, never wrong bytes.
 */
const FIRST_INLINE_ID = '$.segments[0].inline.id'

const withInlineQuery = (db: Db, where: SQL) =>
  db
    .select({ ...getTableColumns(objects), inlineId: inlineData.id, inlineBytes: inlineData.data })
    .from(objects)
    .leftJoin(inlineData, sql`${inlineData.id} = json_extract(${objects.layout}, ${FIRST_INLINE_ID})`)
    .where(where)
    .prepare()

const latestWithInlineQuery = preparedPer((db) =>
  withInlineQuery(
    db,
    and(
      eq(objects.bucket, sql.placeholder('bucket')),
      eq(objects.key, sql.placeholder('key')),
      sql`${objects.latest} = 1`,
    )!,
  ),
)

const versionWithInlineQuery = preparedPer((db) =>
  withInlineQuery(
    db,
    and(
      eq(objects.bucket, sql.placeholder('bucket')),
      eq(objects.key, sql.placeholder('key')),
      eq(objects.versionId, sql.placeholder('versionId')),
    )!,
  ),
)

/**
 * getObject or getVersion (by `versionId`) together with the bytes of a small object kept in
 * the metadata: a GET of an inline object in one statement instead of two (row, then bytes).
 */
export async function getWithInline(
  db: Db,
  bucket: string,
  key: string,
  versionId?: string,
): Promise<RowWithInline | undefined> {
  const raw =
    versionId === undefined
      ? await latestWithInlineQuery(db).get({ bucket, key })
      : await versionWithInlineQuery(db).get({ bucket, key, versionId })
  if (!raw) return undefined
  const { inlineId, inlineBytes, ...rest } = raw
  const row = objectRow(rest)
  return inlineId !== null && inlineBytes !== null ? { row, inline: { id: inlineId, data: inlineBytes } } : { row }
}

/** The version a multipart upload was completed into, while it exists (a retried completion). */
export async function getCompleted(
  db: Db,
  bucket: string,
  key: string,
  uploadId: string,
): Promise<ObjectRow | undefined> {
  const raw = await db
    .select()
    .from(objects)
    .where(and(at(bucket, key), eq(objects.uploadId, uploadId)))
    .get()
  return raw && objectRow(raw)
}

/** Quoted ETags from an If-Match value; undefined means `*` (any existing object). */
export function parseEtagList(header: string): string[] | undefined {
  const tags = header.split(',').map((t) => t.trim().replace(/^W\//, '').replace(/^"|"$/g, ''))
  return tags.includes('*') ? undefined : tags.filter((t) => t !== '').map((t) => `"${t}"`)
}

/** The condition as SQL over the current object of (bucket, key); undefined = always true. */
export function conditionSql(bucket: string, key: string, cond: WriteCondition, db: Db): SQL | undefined | false {
  const current = () => db.select({ one: sql`1` }).from(objects)
  const parts: SQL[] = []
  if (cond.ifNoneMatch !== undefined) {
    const tags = parseEtagList(cond.ifNoneMatch)
    // `*`: no current object; ETags: no current object with one of them.
    parts.push(
      notExists(
        current().where(
          and(currentAt(bucket, key), tags ? inArray(objects.etag, tags.length ? tags : ['']) : undefined),
        ),
      ),
    )
  }
  if (cond.ifMatch !== undefined) {
    const tags = parseEtagList(cond.ifMatch)
    if (tags && tags.length === 0) return false
    parts.push(exists(current().where(and(currentAt(bucket, key), tags ? inArray(objects.etag, tags) : undefined))))
  }
  if (cond.current !== undefined) parts.push(exists(current().where(and(latestAt(bucket, key), isRow(cond.current)))))
  return parts.length === 0 ? undefined : and(...parts)
}

/**
 * The statements that make `row` the newest version of its key, every one under `gate` — which
 * they must not change (a token, or the gate of an earlier statement of the same batch). A row
 * with version id 'null' replaces the key's 'null' version, whose data is queued for GC before its
 * row goes; any other version id leaves every older version (and its data) in place. The new
 * row's `ord` is computed in the transaction: the key's smallest minus one.
 */
export function newVersionStatements(db: Db, row: ObjectRow, gate: SQL, now = Date.now()) {
  const key = at(row.bucket, row.key)
  const nextOrd = sql`(select coalesce(min(o.ord), 0) - 1 from ${objects} o where o.bucket = ${row.bucket} and o."key" = ${row.key})`
  const insert = db
    .insert(objects)
    .select(
      rowWhere(objects, { ...row, tags: row.tags ?? null, acl: row.acl ?? null, latest: true }, gate, { ord: nextOrd }),
    )
  const demote = db
    .update(objects)
    .set({ latest: false })
    .where(and(latestAt(row.bucket, row.key), gate))
  if (row.versionId !== NULL_VERSION) return [demote, insert] as const
  const nullVersion = and(key, eq(objects.versionId, NULL_VERSION), gate)
  return [
    enqueueGcFrom(db, objects.layout, withData(nullVersion), GC_REASON_OVERWRITTEN, now),
    db.delete(objects).where(nullVersion),
    demote,
    insert,
  ] as const
}

/** A proof token for one batch: see `commitTokens` in the schema. */
function token(db: Db) {
  const id = crypto.randomUUID()
  return {
    claim: (gate: SQL) => db.insert(commitTokens).select(sql`select ${id} where ${gate}`),
    held: exists(db.select({ one: sql`1` }).from(commitTokens).where(eq(commitTokens.id, id))),
    release: () => db.delete(commitTokens).where(eq(commitTokens.id, id)),
  }
}

/**
 * Makes `row` (an object or a delete marker) the current version of its key in ONE transaction:
 * the writer must still be allowed into the very bucket it was admitted to (./writer.ts; a bucket
 * deleted and re-created under the same name is another bucket), the namespace key version the
 * row's object key is wrapped under (`pin`) must still exist, and the condition is checked
 * against the current version as it is at commit time. A 'null' row replaces the 'null' version
 * and queues its data for GC in the same transaction; another id keeps every older version.
 * `settles`: write intents of the row's data, cleared by the same transaction when it commits
 * (kept when it does not: the data is then still the caller's, or orphan collection's, to remove)
 * — one commit, and one WAL sync, fewer per PUT than clearing them afterwards.
 * `inline`: the bytes of a small object the row's layout names (./inline.ts), stored by the same
 * transaction, so the commit is the object's one durability point.
 */
export async function commitObject(
  db: Db,
  row: ObjectRow,
  writer: Writer,
  cond: WriteCondition = {},
  pin?: KeyPin,
  now = Date.now(),
  settles: readonly string[] = [],
  inline?: InlineBytes,
): Promise<CommitResult> {
  const condition = conditionSql(row.bucket, row.key, cond, db)
  if (condition === false) return { ok: false, reason: 'precondition' }
  const live = keyVersionLive(db, pin)
  const [state, keyLive, claimed] = await db.batch([
    writerState(db, writer),
    // Holds a row while the key version lives (the pinned namespace's row exists then).
    db.select({ one: sql`1` }).from(namespaces).where(live).limit(1),
    ...gatedCommitStatements(db, row, writer, and(live, condition), now, settles, inline),
  ])
  if (affected(claimed) === 1) return { ok: true }
  const refusal = refusalOf(state, writer)
  if (refusal) return { ok: false, reason: refusal }
  return { ok: false, reason: keyLive.length === 0 && pin ? 'key-version' : 'precondition' }
}

/**
 * The statements of commitObject without its reads, for a caller that joins many commits in one
 * batch (the lifecycle worker's round): the first claims the gate (affected 1 = committed), the
 * rest run under it. `gate` is the condition besides the writer's (SQL; undefined = none).
 */
export function gatedCommitStatements(
  db: Db,
  row: ObjectRow,
  writer: Writer,
  gate: SQL | undefined,
  now = Date.now(),
  settles: readonly string[] = [],
  inline?: InlineBytes,
) {
  assertStorableKey(row.key)
  if (writer.bucket !== row.bucket)
    throw new Error(`commitObject: a writer of ${writer.bucket} writing into ${row.bucket}`)
  // The gate is decided once, by the token's insert: the statements after it change the very
  // rows the condition reads (the current version), so they are gated on the token instead.
  const t = token(db)
  return [
    t.claim(and(writerAllowed(db, writer), gate)!),
    ...newVersionStatements(db, row, t.held, now),
    ...(inline ? [insertInlineStatement(db, inline, t.held)] : []),
    // Write intents the commit settles go with it, and only if it lands (see commitObject).
    ...(settles.length > 0 ? [db.delete(writeIntents).where(and(inArray(writeIntents.id, [...settles]), t.held))] : []),
    t.release(),
  ] as const
}

export type DeleteResult = 'deleted' | 'missing' | Refusal

/** The version's lock column is exactly `lock` (JSON as stored; null = none). */
const lockIs = (lock: unknown): SQL =>
  lock === null || lock === undefined ? sql`${objects.lock} is null` : sql`${objects.lock} = ${JSON.stringify(lock)}`

/**
 * Replaces one version's Object Lock (retention, legal hold) only if it is still `expected` as
 * read: a concurrent change wins, and the caller judges again. False when it changed or is gone.
 */
export async function setVersionLock(
  db: Db,
  bucket: string,
  key: string,
  versionId: string,
  expected: unknown,
  next: unknown,
): Promise<boolean> {
  const res = await db
    .update(objects)
    .set({ lock: next })
    .where(and(at(bucket, key), eq(objects.versionId, versionId), lockIs(expected)))
  return affected(res) === 1
}

/**
 * Replaces one version's tag set (null clears it), as `writer` (gated like a commit, so a bucket
 * deleted and re-created under the name is not touched). A delete marker has no tags. The
 * outcome: 'set', 'missing' (no such version, or a marker), or the writer's refusal.
 */
export async function setVersionTags(
  db: Db,
  writer: Writer,
  key: string,
  versionId: string,
  tags: TagRow[] | null,
): Promise<'set' | 'missing' | Refusal> {
  const [state, res] = await db.batch([
    writerState(db, writer),
    db
      .update(objects)
      .set({ tags })
      .where(
        and(
          at(writer.bucket, key),
          eq(objects.versionId, versionId),
          sql`${objects.deleteMarker} = 0`,
          writerAllowed(db, writer),
        ),
      ),
  ])
  if (affected(res) === 1) return 'set'
  return refusalOf(state, writer) ?? 'missing'
}

/** After the current version went: the newest version left (if any) becomes current. */
function promoteNewest(db: Db, bucket: string, key: string) {
  return db
    .update(objects)
    .set({ latest: true })
    .where(
      and(
        at(bucket, key),
        sql`${objects.ord} = (select min(o.ord) from ${objects} o where o.bucket = ${bucket} and o."key" = ${key})`,
        notExists(db.select({ one: sql`1` }).from(objects).where(latestAt(bucket, key))),
      ),
    )
}

export interface VersionDeleted {
  result: DeleteResult
  /** The version removed was a delete marker. */
  deleteMarker?: boolean
}

/**
 * Removes one version for good and queues its data for GC in ONE transaction (the data stays
 * until the grace period ends, so readers streaming it finish); if it was current, the newest
 * version left becomes current (removing a delete marker "undeletes" the key). The writer is
 * checked as for a commit. 'missing' when the key has no such version.
 */
export async function deleteVersion(
  db: Db,
  writer: Writer,
  key: string,
  versionId: string,
  reason = GC_REASON_DELETED,
  now = Date.now(),
  /** When given: only while the version's Object Lock is still this (as read and judged). */
  expectLock?: { lock: unknown },
  /** When given: only while the version is still this row (a 'null' version replaced is another row). */
  expectRow?: RowIdentity,
): Promise<VersionDeleted> {
  const [removal, gc, remove, promote] = removeVersionStatements(db, writer, key, versionId, reason, now, {
    lock: expectLock,
    row: expectRow,
  })
  const [state, before, , removed] = await db.batch([writerState(db, writer), removal, gc, remove, promote])
  if (affected(removed) === 1) return { result: 'deleted', deleteMarker: before[0]?.deleteMarker === true }
  return { result: refusalOf(state, writer) ?? 'missing' }
}

/** Guards of a version's removal, each checked inside the transaction that removes it. */
export interface RemovalGuards {
  /** Only while the version's Object Lock is still this (as read and judged). */
  lock?: { lock: unknown }
  /** Only while the version is still this row (a 'null' version replaced is another row). */
  row?: RowIdentity
  /** Only while it is the key's only version (an expired object delete marker). */
  alone?: boolean
}

/**
 * The statements of deleteVersion: a read of the row removed (deleteMarker), its data queued for
 * GC, the removal (affected 1 = removed), and the promotion of the newest version left. A caller
 * may join many removals in one batch (the lifecycle worker's round): each is gated on its own row.
 */
export function removeVersionStatements(
  db: Db,
  writer: Writer,
  key: string,
  versionId: string,
  reason: string,
  now: number,
  guards: RemovalGuards = {},
) {
  const others = and(at(writer.bucket, key), sql`${objects.versionId} <> ${versionId}`)
  const target = and(
    at(writer.bucket, key),
    eq(objects.versionId, versionId),
    writerAllowed(db, writer),
    guards.lock ? lockIs(guards.lock.lock) : undefined,
    guards.row ? isRow(guards.row) : undefined,
    guards.alone ? notExists(db.select({ one: sql`1` }).from(objects).where(others)) : undefined,
  )
  return [
    db.select({ deleteMarker: objects.deleteMarker }).from(objects).where(target),
    enqueueGcFrom(db, objects.layout, withData(target), reason, now),
    db.delete(objects).where(target),
    promoteNewest(db, writer.bucket, key),
  ] as const
}

/**
 * Removes every version of a key (and queues all their data for GC) in ONE transaction: the
 * operator's namespace deletion. 'missing' when the key had none.
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
    enqueueGcFrom(db, objects.layout, withData(target), reason, now),
    db.delete(objects).where(target),
  ])
  if (affected(removed) >= 1) return 'deleted'
  return refusalOf(state, writer) ?? 'missing'
}

/**
 * Replaces one version's ACL (JSON text, or null for the owner's full control). False when the
 * version is gone.
 */
export async function setVersionAcl(
  db: Db,
  bucket: string,
  key: string,
  versionId: string,
  acl: string | null,
): Promise<boolean> {
  const res = await db
    .update(objects)
    .set({ acl })
    .where(and(at(bucket, key), eq(objects.versionId, versionId)))
  return affected(res) === 1
}
