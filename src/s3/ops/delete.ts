/** DeleteObject and DeleteObjects (quiet and verbose). */
import { deleteObject, deleteObjects } from '../../service/index.ts'
import { digestTap, parseChecksumRequest } from '../auth/checksums.ts'
import { allowedEach } from '../authorize.ts'
import { emptyResponse, xmlResponse, type OpContext } from '../context.ts'
import { S3Error } from '../errors.ts'
import { parseDelete } from '../xml/read.ts'
import { deleteResultXml } from '../xml/documents.ts'
import { readVersionId, versionHeaders } from './versions.ts'
import { readBypass } from './locks.ts'

/** 1,000 keys of up to 1 KiB each plus markup stays well under this. */
const MAX_DELETE_BODY = 2 * 1024 * 1024

export async function handleDeleteObject(op: OpContext): Promise<Response> {
  const done = await deleteObject(
    op.service,
    op.actor,
    op.bucket,
    op.key,
    readVersionId(op.query),
    readBypass(op.headers),
  )
  return emptyResponse(204, versionHeaders(done))
}

export async function handleDeleteObjects(op: OpContext): Promise<Response> {
  // S3 requires an integrity check on this body: Content-MD5 or a flexible checksum.
  const contentMd5 = op.headers.get('content-md5') ?? undefined
  const checksum = parseChecksumRequest(op.headers)
  if (contentMd5 === undefined && checksum === undefined) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5 or x-amz-checksum-*')
  }
  const body = op.body()
  const verified = digestTap(body.stream, { contentMd5, checksum, trailers: () => body.trailers() }, op.platform)
  const request = await parseDelete(verified.stream, MAX_DELETE_BODY)
  // Each key is its own resource: S3 decides s3:DeleteObject (s3:DeleteObjectVersion with a
  // version id) per key and reports refusals per key.
  const allowed = await allowedEach(
    op.service,
    op.actor,
    request.objects.map((o) => ({
      ...op.facts,
      endpoint: 'DeleteObject' as const,
      key: o.key,
      query: new URLSearchParams(o.versionId === undefined ? '' : `versionId=${encodeURIComponent(o.versionId)}`),
    })),
  )
  const denied = request.objects.filter((_, i) => !allowed[i])
  const outcomes = await deleteObjects(
    op.service,
    op.actor,
    op.bucket,
    request.objects.filter((_, i) => allowed[i]),
    readBypass(op.headers),
  )
  return xmlResponse(
    deleteResultXml({
      deleted: request.quiet
        ? []
        : outcomes
            .filter((o) => !o.error)
            .map((o) => ({
              key: o.key,
              versionId: o.requestedVersionId,
              deleteMarker: o.deleteMarker,
              // The marker made, or the marker removed by its id.
              deleteMarkerVersionId: o.deleteMarker ? o.versionId : undefined,
            })),
      errors: [
        ...denied.map((o) => ({ key: o.key, versionId: o.versionId, code: 'AccessDenied', message: 'Access Denied' })),
        ...outcomes.flatMap((o) =>
          o.error
            ? [{ key: o.key, versionId: o.requestedVersionId, code: o.error.code, message: o.error.message }]
            : [],
        ),
      ],
    }),
  )
}
