/**
 * The rows the queries return, with their JSON columns checked once here as they leave SQLite:
 * checksums, part lists, stored headers and user metadata have the shapes below, or reading the
 * row throws CorruptRowError. `layout`, `encryption` and `crypto` stay opaque (the service's).
 */
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from '../util/checksum-algorithms.ts'
import { describeValue, isCount, isRecord, isStringMap } from '../util/shape.ts'
import { CorruptRowError } from './errors.ts'
import type { multipartUploads, objects, parts } from './schema.ts'

/** A whole-object or per-part checksum as S3 reports it (value is base64, `-N` for composites). */
export interface ChecksumInfo {
  algorithm: ChecksumAlgorithm
  type: ChecksumType
  value: string
  partCount?: number
}

export type ChecksumType = 'FULL_OBJECT' | 'COMPOSITE'

/** One part of a completed multipart object, so GetObject?partNumber=N and ranges can map. */
export interface ObjectPart {
  partNumber: number
  size: number
  etag: string
  checksum?: ChecksumInfo
}

/** System headers stored with an object, by lower-case name (cache-control, expires, …). */
export type StoredHeaders = Record<string, string>

/** One tag of an object version, an upload or a bucket (S3 tagging), as stored. */
export interface TagRow {
  key: string
  value: string
}

type Checked = 'headers' | 'userMeta' | 'checksum' | 'parts' | 'checksumAlgorithm' | 'checksumType' | 'tags'

export type ObjectRow = Omit<typeof objects.$inferSelect, Checked | 'acl'> & {
  /** The version's ACL (JSON text, service/acl.ts); absent or null: the bucket owner's full control. */
  acl?: string | null
  headers: StoredHeaders
  /** x-amz-meta-* without the prefix, lower-case names. */
  userMeta: Record<string, string>
  checksum: ChecksumInfo | null
  /** Null for single-PUT objects. */
  parts: ObjectPart[] | null
  /** The version's tag set; null (or absent: a writer that sets none) when none. */
  tags?: TagRow[] | null
}

export type UploadRow = Omit<typeof multipartUploads.$inferSelect, Checked | 'acl'> & {
  /** The ACL asked for at creation (as ObjectRow.acl). */
  acl?: string | null
  headers: StoredHeaders
  userMeta: Record<string, string>
  checksumAlgorithm: ChecksumAlgorithm | null
  checksumType: ChecksumType | null
  tags?: TagRow[] | null
}

export type PartRow = Omit<typeof parts.$inferSelect, Checked> & { checksum: ChecksumInfo | null }

const isAlgorithm = (v: unknown): v is ChecksumAlgorithm => CHECKSUM_ALGORITHMS.some((a) => a === v)
const isChecksumType = (v: unknown): v is ChecksumType => v === 'FULL_OBJECT' || v === 'COMPOSITE'

function isChecksum(v: unknown): v is ChecksumInfo {
  return (
    isRecord(v) &&
    isAlgorithm(v.algorithm) &&
    isChecksumType(v.type) &&
    typeof v.value === 'string' &&
    (v.partCount === undefined || isCount(v.partCount))
  )
}

function isPart(v: unknown): v is ObjectPart {
  return (
    isRecord(v) &&
    isCount(v.partNumber) &&
    isCount(v.size) &&
    typeof v.etag === 'string' &&
    (v.checksum === undefined || isChecksum(v.checksum))
  )
}

/** Checks one column of a row; `what` names the row in the error (never its secrets). */
function check<T>(value: unknown, ok: (v: unknown) => v is T, what: string, column: string): T {
  if (ok(value)) return value
  throw new CorruptRowError(`${what}: column ${column} holds ${describeValue(value)}, which is not a valid ${column}`)
}

const orNull =
  <T>(ok: (v: unknown) => v is T) =>
  (v: unknown): v is T | null =>
    v === null || ok(v)
const isPartList = (v: unknown): v is ObjectPart[] => Array.isArray(v) && v.every(isPart)
const isTag = (v: unknown): v is TagRow => isRecord(v) && typeof v.key === 'string' && typeof v.value === 'string'
export const isTagList = (v: unknown): v is TagRow[] => Array.isArray(v) && v.every(isTag)

export function objectRow(raw: typeof objects.$inferSelect): ObjectRow {
  const what = `object ${JSON.stringify(raw.bucket)}/${JSON.stringify(raw.key)}`
  return {
    ...raw,
    headers: check(raw.headers, isStringMap, what, 'headers'),
    userMeta: check(raw.userMeta, isStringMap, what, 'user_meta'),
    checksum: check(raw.checksum, orNull(isChecksum), what, 'checksum'),
    parts: check(raw.parts, orNull(isPartList), what, 'parts'),
    tags: check(raw.tags ?? null, orNull(isTagList), what, 'tags'),
  }
}

/**
 * An object as a listing page shows it: the five columns ListObjects reports, and nothing else,
 * so a page of 1,000 keys neither reads nor parses the layout, headers and metadata of each.
 */
export type ListedObject = Pick<ObjectRow, 'key' | 'size' | 'etag' | 'lastModified' | 'checksum'>

/**
 * Checks a listed row's checksum and returns the row itself (with whatever else it carries: a
 * version's id and flags), so a page builds one object per entry, not a copy of each.
 */
export function listedObject<T extends Omit<ListedObject, 'checksum'> & { checksum: unknown }>(
  bucket: string,
  raw: T,
): Omit<T, 'checksum'> & ListedObject {
  // Checked without building the error's text: a listing page does this a thousand times.
  if (raw.checksum === null || isChecksum(raw.checksum)) return raw as Omit<T, 'checksum'> & ListedObject
  const what = `object ${JSON.stringify(bucket)}/${JSON.stringify(raw.key)}`
  return { ...raw, checksum: check(raw.checksum, orNull(isChecksum), what, 'checksum') }
}

export function uploadRow(raw: typeof multipartUploads.$inferSelect): UploadRow {
  const what = `multipart upload ${raw.uploadId}`
  return {
    ...raw,
    headers: check(raw.headers, isStringMap, what, 'headers'),
    userMeta: check(raw.userMeta, isStringMap, what, 'user_meta'),
    checksumAlgorithm: check(raw.checksumAlgorithm, orNull(isAlgorithm), what, 'checksum_algorithm'),
    checksumType: check(raw.checksumType, orNull(isChecksumType), what, 'checksum_type'),
    tags: check(raw.tags ?? null, orNull(isTagList), what, 'tags'),
  }
}

export function partRow(raw: typeof parts.$inferSelect): PartRow {
  return {
    ...raw,
    checksum: check(raw.checksum, orNull(isChecksum), `part ${raw.partNumber} of upload ${raw.uploadId}`, 'checksum'),
  }
}
