/**
 * Multipart uploads: create, find, store parts (each an independent write), abort and list.
 * Completing one is multipart-complete.ts. Replaced parts and aborted uploads go to GC, queued
 * in the same transaction that drops their rows.
 */
import * as meta from '../meta/index.ts'
import { toHex } from '../util/bytes.ts'
import type { ChecksumAlgorithm } from '../util/checksums.ts'
import type { ServiceContext } from './context.ts'
import {
  type CustomerKey,
  checkSseC,
  type EncryptionRecord,
  KEY_COMMIT_ATTEMPTS,
  keyPin,
  keyRotationBusy,
  openCurrentObjectKey,
  parseEncryptionRecord,
  prepareWrite,
  type SseRequest,
  rewrapForCurrentKey,
} from './encryption.ts'
import { ServiceError } from './errors.ts'
import { type LockRequest, lockForUpload, lockRequestOf } from './locks.ts'
import { type AclRequest, newObjectAcl } from './acl.ts'
import { type Actor, bucketFor, refusalError, writerOf } from './identities.ts'
import { type PartInfo, partInfo, type UploadInfo, uploadInfo } from './object-info.ts'
import { type BodyInput, type Digests, type ObjectMetadataInput, removeQuietly } from './put-object.ts'
import { singleSegment } from './stored-data.ts'
import type { Tag } from './tags.ts'
import { settle, settleCommitted, storeData } from './stored-write.ts'

export interface CreateUploadInput extends ObjectMetadataInput {
  bucket: string
  key: string
  checksumAlgorithm?: ChecksumAlgorithm
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE'
  /** SSE-C: every part must then carry the same customer key. */
  sseC?: CustomerKey
  /** x-amz-server-side-encryption (and its KMS headers); the bucket's default applies otherwise. */
  sse?: SseRequest
  /** Object Lock for the completed version (x-amz-object-lock-*). */
  lockRequest?: LockRequest
  /** The completed version's tag set (x-amz-tagging, checked by the caller with tags.ts). */
  tags?: readonly Tag[]
  /** The completed version's ACL (x-amz-acl, x-amz-grant-*), judged now and kept on the upload. */
  acl?: AclRequest
}

export interface UploadAddress {
  bucket: string
  key: string
  uploadId: string
}

/** An upload row as it entered the service: its encryption record checked once. */
export interface StoredUpload {
  row: meta.UploadRow
  encryption?: EncryptionRecord
  info: UploadInfo
  /** Who found it, as a writer into its bucket: parts and completion are committed as this. */
  writer: meta.Writer
  /** Its bucket as read when it was found (the completion's versioning follows it). */
  bucket?: meta.BucketRow
}

const defaultChecksumType = (a: ChecksumAlgorithm): 'FULL_OBJECT' | 'COMPOSITE' =>
  a === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE'

function storedUpload(row: meta.UploadRow, writer: meta.Writer, bucket?: meta.BucketRow): StoredUpload {
  const encryption = parseEncryptionRecord(row.encryption, `multipart upload ${row.uploadId}`)
  return { row, encryption, info: uploadInfo(row, encryption), writer, ...(bucket ? { bucket } : {}) }
}

export async function createUpload(ctx: ServiceContext, actor: Actor, input: CreateUploadInput): Promise<UploadInfo> {
  const bucket = await bucketFor(ctx, actor, input.bucket)
  if (
    input.checksumType === 'FULL_OBJECT' &&
    (input.checksumAlgorithm === 'SHA1' || input.checksumAlgorithm === 'SHA256')
  ) {
    throw new ServiceError(
      'InvalidRequest',
      `The FULL_OBJECT checksum type cannot be used with the ${input.checksumAlgorithm} algorithm.`,
    )
  }
  if (input.checksumType === 'COMPOSITE' && input.checksumAlgorithm === 'CRC64NVME') {
    throw new ServiceError('InvalidRequest', 'The COMPOSITE checksum type cannot be used with the CRC64NVME algorithm.')
  }
  // Long and random like S3's: upload ids are bearer-ish handles in URLs.
  const uploadId = toHex(crypto.getRandomValues(new Uint8Array(24)))
  // One object key for the whole upload, bound to the upload id; each part gets its own prefix.
  let sealed = await prepareWrite(ctx, bucket.namespace, uploadId, input.sseC, {
    bucketId: bucket.id,
    region: bucket.region,
    request: input.sse,
  })
  const row: meta.UploadRow = {
    uploadId,
    bucket: input.bucket,
    key: input.key,
    initiatedAt: new Date(),
    initiator: actor.accessKeyId,
    contentType: input.contentType ?? null,
    headers: input.headers,
    userMeta: input.userMeta,
    checksumAlgorithm: input.checksumAlgorithm ?? null,
    checksumType: input.checksumAlgorithm ? (input.checksumType ?? defaultChecksumType(input.checksumAlgorithm)) : null,
    encryption: sealed?.record ?? null,
    lock: lockRequestOf(bucket, input.lockRequest),
    tags: input.tags?.length ? [...input.tags] : null,
    acl:
      input.acl || actor.anonymous ? await newObjectAcl(ctx, bucket, input.acl ?? {}, actor.anonymous === true) : null,
  }
  // The bucket may have been deleted (and its name taken again) since bucketFor, and a rotation
  // may have dropped the key version the object key was wrapped under (then it is wrapped again
  // under the current one).
  const writer = writerOf(actor, bucket)
  for (let attempt = 1; ; attempt++) {
    const created = await meta.createUpload(ctx.db, row, writer, keyPin(sealed?.record))
    if (created.ok) return uploadInfo(row, sealed?.record)
    if (created.reason !== 'key-version') throw refusalError(created.reason, input.bucket)
    if (!sealed || attempt >= KEY_COMMIT_ATTEMPTS) throw keyRotationBusy()
    sealed = await rewrapForCurrentKey(ctx, sealed)
    row.encryption = sealed.record
  }
}

