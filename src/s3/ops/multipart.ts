/**
 * Multipart operations: Create, UploadPart, Complete, Abort, ListParts, ListMultipartUploads.
 * UploadPartCopy lives with the other copy in copy.ts.
 */
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from '../../util/checksums.ts'
import { emptyResponse, xmlResponse, type OpContext } from '../context.ts'
import { S3Error } from '../errors.ts'
import { readObjectMetadata } from '../headers.ts'
import { encryptionHeaders, readSseC, readSseRequest, requireBucketEncryption } from '../sse.ts'
import { parseCompleteMultipartUpload } from '../xml/read.ts'
import {
  completeMultipartUploadXml,
  initiateMultipartUploadXml,
  listMultipartUploadsXml,
  listPartsXml,
} from '../xml/documents.ts'
import { checksumHeaders, receiveBody } from './body.ts'
import { readEncoder, readMaxKeys } from './list.ts'
import { writeConditions } from './put.ts'

/** 10,000 parts of ~200 bytes of XML each. */
const MAX_COMPLETE_BODY = 4 * 1024 * 1024

export function readPartNumber(query: URLSearchParams): number {
  const raw = query.get('partNumber') ?? ''
  const n = Number(raw)
  if (!/^\d+$/.test(raw) || n < 1 || n > 10_000) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
      ArgumentName: 'partNumber',
      ArgumentValue: raw,
    })
  }
  return n
}

function readChecksumAlgorithm(h: Headers): ChecksumAlgorithm | undefined {
  const raw = h.get('x-amz-checksum-algorithm')
  if (raw === null) return undefined
  const alg = raw.toUpperCase() as ChecksumAlgorithm
  if (!CHECKSUM_ALGORITHMS.includes(alg))
    throw new S3Error('InvalidRequest', `Checksum algorithm ${raw} is not supported.`)
  return alg
}

function readChecksumType(h: Headers): 'FULL_OBJECT' | 'COMPOSITE' | undefined {
  const raw = h.get('x-amz-checksum-type')
  if (raw === null) return undefined
  const t = raw.toUpperCase()
  if (t !== 'FULL_OBJECT' && t !== 'COMPOSITE')
    throw new S3Error('InvalidRequest', `Checksum type ${raw} is not supported.`)
  return t
}

const uploadOf = (ctx: OpContext, id = ctx.query.get('uploadId') ?? '') =>
  ctx.service.multipart.getUpload(ctx.actor, ctx.bucket, ctx.key, id)

