/**
 * Multipart uploads: parts are stored as independent writes; completing one stitches the chosen
 * parts into an object (one segment per part) in a single metadata transaction. Replaced parts,
 * unused parts and aborted uploads go to garbage collection.
 */
import type { SseCKey } from '../crypto/index.ts'
import * as meta from '../meta/index.ts'
import { fromBase64, fromHex, toBase64, toHex } from '../util/bytes.ts'
import { combineCrcs, compositeChecksum, type ChecksumAlgorithm } from '../util/checksums.ts'
import type { ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'
import { type Actor, bucketFor } from './identities.ts'
import { settle, storeData } from './stored-write.ts'
import {
  checkWriteConditions,
  removeQuietly,
  type ChecksumValue,
  type Digests,
  type ObjectInfo,
  type ObjectMetadataInput,
  type WriteConditions,
} from './put-object.ts'
import type { DataLayout } from '../storage/object-storage.ts'
import { layoutsOf, singleSegment, type Segment, type StoredData } from './stored-data.ts'
import { checkSseC, openCurrentObjectKey, prepareWrite, recordOf, type SegmentCrypto } from './encryption.ts'

/** S3's floor for every part but the last. */
export const MIN_PART_SIZE = 5 * 1024 * 1024
export const MAX_PARTS = 10_000

export interface CreateUploadInput extends ObjectMetadataInput {
  bucket: string
  key: string
  checksumAlgorithm?: ChecksumAlgorithm
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE'
  /** SSE-C: every part must then carry the same customer key. */
  sseC?: SseCKey
}

export async function createUpload(ctx: ServiceContext, actor: Actor, input: CreateUploadInput): Promise<string> {
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
  const sealed = await prepareWrite(ctx, bucket.namespace, uploadId, input.sseC)
  await meta.createUpload(ctx.db, {
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
  })
  return uploadId
}

const defaultChecksumType = (a: ChecksumAlgorithm): 'FULL_OBJECT' | 'COMPOSITE' =>
  a === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE'

export async function getUpload(
  ctx: ServiceContext,
  actor: Actor,
  bucket: string,
  key: string,
  uploadId: string,
): Promise<meta.UploadRow> {
  await bucketFor(ctx, actor, bucket)
  const upload = await meta.getUpload(ctx.db, uploadId)
  if (!upload || upload.bucket !== bucket || upload.key !== key)
    throw new ServiceError('NoSuchUpload', undefined, { UploadId: uploadId })
  return upload
}

export interface UploadPartInput {
  upload: meta.UploadRow
  partNumber: number
  body: ReadableStream<Uint8Array>
  digests: () => Digests
  /** The customer key, required when the upload was created with SSE-C. */
  sseC?: SseCKey
}

export async function uploadPart(ctx: ServiceContext, input: UploadPartInput): Promise<meta.PartRow> {
  const record = recordOf(input.upload.encryption)
  if (!record) await checkSseC(undefined, input.sseC)
  const reread = async () => recordOf((await meta.getUpload(ctx.db, input.upload.uploadId))?.encryption)
  const key = record ? await openCurrentObjectKey(ctx, record, input.sseC, reread) : undefined
  const seal = key && record ? { key, objectId: record.objectId, partNumber: input.partNumber } : undefined
  const { id, written, segment } = await storeData(ctx, input.body, seal)
  let digests: Digests
  try {
    digests = input.digests()
  } catch (e) {
    await removeQuietly(ctx, singleSegment(written.size, written.layout))
    await settle(ctx, [id])
    throw e
  }
  const part: meta.PartRow = {
    uploadId: input.upload.uploadId,
    partNumber: input.partNumber,
    size: segment.size,
    etag: digests.etag,
    lastModified: new Date(),
    checksum: digests.checksum ?? null,
    layout: written.layout,
    crypto: segment.crypto ?? null,
  }
  let replaced: unknown
  try {
    replaced = await meta.putPart(ctx.db, part)
  } catch (e) {
    await removeQuietly(ctx, singleSegment(written.size, written.layout))
    // The upload was completed or aborted while the body streamed.
    if (e instanceof meta.NoSuchUploadError)
      throw new ServiceError('NoSuchUpload', undefined, { UploadId: input.upload.uploadId })
    throw e
  } finally {
    await settle(ctx, [id])
  }
  if (replaced) await meta.enqueueGc(ctx.db, [replaced], 'part-replaced')
  return part
}

export interface CompletePart {
  partNumber: number
  etag: string
  checksums: Partial<Record<ChecksumAlgorithm, string>>
}

const stripQuotes = (etag: string): string => etag.trim().replace(/^"|"$/g, '')

export async function completeUpload(
  ctx: ServiceContext,
  upload: meta.UploadRow,
  requested: CompletePart[],
  conditions: WriteConditions,
): Promise<ObjectInfo> {
  await checkWriteConditions(ctx, upload.bucket, upload.key, conditions)
  const stored = new Map((await meta.getParts(ctx.db, upload.uploadId)).map((p) => [p.partNumber, p]))
  const chosen: meta.PartRow[] = []
  let previous = 0
  for (const [i, req] of requested.entries()) {
    if (req.partNumber <= previous) throw new ServiceError('InvalidPartOrder')
    previous = req.partNumber
    const part = stored.get(req.partNumber)
    if (!part || stripQuotes(part.etag) !== stripQuotes(req.etag)) {
      throw new ServiceError('InvalidPart', undefined, { PartNumber: String(req.partNumber), ETag: req.etag })
    }
    const claimed = upload.checksumAlgorithm ? req.checksums[upload.checksumAlgorithm as ChecksumAlgorithm] : undefined
    if (claimed !== undefined && claimed !== part.checksum?.value) {
      throw new ServiceError(
        'InvalidPart',
        `The ${upload.checksumAlgorithm} checksum of part ${req.partNumber} does not match.`,
      )
    }
    if (i < requested.length - 1 && part.size < MIN_PART_SIZE) {
      throw new ServiceError('EntityTooSmall', undefined, {
        PartNumber: String(req.partNumber),
        ProposedSize: String(part.size),
        MinSizeAllowed: String(MIN_PART_SIZE),
      })
    }
    chosen.push(part)
  }
  const md5 = ctx.platform.createHasher('md5')
  for (const p of chosen) md5.update(fromHex(stripQuotes(p.etag)) ?? new Uint8Array())
  const data: StoredData = { v: 1, segments: chosen.map(segmentOf) }
  const row: meta.ObjectRow = {
    bucket: upload.bucket,
    key: upload.key,
    versionId: 'null',
    size: chosen.reduce((n, p) => n + p.size, 0),
    etag: `"${toHex(md5.digest())}-${chosen.length}"`,
    lastModified: new Date(),
    contentType: upload.contentType ?? 'binary/octet-stream',
    headers: upload.headers,
    userMeta: upload.userMeta,
    checksum: objectChecksum(ctx, upload, chosen) ?? null,
    parts: chosen.map((p) => ({
      partNumber: p.partNumber,
      size: p.size,
      etag: p.etag,
      checksum: p.checksum ?? undefined,
    })),
    layout: data,
    encryption: upload.encryption,
  }
  // Passing the rows lets meta check that no part was replaced since they were read.
  const result = await meta.completeUpload(ctx.db, upload.uploadId, row, chosen, conditions)
  if (!result.ok) {
    if (result.reason === 'missing') throw new ServiceError('NoSuchUpload', undefined, { UploadId: upload.uploadId })
    if (result.reason === 'invalid-part')
      throw new ServiceError('InvalidPart', 'A part was replaced while the upload was being completed; retry.')
    throw new ServiceError(conditions.ifMatch !== undefined ? 'ConditionalRequestConflict' : 'PreconditionFailed')
  }
  const garbage = [...layoutsOf(result.replaced as StoredData | undefined), ...result.unusedParts]
  if (garbage.length > 0) await meta.enqueueGc(ctx.db, garbage, 'complete')
  return row
}

function segmentOf(p: meta.PartRow): Segment {
  const seg: Segment = { size: p.size, layout: p.layout as DataLayout }
  if (p.crypto) seg.crypto = p.crypto as SegmentCrypto
  return seg
}

function objectChecksum(ctx: ServiceContext, upload: meta.UploadRow, parts: meta.PartRow[]): ChecksumValue | undefined {
  const algorithm = upload.checksumAlgorithm as ChecksumAlgorithm | null
  if (!algorithm) return undefined
  const digests: { digest: Uint8Array; length: number }[] = []
  for (const p of parts) {
    const d = p.checksum?.algorithm === algorithm ? fromBase64(p.checksum.value) : undefined
    if (!d) throw new ServiceError('InvalidPart', `Part ${p.partNumber} was uploaded without a ${algorithm} checksum.`)
    digests.push({ digest: d, length: p.size })
  }
  if (upload.checksumType === 'FULL_OBJECT') {
    return {
      algorithm,
      type: 'FULL_OBJECT',
      value: toBase64(combineCrcs(algorithm as 'CRC32' | 'CRC32C' | 'CRC64NVME', digests)),
    }
  }
  const composite = compositeChecksum(
    algorithm,
    digests.map((d) => d.digest),
    ctx.platform,
  )
  return { algorithm, type: 'COMPOSITE', value: `${toBase64(composite)}-${parts.length}` }
}

export async function abortUpload(ctx: ServiceContext, upload: meta.UploadRow): Promise<void> {
  const layouts = await meta.abortUpload(ctx.db, upload.uploadId)
  if (!layouts) throw new ServiceError('NoSuchUpload', undefined, { UploadId: upload.uploadId })
  if (layouts.length > 0) await meta.enqueueGc(ctx.db, layouts, 'aborted')
}

export async function listParts(
  ctx: ServiceContext,
  upload: meta.UploadRow,
  partNumberMarker: number,
  maxParts: number,
) {
  return meta.listParts(ctx.db, upload.uploadId, { partNumberMarker, maxParts })
}

export async function listUploads(
  ctx: ServiceContext,
  actor: Actor,
  input: {
    bucket: string
    prefix: string
    delimiter?: string
    keyMarker?: string
    uploadIdMarker?: string
    maxUploads: number
  },
) {
  await bucketFor(ctx, actor, input.bucket)
  return meta.listUploads(ctx.db, input)
}