/** The upload if the actor may use it and it belongs to that bucket and key; NoSuchUpload otherwise. */
export async function findUpload(ctx: ServiceContext, actor: Actor, a: UploadAddress): Promise<StoredUpload> {
  const bucket = await bucketFor(ctx, actor, a.bucket)
  const upload = await meta.getUpload(ctx.db, a.uploadId)
  if (!upload || upload.bucket !== a.bucket || upload.key !== a.key)
    throw new ServiceError('NoSuchUpload', undefined, { UploadId: a.uploadId })
  return storedUpload(upload, writerOf(actor, bucket), bucket)
}

export async function getUpload(ctx: ServiceContext, actor: Actor, a: UploadAddress): Promise<UploadInfo> {
  return (await findUpload(ctx, actor, a)).info
}

export interface PartInput extends BodyInput {
  partNumber: number
  /** The customer key, required when the upload was created with SSE-C. */
  sseC?: CustomerKey
}

export type UploadPartInput = UploadAddress &
  PartInput & {
    /** The request carried Content-MD5 or an x-amz-checksum-* (false: it did not; S3 requires one on a locked upload). */
    integrity?: boolean
  }

export async function uploadPart(ctx: ServiceContext, actor: Actor, input: UploadPartInput): Promise<PartInfo> {
  const upload = await findUpload(ctx, actor, input)
  if (!upload.bucket) throw new Error('findUpload returned no bucket')
  // Judged before a byte is stored, by the rule a locked PutObject is judged by.
  if (input.integrity !== undefined) lockForUpload(upload.bucket, upload.row, input.integrity)
  return storePart(ctx, upload, input)
}

/** Stores one part of an upload found a moment ago (UploadPart and UploadPartCopy). */
export async function storePart(ctx: ServiceContext, upload: StoredUpload, input: PartInput): Promise<PartInfo> {
  const record = upload.encryption
  const uploadId = upload.row.uploadId
  if (!record) await checkSseC(undefined, input.sseC)
  const reread = async () =>
    parseEncryptionRecord((await meta.getUpload(ctx.db, uploadId))?.encryption, `multipart upload ${uploadId}`)
  const key = record ? await openCurrentObjectKey(ctx, record, input.sseC, reread) : undefined
  const seal = key && record ? { key, objectId: record.objectId, partNumber: input.partNumber } : undefined
  const { id, written, segment } = await storeData(ctx, input.body, seal, input.length)
  let digests: Digests
  try {
    digests = input.digests()
  } catch (e) {
    await removeQuietly(ctx, singleSegment(written.size, written.layout))
    await settle(ctx, [id])
    throw e
  }
  const part: meta.PartRow = {
    uploadId,
    partNumber: input.partNumber,
    size: segment.size,
    etag: digests.etag,
    lastModified: new Date(),
    checksum: digests.checksum ?? null,
    layout: written.layout,
    crypto: segment.crypto ?? null,
  }
  // A part it replaces is queued for GC in the same transaction. If this throws, whether the row
  // was written is unknown: the intent stays, and orphan collection removes the data unless a
  // row references it.
  const result = await meta.putPart(ctx.db, part, upload.writer)
  if (!result.ok) {
    await removeQuietly(ctx, singleSegment(written.size, written.layout))
    await settle(ctx, [id])
    // The upload was completed or aborted, or its bucket deleted, while the body streamed.
    if (result.reason === 'no-such-upload') throw new ServiceError('NoSuchUpload', undefined, { UploadId: uploadId })
    throw refusalError(result.reason, upload.writer.bucket)
  }
  await settleCommitted(ctx, [id])
  return partInfo(part, upload.info.sse, upload.info.kms)
}

export async function abortUpload(ctx: ServiceContext, actor: Actor, a: UploadAddress): Promise<void> {
  const upload = await findUpload(ctx, actor, a)
  // The parts' data is queued for GC in the same transaction.
  if (!(await meta.abortUpload(ctx.db, upload.row.uploadId)))
    throw new ServiceError('NoSuchUpload', undefined, { UploadId: a.uploadId })
}

export interface PartsPage {
  upload: UploadInfo
  parts: PartInfo[]
  isTruncated: boolean
  /** The last part number on this page (0 when empty): pass it back as partNumberMarker. */
  nextPartNumberMarker: number
}

export async function listParts(
  ctx: ServiceContext,
  actor: Actor,
  input: UploadAddress & { partNumberMarker: number; maxParts: number },
): Promise<PartsPage> {
  const upload = await findUpload(ctx, actor, input)
  const page = await meta.listParts(ctx.db, upload.row.uploadId, input)
  return { ...page, upload: upload.info, parts: page.parts.map((p) => partInfo(p, upload.info.sse, upload.info.kms)) }
}

export interface UploadsPage {
  uploads: UploadInfo[]
  commonPrefixes: string[]
  isTruncated: boolean
  nextKeyMarker?: string
  nextUploadIdMarker?: string
}

export async function listUploads(
  ctx: ServiceContext,
  actor: Actor,
  input: meta.ListUploadsInput,
): Promise<UploadsPage> {
  const writer = writerOf(actor, await bucketFor(ctx, actor, input.bucket))
  const page = await meta.listUploads(ctx.db, input)
  return { ...page, uploads: page.uploads.map((u) => storedUpload(u, writer).info) }
}
