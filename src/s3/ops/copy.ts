/**
 * CopyObject and UploadPartCopy: read `x-amz-copy-source` with its `-if-*` conditions and SSE-C
 * headers, the target's headers and the range, and hand them to the service's copy use cases.
 */
import { aclRequestOf } from '../acl-request.ts'
import { type CopyObjectInput, type CopySource, copyObject, uploadPartCopy } from '../../service/index.ts'
import { type OpContext, xmlResponse } from '../context.ts'
import { expirationHeaders } from './lifecycle.ts'
import { S3Error } from '../errors.ts'
import { readConditions, readObjectMetadata } from '../headers.ts'
import { parseCopySource } from '../copy-source.ts'
import { encryptionHeaders, readSseC, readSseRequest } from '../sse.ts'
import { copyObjectResultXml, copyPartResultXml } from '../xml/documents.ts'
import { checksumHeaders } from './body.ts'
import { readChecksumAlgorithm, readPartNumber, uploadAddress } from './multipart.ts'
import { readVersionId, versionHeaders } from './versions.ts'
import { readLockHeaders } from './locks.ts'
import { readTaggingDirective } from './tagging.ts'

/** `x-amz-copy-source` and its `-if-*` conditions and SSE-C key headers. */
function readCopySource(op: OpContext): CopySource {
  const { query, ...address } = parseCopySource(op.headers.get('x-amz-copy-source')!)
  const versionId = query === undefined ? undefined : readVersionId(query)
  return {
    ...address,
    ...(versionId !== undefined ? { versionId } : {}),
    conditions: readConditions(op.headers, 'x-amz-copy-source-'),
    sseC: readSseC(op.headers, op.platform, true),
  }
}

function readMetadataDirective(op: OpContext): CopyObjectInput['metadata'] {
  const directive = (op.headers.get('x-amz-metadata-directive') ?? 'COPY').toUpperCase()
  if (directive === 'COPY') return { directive }
  if (directive === 'REPLACE') return { directive, ...readObjectMetadata(op.headers) }
  throw new S3Error('InvalidArgument', 'Unknown metadata directive.', { ArgumentName: 'x-amz-metadata-directive' })
}

export async function handleCopyObject(op: OpContext): Promise<Response> {
  const sseC = readSseC(op.headers, op.platform)
  const sse = readSseRequest(op.headers, sseC)
  const source = readCopySource(op)
  const obj = await copyObject(op.service, op.actor, {
    source,
    target: { bucket: op.bucket, key: op.key, sseC, sse },
    metadata: readMetadataDirective(op),
    checksumAlgorithm: readChecksumAlgorithm(op.headers),
    lockRequest: readLockHeaders(op.headers),
    tagging: readTaggingDirective(op.headers),
    acl: aclRequestOf(op.headers),
  })
  return xmlResponse(
    copyObjectResultXml({ etag: obj.etag, lastModified: obj.lastModified, checksum: obj.checksum }),
    200,
    {
      ...checksumHeaders(obj.checksum),
      ...encryptionHeaders(obj.sse, sseC, obj.kms, { context: true }),
      ...versionHeaders(obj),
      ...expirationHeaders(obj),
      ...(obj.sourceVersionId !== undefined ? { 'x-amz-copy-source-version-id': obj.sourceVersionId } : {}),
    },
  )
}

/** `x-amz-copy-source-range: bytes=first-last`, both required (checked against the source by the service). */
function readCopyRange(header: string | null): { first: number; last: number } | undefined {
  if (header === null) return undefined
  const m = /^bytes=(\d+)-(\d+)$/.exec(header.trim())
  if (!m)
    throw new S3Error(
      'InvalidArgument',
      'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: header },
    )
  return { first: Number(m[1]), last: Number(m[2]) }
}

export async function handleUploadPartCopy(op: OpContext): Promise<Response> {
  const partNumber = readPartNumber(op.query)
  const sseC = readSseC(op.headers, op.platform)
  const part = await uploadPartCopy(op.service, op.actor, {
    source: readCopySource(op),
    target: { ...uploadAddress(op), partNumber, sseC },
    range: readCopyRange(op.headers.get('x-amz-copy-source-range')),
  })
  return xmlResponse(
    copyPartResultXml({ etag: part.etag, lastModified: part.lastModified, checksum: part.checksum }),
    200,
    { ...checksumHeaders(part.checksum), ...encryptionHeaders(part.sse, sseC, part.kms) },
  )
}