export async function createMultipartUpload(ctx: OpContext): Promise<Response> {
  const checksumAlgorithm = readChecksumAlgorithm(ctx.headers)
  const checksumType = readChecksumType(ctx.headers)
  const sseC = readSseC(ctx.headers, ctx.platform)
  if (readSseRequest(ctx.headers, sseC)) await requireBucketEncryption(ctx)
  const uploadId = await ctx.service.multipart.createUpload(ctx.actor, {
    bucket: ctx.bucket,
    key: ctx.key,
    checksumAlgorithm,
    checksumType,
    sseC,
    ...readObjectMetadata(ctx.headers),
  })
  const upload = await uploadOf(ctx, uploadId)
  const headers: Record<string, string> = encryptionHeaders(upload.encryption, sseC)
  if (checksumAlgorithm) headers['x-amz-checksum-algorithm'] = checksumAlgorithm
  if (checksumAlgorithm)
    headers['x-amz-checksum-type'] = checksumType ?? (checksumAlgorithm === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE')
  return xmlResponse(initiateMultipartUploadXml({ bucket: ctx.bucket, key: ctx.key, uploadId }), 200, headers)
}

export async function uploadPart(ctx: OpContext): Promise<Response> {
  const partNumber = readPartNumber(ctx.query)
  const upload = await uploadOf(ctx)
  const sseC = readSseC(ctx.headers, ctx.platform)
  const body = receiveBody(ctx, (upload.checksumAlgorithm ?? undefined) as ChecksumAlgorithm | undefined)
  const part = await ctx.service.multipart.uploadPart({
    upload,
    partNumber,
    body: body.stream,
    digests: body.digests,
    sseC,
  })
  const checksum = part.checksum ? { ...part.checksum, type: upload.checksumType ?? 'FULL_OBJECT' } : undefined
  const headers = checksumHeaders(checksum)
  delete headers['x-amz-checksum-type']
  return emptyResponse(200, { etag: part.etag, ...headers, ...encryptionHeaders(upload.encryption, sseC) })
}

export async function completeMultipartUpload(ctx: OpContext): Promise<Response> {
  const upload = await uploadOf(ctx)
  const conditions = writeConditions(ctx.headers)
  const request = await parseCompleteMultipartUpload(ctx.body().stream, MAX_COMPLETE_BODY)
  const obj = await ctx.service.multipart.completeUpload(upload, request.parts, conditions)
  const location = `/${encodeURIComponent(ctx.bucket)}/${ctx.key.split('/').map(encodeURIComponent).join('/')}`
  return xmlResponse(
    completeMultipartUploadXml({
      location,
      bucket: ctx.bucket,
      key: ctx.key,
      etag: obj.etag,
      checksum: obj.checksum ?? undefined,
    }),
    200,
    { ...checksumHeaders(obj.checksum), ...encryptionHeaders(obj.encryption, readSseC(ctx.headers, ctx.platform)) },
  )
}

export async function abortMultipartUpload(ctx: OpContext): Promise<Response> {
  const upload = await uploadOf(ctx)
  await ctx.service.multipart.abortUpload(upload)
  return emptyResponse(204)
}

export async function listParts(ctx: OpContext): Promise<Response> {
  const upload = await uploadOf(ctx)
  const markerRaw = ctx.query.get('part-number-marker') ?? '0'
  const marker = Number(markerRaw)
  if (!/^\d+$/.test(markerRaw))
    throw new S3Error('InvalidArgument', 'Part number marker must be an integer.', {
      ArgumentName: 'part-number-marker',
    })
  const maxParts = readMaxKeys(ctx.query, 'max-parts')
  const page = await ctx.service.multipart.listParts(upload, marker, maxParts)
  const owner = { id: upload.initiator, displayName: upload.initiator }
  return xmlResponse(
    listPartsXml({
      bucket: ctx.bucket,
      key: ctx.key,
      uploadId: upload.uploadId,
      partNumberMarker: marker,
      nextPartNumberMarker: page.nextPartNumberMarker,
      maxParts,
      isTruncated: page.isTruncated,
      parts: page.parts.map((p) => ({
        partNumber: p.partNumber,
        lastModified: p.lastModified,
        etag: p.etag,
        size: p.size,
        checksum: p.checksum ?? undefined,
      })),
      initiator: owner,
      owner,
      storageClass: 'STANDARD',
      checksumAlgorithm: upload.checksumAlgorithm ?? undefined,
      checksumType: upload.checksumType ?? undefined,
    }),
  )
}

export async function listMultipartUploads(ctx: OpContext): Promise<Response> {
  const q = ctx.query
  const { encodingType, encode } = readEncoder(q)
  const prefix = q.get('prefix') ?? ''
  const delimiter = q.get('delimiter') || undefined
  const keyMarker = q.get('key-marker') ?? undefined
  const uploadIdMarker = q.get('upload-id-marker') ?? undefined
  const maxUploads = readMaxKeys(q, 'max-uploads')
  const page = await ctx.service.multipart.listUploads(ctx.actor, {
    bucket: ctx.bucket,
    prefix,
    delimiter,
    keyMarker,
    uploadIdMarker,
    maxUploads,
  })
  return xmlResponse(
    listMultipartUploadsXml({
      bucket: ctx.bucket,
      keyMarker: encode(keyMarker ?? ''),
      uploadIdMarker: uploadIdMarker ?? '',
      nextKeyMarker: page.nextKeyMarker !== undefined ? encode(page.nextKeyMarker) : undefined,
      nextUploadIdMarker: page.nextUploadIdMarker,
      delimiter: delimiter !== undefined ? encode(delimiter) : undefined,
      prefix: encode(prefix),
      maxUploads,
      isTruncated: page.isTruncated,
      encodingType,
      uploads: page.uploads.map((u) => ({
        key: encode(u.key),
        uploadId: u.uploadId,
        initiator: { id: u.initiator, displayName: u.initiator },
        owner: { id: u.initiator, displayName: u.initiator },
        storageClass: 'STANDARD',
        initiated: u.initiatedAt,
      })),
      commonPrefixes: page.commonPrefixes.map((p) => encode(p)),
    }),
  )
}
