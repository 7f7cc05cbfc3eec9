/**
 * Multipart operations: Create, UploadPart, Complete, Abort, ListParts, ListMultipartUploads.
 * UploadPartCopy lives with the other copy in copy.ts.
 */
import { aclRequestOf } from '../acl-request.ts'
import {
  abortUpload,
  completeUpload,
  createUpload,
  getUpload,
  listParts,
  listUploads,
  type UploadAddress,
  uploadPart,
} from '../../service/index.ts'
import { CHECKSUM_ALGORITHMS, CHECKSUM_LENGTHS, type ChecksumAlgorithm } from '../../util/checksums.ts'
import { fromBase64 } from '../../util/bytes.ts'
import { emptyResponse, xmlResponse, type OpContext } from '../context.ts'
import { expirationHeaders } from './lifecycle.ts'
import { S3Error } from '../errors.ts'
import { readObjectMetadata } from '../headers.ts'
import { encryptionHeaders, readSseC, readSseRequest } from '../sse.ts'
import { parseCompleteMultipartUpload } from '../xml/read.ts'
import {
  completeMultipartUploadXml,
  initiateMultipartUploadXml,
  listMultipartUploadsXml,
  listPartsXml,
} from '../xml/documents.ts'
import { checksumHeaders, receiveBody } from './body.ts'
import { checkListingParameters, readEncoder, readMaxKeys } from './list.ts'
import { writeConditions } from './put.ts'
import { versionHeaders } from './versions.ts'
import { hasIntegrityHeader, readLockHeaders } from './locks.ts'
import { readTaggingHeader } from './tagging.ts'

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

export function readChecksumAlgorithm(h: Headers): ChecksumAlgorithm | undefined {
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

/** The upload a request names: its bucket, key and `?uploadId=`. */
export const uploadAddress = (op: OpContext): UploadAddress => ({
  bucket: op.bucket,
  key: op.key,
  uploadId: op.query.get('uploadId') ?? '',
})

export async function handleCreateMultipartUpload(op: OpContext): Promise<Response> {
  const checksumAlgorithm = readChecksumAlgorithm(op.headers)
  const checksumType = readChecksumType(op.headers)
  const sseC = readSseC(op.headers, op.platform)
  const sse = readSseRequest(op.headers, sseC)
  const upload = await createUpload(op.service, op.actor, {
    bucket: op.bucket,
    key: op.key,
    checksumAlgorithm,
    checksumType,
    sseC,
    sse,
    ...readObjectMetadata(op.headers),
    lockRequest: readLockHeaders(op.headers),
    tags: readTaggingHeader(op.headers),
    acl: aclRequestOf(op.headers),
  })
  const headers: Record<string, string> = encryptionHeaders(upload.sse, sseC, upload.kms, { context: true })
  if (upload.checksumAlgorithm) headers['x-amz-checksum-algorithm'] = upload.checksumAlgorithm
  if (upload.checksumType) headers['x-amz-checksum-type'] = upload.checksumType
  return xmlResponse(
    initiateMultipartUploadXml({ bucket: op.bucket, key: op.key, uploadId: upload.uploadId }),
    200,
    headers,
  )
}

export async function handleUploadPart(op: OpContext): Promise<Response> {
  const partNumber = readPartNumber(op.query)
  const address = uploadAddress(op)
  // The upload names the checksum every part must carry: known before the body is read.
  const upload = await getUpload(op.service, op.actor, address)
  const sseC = readSseC(op.headers, op.platform)
  const { stream, digests, length } = receiveBody(op, upload.checksumAlgorithm)
  const part = await uploadPart(op.service, op.actor, {
    ...address,
    partNumber,
    body: stream,
    digests,
    length,
    sseC,
    integrity: hasIntegrityHeader(op.headers),
  })
  const headers = checksumHeaders(part.checksum)
  delete headers['x-amz-checksum-type']
  return emptyResponse(200, { etag: part.etag, ...headers, ...encryptionHeaders(part.sse, sseC, part.kms) })
}

/**
 * `x-amz-checksum-<alg>` on CompleteMultipartUpload: the whole object's checksum (a composite one
 * with or without `-N`). A value that is not base64 of the algorithm's digest length is 400
 * InvalidRequest, as on any other request; whether it matches is the service's to check.
 */
function readCompletionChecksum(h: Headers): { algorithm: ChecksumAlgorithm; value: string } | undefined {
  let found: { algorithm: ChecksumAlgorithm; value: string } | undefined
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const name = `x-amz-checksum-${algorithm.toLowerCase()}`
    const raw = h.get(name)
    if (raw === null) continue
    const value = raw.trim()
    const digest = /^[A-Za-z0-9+/]+={0,2}(-\d+)?$/.test(value) ? fromBase64(value.replace(/-\d+$/, '')) : undefined
    if (digest?.length !== CHECKSUM_LENGTHS[algorithm])
      throw new S3Error('InvalidRequest', `Value for ${name} header is invalid.`)
    if (found)
      throw new S3Error(
        'InvalidRequest',
        'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
      )
    found = { algorithm, value }
  }
  return found
}

