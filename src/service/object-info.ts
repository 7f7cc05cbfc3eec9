/**
 * What the service tells its callers about objects, uploads and parts: plain values built from
 * metadata rows, without storage layouts or wrapped keys. Uses meta's row types only.
 */
import type * as meta from '../meta/index.ts'
import { toBase64, utf8 } from '../util/bytes.ts'
import type { ChecksumAlgorithm } from '../util/checksums.ts'
import type { EncryptionRecord } from './encryption.ts'
import { decodeVersionLock, type VersionLock } from './object-lock.ts'

/**
 * How stored data is encrypted: SSE-S3 (the namespace's D@RE key), SSE-C (the customer's key)
 * or SSE-KMS (a KMS key: `kms` says which).
 */
export type SseKind = 'sse-s3' | 'sse-c' | 'sse-kms'

/** SSE-KMS as responses show it. */
export interface KmsInfo {
  algorithm: 'aws:kms' | 'aws:kms:dsse'
  keyArn: string
  /** base64 of the canonical JSON; absent when the write gave none. */
  context?: string
  bucketKeyEnabled?: boolean
}

export interface ChecksumValue {
  algorithm: ChecksumAlgorithm
  type: 'FULL_OBJECT' | 'COMPOSITE'
  /** base64, with `-N` appended for COMPOSITE multipart checksums */
  value: string
}

/** A multipart object's part, so that `?partNumber=N` selects its bytes. */
export interface PartSummary {
  partNumber: number
  size: number
  /** The part's own checksum, when the upload had an algorithm (GetObjectAttributes shows it). */
  checksum?: ChecksumValue
}

/** An object as listings show it. */
export interface ObjectSummary {
  key: string
  size: number
  etag: string
  lastModified: Date
  checksum?: ChecksumValue
}

/** An object as reads and writes report it. */
export interface ObjectInfo extends ObjectSummary {
  bucket: string
  contentType: string
  /** Stored system headers by lower-case name: cache-control, content-disposition, … */
  headers: Record<string, string>
  /** x-amz-meta-* without the prefix, lower-case names. */
  userMeta: Record<string, string>
  /** Present for objects completed from a multipart upload. */
  parts?: PartSummary[]
  /** Absent when stored in clear. */
  sse?: SseKind
  kms?: KmsInfo
  /** The version's id; present when the bucket is or was versioned ('null' included). */
  versionId?: string
  /** Object Lock retention and legal hold; absent when the version has neither. */
  lock?: VersionLock
  /** How many tags the version has (x-amz-tagging-count); absent when none. */
  tagCount?: number
  /** When a lifecycle rule will expire this current version (x-amz-expiration), and which. */
  expiration?: { at: Date; ruleId: string }
}

export interface UploadInfo {
  bucket: string
  key: string
  uploadId: string
  /** Access key id of the user that created it. */
  initiator: string
  initiatedAt: Date
  /** The checksum every part must carry, and how the object's checksum combines them. */
  checksumAlgorithm?: ChecksumAlgorithm
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE'
  sse?: SseKind
  kms?: KmsInfo
}

export interface PartInfo {
  partNumber: number
  size: number
  etag: string
  lastModified: Date
  checksum?: ChecksumValue
  /** How the upload's parts are encrypted. */
  sse?: SseKind
  kms?: KmsInfo
}

const checksumOf = (c: meta.ChecksumInfo | null): ChecksumValue | undefined =>
  c ? { algorithm: c.algorithm, type: c.type, value: c.value } : undefined

/** SSE-S3 in a namespace without D@RE is stored under the managed KMS key, and shown as SSE-S3. */
export const sseOf = (record: EncryptionRecord | undefined): SseKind | undefined =>
  record?.mode === 'sse-kms' && record.sseAlgorithm === 'AES256' ? 'sse-s3' : record?.mode

export function kmsOf(record: EncryptionRecord | undefined): KmsInfo | undefined {
  if (record?.mode !== 'sse-kms' || record.sseAlgorithm === 'AES256') return undefined
  const out: KmsInfo = {
    algorithm: record.sseAlgorithm === 'aws:kms:dsse' ? 'aws:kms:dsse' : 'aws:kms',
    keyArn: record.kmsKeyArn ?? record.kmsKeyId!,
  }
  if (record.kmsContext && record.kmsContext !== '{}') out.context = toBase64(utf8(record.kmsContext))
  if (record.bucketKeyEnabled) out.bucketKeyEnabled = true
  return out
}

export function objectSummary(row: meta.ListedObject): ObjectSummary {
  const out: ObjectSummary = { key: row.key, size: row.size, etag: row.etag, lastModified: row.lastModified }
  const checksum = checksumOf(row.checksum)
  if (checksum) out.checksum = checksum
  return out
}

/** Whether S3 shows version ids in this bucket: once versioning was ever set on it. */
export const showsVersions = (bucket: meta.BucketRow): boolean => bucket.versioning !== null

export function objectInfo(row: meta.ObjectRow, record: EncryptionRecord | undefined, versioned = false): ObjectInfo {
  const out: ObjectInfo = {
    ...objectSummary(row),
    bucket: row.bucket,
    contentType: row.contentType,
    headers: row.headers,
    userMeta: row.userMeta,
  }
  if (row.parts)
    out.parts = row.parts.map((p) => {
      const checksum = checksumOf(p.checksum ?? null)
      return checksum
        ? { partNumber: p.partNumber, size: p.size, checksum }
        : { partNumber: p.partNumber, size: p.size }
    })
  const sse = sseOf(record)
  if (sse) out.sse = sse
  const kms = kmsOf(record)
  if (kms) out.kms = kms
  if (versioned) out.versionId = row.versionId
  if (row.lock !== null && row.lock !== undefined) {
    const lock = decodeVersionLock(row.lock, `object ${row.bucket}/${row.key} version ${row.versionId}`)
    if (lock.retention || lock.legalHold) out.lock = lock
  }
  if (row.tags?.length) out.tagCount = row.tags.length
  return out
}

export function uploadInfo(row: meta.UploadRow, record: EncryptionRecord | undefined): UploadInfo {
  const out: UploadInfo = {
    bucket: row.bucket,
    key: row.key,
    uploadId: row.uploadId,
    initiator: row.initiator,
    initiatedAt: row.initiatedAt,
  }
  if (row.checksumAlgorithm) out.checksumAlgorithm = row.checksumAlgorithm
  if (row.checksumType) out.checksumType = row.checksumType
  const sse = sseOf(record)
  if (sse) out.sse = sse
  const kms = kmsOf(record)
  if (kms) out.kms = kms
  return out
}

export function partInfo(row: meta.PartRow, sse: SseKind | undefined, kms?: KmsInfo): PartInfo {
  const out: PartInfo = { partNumber: row.partNumber, size: row.size, etag: row.etag, lastModified: row.lastModified }
  const checksum = checksumOf(row.checksum)
  if (checksum) out.checksum = checksum
  if (sse) out.sse = sse
  if (kms) out.kms = kms
  return out
}
