/** PutObject: headers → metadata, body → storage through the digest tap, conditional writes. */
import { aclRequestOf } from '../acl-request.ts'
import { putObject, type WriteConditions } from '../../service/index.ts'
import { emptyResponse, type OpContext } from '../context.ts'
import { S3Error } from '../errors.ts'
import { readObjectMetadata } from '../headers.ts'
import { encryptionHeaders, readSseC, readSseRequest } from '../sse.ts'
import { checksumHeaders, receiveBody } from './body.ts'
import { versionHeaders } from './versions.ts'
import { hasIntegrityHeader, readLockHeaders } from './locks.ts'
import { readTaggingHeader } from './tagging.ts'
import { expirationHeaders } from './lifecycle.ts'

/**
 * Reads `If-None-Match` (`*`, or ETags: 412 when the current object has one of them) and
 * `If-Match` for conditional writes (PutObject, CompleteMultipartUpload).
 */
export function writeConditions(h: Headers): WriteConditions {
  const ifNoneMatch = h.get('if-none-match')?.trim()
  if (ifNoneMatch === '') throw new S3Error('InvalidArgument', 'If-None-Match must not be empty.')
  return { ifNoneMatch, ifMatch: h.get('if-match') ?? undefined }
}

export async function handlePutObject(op: OpContext): Promise<Response> {
  const metadata = readObjectMetadata(op.headers)
  const conditions = writeConditions(op.headers)
  const sseC = readSseC(op.headers, op.platform)
  const sse = readSseRequest(op.headers, sseC)
  const { stream, digests, length } = receiveBody(op)
  const obj = await putObject(op.service, op.actor, {
    bucket: op.bucket,
    key: op.key,
    body: stream,
    digests,
    length,
    sseC,
    sse,
    ...metadata,
    ...conditions,
    // Integrity is judged for every PUT: a bucket's default retention needs it too.
    lockRequest: { ...readLockHeaders(op.headers), integrity: hasIntegrityHeader(op.headers) },
    tags: readTaggingHeader(op.headers),
    acl: aclRequestOf(op.headers),
  })
  return emptyResponse(200, {
    etag: obj.etag,
    ...checksumHeaders(obj.checksum),
    ...encryptionHeaders(obj.sse, sseC, obj.kms, { context: true }),
    ...versionHeaders(obj),
    ...expirationHeaders(obj),
  })
}
