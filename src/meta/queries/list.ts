/**
 * ListObjects (V1 and V2) and ListMultipartUploads: one page by index seeks, so a page costs the
 * same in a bucket of ten keys or ten million. Uses the schema and ./seek.ts.
 */
import { and, asc, eq, gt, gte, lt, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { type ListedObject, listedObject, type ObjectRow, type UploadRow, uploadRow } from '../rows.ts'
import { multipartUploads, objects } from '../schema.ts'
import { commonPrefixOf, compareCodePoints, markerBoundsStart, seekPage, successor, type SeekFrom } from './seek.ts'

export interface ListObjectsInput {
  bucket: string
  prefix: string
  delimiter?: string
  /** Exclusive: V1 `marker`, V2 `start-after` or the decoded continuation token. */
  startAfter?: string
  maxKeys: number
}

export interface ListObjectsResult {
  objects: ListedObject[]
  commonPrefixes: string[]
  isTruncated: boolean
  /** When truncated: the last key or common prefix of the page; pass it back as startAfter. */
  nextMarker?: string
}

/**
 * ListObjects (V1 and V2): one statement per page, whatever the delimiter, returning the whole
 * page as one JSON text.
 *
 * Without a delimiter the page is one range seek on objects_current_idx. With one, a recursive
 * CTE walks that index inside SQLite: each step is one seek to the first key past the previous
 * entry — past the whole common prefix when the previous key rolled up into one (`cp || x'ff'`:
 * no UTF-8 text starting with `cp` sorts after it, every other key after `cp` does) — so a page
 * of 1,000 common prefixes is 1,000 index seeks in one statement instead of 1,000 statements.
 * The rows come back aggregated by `json_group_array`: libSQL's row objects and drizzle's
 * mapping per row were most of a page's CPU, JSON.parse of one string is a fraction of it
 * (docs/architecture.md §8). Keys never hold a NUL (src/s3/object-keys.ts), so SQLite's
 * character functions (length, substr, instr: code points, like the prefix and delimiter they
 * are given) see whole keys.
 */
export async function listObjects(db: Db, input: ListObjectsInput): Promise<ListObjectsResult> {
  const { bucket, prefix, maxKeys } = input
  if (maxKeys <= 0) return { objects: [], commonPrefixes: [], isTruncated: false }
  const delimiter = input.delimiter || undefined
  const upper = successor(prefix)
  const marker = input.startAfter
  // One lower bound: the marker when it lies at or past the prefix (./seek.ts, markerBoundsStart),
  // past its whole common prefix when the marker is one (the previous page ended on it).
  const start =
    marker === undefined || !markerBoundsStart(prefix, marker)
      ? { op: '>=', value: prefix }
      : delimiter !== undefined && commonPrefixOf(marker, prefix, delimiter) === marker
        ? { op: '> cp', value: marker }
        : { op: '>', value: marker }
  const args: Record<string, string | number> = { bucket, start: start.value, limit: maxKeys + 1 }
  if (upper !== undefined) args.upper = upper
  const lower = start.op === '> cp' ? `key > :start || x'ff'` : `key ${start.op} :start`
  const below = upper === undefined ? '' : 'AND key < :upper'
  const current = 'bucket = :bucket AND latest = 1 AND delete_marker = 0'
  let text: string
  if (delimiter === undefined) {
    text = `SELECT json_group_array(json_array(0, key, NULL, size, etag, last_modified, json(checksum))) AS page FROM (
      SELECT key, size, etag, last_modified, checksum FROM objects
      WHERE ${current} AND ${lower} ${below} ORDER BY key LIMIT :limit)`
  } else {
    args.prefix = prefix
    args.delimiter = delimiter
    // The common prefix of `k` (NULL when the delimiter does not occur past the prefix).
    const at = (k: string) => `instr(substr(${k}, length(:prefix) + 1), :delimiter)`
    const cp = (k: string) =>
      `CASE WHEN ${at(k)} > 0 THEN substr(${k}, 1, length(:prefix) + ${at(k)} - 1 + length(:delimiter)) END`
    text = `SELECT json_group_array(json_array(w.n, w.key, w.cp, o.size, o.etag, o.last_modified, json(o.checksum))) AS page
      FROM (
        WITH RECURSIVE walk(n, key) AS (
          SELECT 0, (SELECT key FROM objects WHERE ${current} AND ${lower} ${below} ORDER BY key LIMIT 1)
          UNION ALL
          SELECT walk.n + 1, (
            SELECT key FROM objects WHERE ${current}
              AND key > coalesce(${cp('walk.key')} || x'ff', walk.key) ${below}
            ORDER BY key LIMIT 1)
          FROM walk WHERE walk.key IS NOT NULL AND walk.n + 1 < :limit
        )
        SELECT n, key, ${cp('key')} AS cp FROM walk WHERE key IS NOT NULL
      ) AS w
      LEFT JOIN objects AS o ON w.cp IS NULL AND o.bucket = :bucket AND o.key = w.key
        AND o.latest = 1 AND o.delete_marker = 0`
  }
  const rows = await db.all<{ page: string }>(withArgs(text, args))
  const entries = JSON.parse(rows[0]?.page ?? '[]') as PageEntry[]
  // An aggregate's input order is the subquery's in practice, but SQLite does not promise it.
  if (entries.some((e, i) => i > 0 && e[0] < entries[i - 1]![0])) entries.sort((a, b) => a[0] - b[0])
  if (delimiter === undefined && entries.some((e, i) => i > 0 && compareCodePoints(e[1], entries[i - 1]![1]) < 0))
    entries.sort((a, b) => compareCodePoints(a[1], b[1]))
  const objects: ListedObject[] = []
  const commonPrefixes: string[] = []
  const n = Math.min(entries.length, maxKeys)
  for (let i = 0; i < n; i++) {
    const [, key, cp, size, etag, lastModified, checksum] = entries[i]!
    if (cp !== null) commonPrefixes.push(cp)
    else
      objects.push(
        listedObject(bucket, {
          key,
          size: size as number,
          etag: etag as string,
          lastModified: new Date(lastModified as number),
          checksum,
        }),
      )
  }
  const isTruncated = entries.length > maxKeys
  const last = isTruncated ? entries[maxKeys - 1]! : undefined
  return { objects, commonPrefixes, isTruncated, ...(last ? { nextMarker: last[2] ?? last[1] } : {}) }
}

/** SQL text with `:name` placeholders → drizzle SQL with each occurrence bound to `args[name]`. */
function withArgs(text: string, args: Record<string, string | number>): SQL {
  const parts = text.split(/:([a-z]+)\b/)
  return sql.join(
    parts.map((part, i) => {
      if (i % 2 === 0) return sql.raw(part)
      if (!(part in args)) throw new Error(`no value for :${part}`)
      return sql`${args[part]}`
    }),
  )
}

/** One entry of a listing page as the statement returns it: a row (cp null) or a common prefix. */
type PageEntry = [
  n: number,
  key: string,
  cp: string | null,
  size: number | null,
  etag: string | null,
  lastModified: number | null,
  /** The column's JSON as is (`json(checksum)`): parsed with the page, not once per row. */
  checksum: unknown,
]

export interface ListUploadsInput {
  bucket: string
  prefix: string
  delimiter?: string
  /** Uploads of keys after this one; with uploadIdMarker, also later uploads of this very key. */
  keyMarker?: string
  uploadIdMarker?: string
  maxUploads: number
}

export interface ListUploadsResult {
  uploads: UploadRow[]
  commonPrefixes: string[]
  isTruncated: boolean
  /** When truncated: the last key (or common prefix) and upload id of the page. */
  nextKeyMarker?: string
  nextUploadIdMarker?: string
}

/**
 * Ordered by key, then upload id (S3 orders a key's uploads by initiation time; ours differ only
 * among uploads of one key). Uses the (bucket, key, upload_id) index like listObjects.
 */
export async function listUploads(db: Db, input: ListUploadsInput): Promise<ListUploadsResult> {
  const { bucket, prefix } = input
  const delimiter = input.delimiter || undefined
  const upper = successor(prefix)
  const u = multipartUploads
  const after = (key: string, id: string): SQL => sql`(${u.key}, ${u.uploadId}) > (${key}, ${id})`
  const fetch = (from: SeekFrom<UploadRow>, limit: number): Promise<UploadRow[]> => {
    const where: (SQL | undefined)[] = [eq(u.bucket, bucket), upper === undefined ? undefined : lt(u.key, upper)]
    if ('after' in from) where.push(after(from.after.key, from.after.uploadId))
    else if ('atOrAfter' in from) where.push(gte(u.key, from.atOrAfter))
    else {
      const km = input.keyMarker
      if (km !== undefined && markerBoundsStart(prefix, km)) {
        where.push(input.uploadIdMarker ? after(km, input.uploadIdMarker) : gt(u.key, km))
      } else where.push(gte(u.key, prefix))
    }
    return db
      .select()
      .from(u)
      .where(and(...where))
      .orderBy(asc(u.key), asc(u.uploadId))
      .limit(limit)
      .then((rows) => rows.map(uploadRow))
  }
  // A key marker that is a common prefix came from a previous page that ended on it.
  const marker = input.uploadIdMarker ? undefined : input.keyMarker
  const page = await seekPage<UploadRow>({ prefix, delimiter, keyOf: (r) => r.key, marker, fetch }, input.maxUploads)
  const last = page.last
  return {
    uploads: page.rows,
    commonPrefixes: page.commonPrefixes,
    isTruncated: page.isTruncated,
    ...(last && 'row' in last ? { nextKeyMarker: last.row.key, nextUploadIdMarker: last.row.uploadId } : {}),
    ...(last && 'commonPrefix' in last ? { nextKeyMarker: last.commonPrefix } : {}),
  }
}

export interface ListVersionsInput {
  bucket: string
  prefix: string
  delimiter?: string
  /** Versions of keys after this one; with versionIdMarker, also older versions of this very key. */
  keyMarker?: string
  versionIdMarker?: string
  maxKeys: number
}

/** A version as ListObjectVersions shows it: only the columns the page reports. */
export type ListedVersion = ListedObject & Pick<ObjectRow, 'versionId' | 'latest' | 'deleteMarker'>

export interface ListVersionsResult {
  /** Versions and delete markers, by key, each key's newest first. */
  versions: ListedVersion[]
  commonPrefixes: string[]
  isTruncated: boolean
  /** When truncated: the last key (or common prefix) and version id of the page. */
  nextKeyMarker?: string
  nextVersionIdMarker?: string
}

/**
 * ListObjectVersions: one page by seeks on the objects primary key (bucket, key, ord), whose
 * order is S3's (key ascending, each key's versions newest first), so a page costs the same
 * with a hundred versions in the bucket or a million. 'bad-marker' when versionIdMarker names no
 * version of keyMarker (its place in the order is unknown). One statement per page, built like
 * listObjects': a range seek without a delimiter, a walk of seeks with one (each step one seek
 * to the first (key, ord) past the previous entry — past its whole common prefix when it rolled
 * up into one), the page returned as one JSON text.
 */
export async function listVersions(db: Db, input: ListVersionsInput): Promise<ListVersionsResult | 'bad-marker'> {
  const { bucket, prefix, maxKeys } = input
  const delimiter = input.delimiter || undefined
  const upper = successor(prefix)
  const o = objects
  const km = input.keyMarker
  // One lower bound for the first step: the prefix, or the marker when it lies past the prefix
  // (a marker before the prefix: every version under the prefix comes after it).
  let lower = 'key >= :start'
  const args: Record<string, string | number> = { bucket, start: prefix, limit: maxKeys + 1 }
  if (km !== undefined && input.versionIdMarker !== undefined) {
    const marker = await db
      .select({ ord: o.ord })
      .from(o)
      .where(and(eq(o.bucket, bucket), eq(o.key, km), eq(o.versionId, input.versionIdMarker)))
      .get()
    if (!marker) return 'bad-marker'
    if (markerBoundsStart(prefix, km)) {
      lower = '(key, ord) > (:start, :ord)'
      args.start = km
      args.ord = marker.ord
    }
  } else if (km !== undefined && markerBoundsStart(prefix, km)) {
    // A key marker that is a common prefix came from a previous page that ended on it.
    lower =
      delimiter !== undefined && commonPrefixOf(km, prefix, delimiter) === km ? `key > :start || x'ff'` : 'key > :start'
    args.start = km
  }
  if (maxKeys <= 0) return { versions: [], commonPrefixes: [], isTruncated: false }
  if (upper !== undefined) args.upper = upper
  const below = upper === undefined ? '' : 'AND key < :upper'
  const columns = (t: string) =>
    `${t}.key, ${t}.version_id, ${t}.latest, ${t}.delete_marker, ${t}.size, ${t}.etag, ${t}.last_modified, ${t}.checksum, ${t}.ord`
  // The page's JSON carries the checksum column as JSON (`json()`), so one JSON.parse reads it.
  const shown = (t: string) => columns(t).replace(`${t}.checksum`, `json(${t}.checksum)`)
  let text: string
  if (delimiter === undefined) {
    text = `SELECT json_group_array(json_array(0, NULL, ${shown('v')})) AS page FROM (
      SELECT ${columns('objects')} FROM objects
      WHERE bucket = :bucket AND ${lower} ${below} ORDER BY key, ord LIMIT :limit) AS v`
  } else {
    args.prefix = prefix
    args.delimiter = delimiter
    const at = (k: string) => `instr(substr(${k}, length(:prefix) + 1), :delimiter)`
    const cp = (k: string) =>
      `CASE WHEN ${at(k)} > 0 THEN substr(${k}, 1, length(:prefix) + ${at(k)} - 1 + length(:delimiter)) END`
    // A scalar subquery yields one value, so each step seeks twice (key, then ord) from the
    // walk's own columns: with a joined row instead, SQLite seeks on key alone and filters ord
    // row by row. Past a common prefix the bound (cp || x'ff', ord) is above every key under cp
    // whatever the ord, as no key equals it. The anchor's ord is `+(…)`: a column carrying
    // INTEGER affinity into the walk made SQLite seek on key alone there too.
    const next = (col: string) => `(
            SELECT o.${col} FROM objects AS o WHERE o.bucket = :bucket
              AND (o.key, o.ord) > (coalesce(${cp('walk.key')} || x'ff', walk.key), walk.ord) ${below.replace('key', 'o.key')}
            ORDER BY o.key, o.ord LIMIT 1)`
    const first = (col: string) =>
      `(SELECT ${col} FROM objects WHERE bucket = :bucket AND ${lower} ${below} ORDER BY key, ord LIMIT 1)`
    text = `SELECT json_group_array(json_array(w.n, ${cp('v.key')}, ${shown('v')})) AS page
      FROM (
        WITH RECURSIVE walk(n, key, ord) AS (
          SELECT 0, ${first('key')}, +${first('ord')}
          UNION ALL
          SELECT walk.n + 1, ${next('key')}, ${next('ord')}
          FROM walk WHERE walk.key IS NOT NULL AND walk.n + 1 < :limit
        )
        SELECT n, key, ord FROM walk WHERE key IS NOT NULL
      ) AS w
      CROSS JOIN objects AS v ON v.bucket = :bucket AND v.key = w.key AND v.ord = w.ord`
  }
  const rows = await db.all<{ page: string }>(withArgs(text, args))
  const entries = JSON.parse(rows[0]?.page ?? '[]') as VersionEntry[]
  const before = (a: VersionEntry, b: VersionEntry) =>
    a[0] - b[0] || compareCodePoints(a[2], b[2]) || (a[10] as number) - (b[10] as number)
  // An aggregate's input order is the subquery's in practice, but SQLite does not promise it.
  if (entries.some((e, i) => i > 0 && before(entries[i - 1]!, e) > 0)) entries.sort(before)
  const versions: ListedVersion[] = []
  const commonPrefixes: string[] = []
  const n = Math.min(entries.length, maxKeys)
  for (let i = 0; i < n; i++) {
    const [, cp, key, versionId, latest, deleteMarker, size, etag, lastModified, checksum] = entries[i]!
    if (cp !== null) commonPrefixes.push(cp)
    else
      versions.push(
        listedObject(bucket, {
          key,
          size,
          etag,
          lastModified: new Date(lastModified),
          checksum,
          versionId,
          latest: latest === 1,
          deleteMarker: deleteMarker === 1,
        }),
      )
  }
  const isTruncated = entries.length > maxKeys
  const last = isTruncated ? entries[maxKeys - 1]! : undefined
  return {
    versions,
    commonPrefixes,
    isTruncated,
    ...(last && last[1] === null ? { nextKeyMarker: last[2], nextVersionIdMarker: last[3] } : {}),
    ...(last && last[1] !== null ? { nextKeyMarker: last[1] } : {}),
  }
}

/** One entry of a versions page as the statement returns it: a row (cp null) or a common prefix. */
type VersionEntry = [
  n: number,
  cp: string | null,
  key: string,
  versionId: string,
  latest: number,
  deleteMarker: number,
  size: number,
  etag: string,
  lastModified: number,
  /** The column's JSON as is (`json(checksum)`), as in PageEntry. */
  checksum: unknown,
  ord: number,
]
