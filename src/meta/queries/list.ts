/**
 * ListObjects (V1 and V2) and ListMultipartUploads: one page by index seeks, so a page costs the
 * same in a bucket of ten keys or ten million. Uses the schema and ./seek.ts.
 */
import { and, asc, eq, gt, gte, lt, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { type ListedObject, listedObject, type ObjectRow, objectRow, type UploadRow, uploadRow } from '../rows.ts'
import { multipartUploads, objects } from '../schema.ts'
import { markerBoundsStart, seekPage, successor, type SeekFrom } from './seek.ts'

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

const LISTED_COLUMNS = {
  key: objects.key,
  size: objects.size,
  etag: objects.etag,
  lastModified: objects.lastModified,
  checksum: objects.checksum,
}

export async function listObjects(db: Db, input: ListObjectsInput): Promise<ListObjectsResult> {
  const { bucket, prefix } = input
  const delimiter = input.delimiter || undefined
  const upper = successor(prefix)
  const fetch = (from: SeekFrom<ListedObject>, limit: number): Promise<ListedObject[]> => {
    const where: (SQL | undefined)[] = [
      eq(objects.bucket, bucket),
      // Current versions that are not delete markers, literally as objects_current_idx is
      // declared, so the page is a seek on that partial index whatever the older versions.
      sql`${objects.latest} = 1 and ${objects.deleteMarker} = 0`,
      upper === undefined ? undefined : lt(objects.key, upper),
    ]
    if ('after' in from) where.push(gt(objects.key, from.after.key))
    else if ('atOrAfter' in from) where.push(gte(objects.key, from.atOrAfter))
    else if (input.startAfter !== undefined && markerBoundsStart(prefix, input.startAfter)) {
      where.push(gt(objects.key, input.startAfter))
    } else where.push(gte(objects.key, prefix))
    // Only the columns a listing shows: the rest of a row (layout, headers, metadata JSON) was
    // most of a page's cost to read and decode (docs/architecture.md §8).
    return db
      .select(LISTED_COLUMNS)
      .from(objects)
      .where(and(...where))
      .orderBy(asc(objects.key))
      .limit(limit)
      .then((rows) => rows.map((r) => listedObject(bucket, r)))
  }
  const page = await seekPage<ListedObject>(
    { prefix, delimiter, keyOf: (r) => r.key, marker: input.startAfter, fetch },
    input.maxKeys,
  )
  const last = page.last
  return {
    objects: page.rows,
    commonPrefixes: page.commonPrefixes,
    isTruncated: page.isTruncated,
    ...(last ? { nextMarker: 'row' in last ? last.row.key : last.commonPrefix } : {}),
  }
}

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

export interface ListVersionsResult {
  /** Versions and delete markers, by key, each key's newest first. */
  versions: ObjectRow[]
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
 * version of keyMarker (its place in the order is unknown).
 */
export async function listVersions(db: Db, input: ListVersionsInput): Promise<ListVersionsResult | 'bad-marker'> {
  const { bucket, prefix } = input
  const delimiter = input.delimiter || undefined
  const upper = successor(prefix)
  const o = objects
  const after = (key: string, ord: number): SQL => sql`(${o.key}, ${o.ord}) > (${key}, ${ord})`
  // One lower bound for the first fetch: the prefix, or the marker when it lies past the prefix
  // (a marker before the prefix: every version under the prefix comes after it).
  let start: SQL = gte(o.key, prefix)
  const km = input.keyMarker
  if (km !== undefined && input.versionIdMarker !== undefined) {
    const marker = await db
      .select({ ord: o.ord })
      .from(o)
      .where(and(eq(o.bucket, bucket), eq(o.key, km), eq(o.versionId, input.versionIdMarker)))
      .get()
    if (!marker) return 'bad-marker'
    if (markerBoundsStart(prefix, km)) start = after(km, marker.ord)
  } else if (km !== undefined && markerBoundsStart(prefix, km)) {
    start = gt(o.key, km)
  }
  const fetch = (from: SeekFrom<ObjectRow>, limit: number): Promise<ObjectRow[]> => {
    const where: (SQL | undefined)[] = [eq(o.bucket, bucket), upper === undefined ? undefined : lt(o.key, upper)]
    if ('after' in from) where.push(after(from.after.key, from.after.ord))
    else if ('atOrAfter' in from) where.push(gte(o.key, from.atOrAfter))
    else where.push(start)
    return db
      .select()
      .from(o)
      .where(and(...where))
      .orderBy(asc(o.key), asc(o.ord))
      .limit(limit)
      .then((rows) => rows.map(objectRow))
  }
  // A key marker that is a common prefix came from a previous page that ended on it.
  const marker = input.versionIdMarker !== undefined ? undefined : km
  const page = await seekPage<ObjectRow>({ prefix, delimiter, keyOf: (r) => r.key, marker, fetch }, input.maxKeys)
  const last = page.last
  return {
    versions: page.rows,
    commonPrefixes: page.commonPrefixes,
    isTruncated: page.isTruncated,
    ...(last && 'row' in last ? { nextKeyMarker: last.row.key, nextVersionIdMarker: last.row.versionId } : {}),
    ...(last && 'commonPrefix' in last ? { nextKeyMarker: last.commonPrefix } : {}),
  }
}