export async function handleCompleteMultipartUpload(op: OpContext): Promise<Response> {
  const address = uploadAddress(op)
  const conditions = writeConditions(op.headers)
  const expectedChecksum = readCompletionChecksum(op.headers)
  const request = await parseCompleteMultipartUpload(op.body().stream, MAX_COMPLETE_BODY)
  const obj = await completeUpload(op.service, op.actor, {
    ...address,
    parts: request.parts,
    conditions,
    expectedChecksum,
  })
  const location = `/${encodeURIComponent(op.bucket)}/${op.key.split('/').map(encodeURIComponent).join('/')}`
  return xmlResponse(
    completeMultipartUploadXml({
      location,
      bucket: op.bucket,
      key: op.key,
      etag: obj.etag,
      checksum: obj.checksum,
    }),
    200,
    {
      ...checksumHeaders(obj.checksum),
      ...encryptionHeaders(obj.sse, readSseC(op.headers, op.platform), obj.kms),
      ...versionHeaders(obj),
      ...expirationHeaders(obj),
    },
  )
}

export async function handleAbortMultipartUpload(op: OpContext): Promise<Response> {
  await abortUpload(op.service, op.actor, uploadAddress(op))
  return emptyResponse(204)
}

export async function handleListParts(op: OpContext): Promise<Response> {
  const markerRaw = op.query.get('part-number-marker') ?? '0'
  const marker = Number(markerRaw)
  if (!/^\d+$/.test(markerRaw))
    throw new S3Error('InvalidArgument', 'Part number marker must be an integer.', {
      ArgumentName: 'part-number-marker',
    })
  const maxParts = readMaxKeys(op.query, 'max-parts')
  const page = await listParts(op.service, op.actor, {
    ...uploadAddress(op),
    partNumberMarker: marker,
    maxParts,
  })
  const { upload } = page
  const owner = { id: upload.initiator, displayName: upload.initiator }
  return xmlResponse(
    listPartsXml({
      bucket: op.bucket,
      key: op.key,
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
        checksum: p.checksum,
      })),
      initiator: owner,
      owner,
      storageClass: 'STANDARD',
      checksumAlgorithm: upload.checksumAlgorithm,
      checksumType: upload.checksumType,
    }),
  )
}

export async function handleListMultipartUploads(op: OpContext): Promise<Response> {
  const q = op.query
  checkListingParameters(q, ['prefix', 'delimiter', 'key-marker'])
  const { encodingType, encode } = readEncoder(q)
  const prefix = q.get('prefix') ?? ''
  const delimiter = q.get('delimiter') || undefined
  const keyMarker = q.get('key-marker') ?? undefined
  const uploadIdMarker = q.get('upload-id-marker') ?? undefined
  const maxUploads = readMaxKeys(q, 'max-uploads')
  const page = await listUploads(op.service, op.actor, {
    bucket: op.bucket,
    prefix,
    delimiter,
    keyMarker,
    uploadIdMarker,
    maxUploads,
  })
  return xmlResponse(
    listMultipartUploadsXml({
      bucket: op.bucket,
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
