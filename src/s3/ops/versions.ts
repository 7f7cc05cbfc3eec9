/**
 * Bucket versioning over S3: Get/PutBucketVersioning, ListObjectVersions, and the `versionId`
 * query parameter and `x-amz-version-id` header the object operations share.
 */
import { getBucketVersioning, listObjectVersions, putBucketVersioning } from '../../service/index.ts'
import { digestTap, parseChecksumRequest } from '../auth/checksums.ts'
import { emptyResponse, type OpContext, xmlResponse } from '../context.ts'
import { S3Error } from '../errors.ts'
import { bucketVersioningXml, listVersionsXml } from '../xml/documents.ts'
import { parseVersioningConfiguration } from '../xml/read.ts'
import { checkListingParameters, readEncoder, readMaxKeys } from './list.ts'

/** S3's own ids are at most 1,024 bytes; ours are 32 hex digits or 'null'. */
const MAX_VERSION_ID = 1024

/** `?versionId=` of an object request: undefined when absent; '' or an absurd value is refused. */
export function readVersionId(query: URLSearchParams): string | undefined {
  const v = query.get('versionId')
  if (v === null) return undefined
  if (v === '' || v.length > MAX_VERSION_ID)
    throw new S3Error('InvalidArgument', 'Invalid version id specified', {
      ArgumentName: 'versionId',
      ArgumentValue: v,
    })
  return v
}

/** The response headers naming a version, when there is one to name. */
export function versionHeaders(v: { versionId?: string; deleteMarker?: boolean }): Record<string, string> {
  const h: Record<string, string> = {}
  if (v.versionId !== undefined) h['x-amz-version-id'] = v.versionId
  if (v.deleteMarker) h['x-amz-delete-marker'] = 'true'
  return h
}

export async function handleGetBucketVersioning(op: OpContext): Promise<Response> {
  return xmlResponse(bucketVersioningXml(await getBucketVersioning(op.service, op.actor, op.bucket)))
}

export async function handlePutBucketVersioning(op: OpContext): Promise<Response> {
  const body = op.body()
  const contentMd5 = op.headers.get('content-md5') ?? undefined
  const checksum = parseChecksumRequest(op.headers)
  const verified = digestTap(body.stream, { contentMd5, checksum, trailers: () => body.trailers() }, op.platform)
  const config = await parseVersioningConfiguration(verified.stream)
  if (config.mfaDelete === 'Enabled')
    throw new S3Error('NotImplemented', 'MFA delete is not supported by Coffer.', { ArgumentName: 'MfaDelete' })
  if (config.status !== undefined) await putBucketVersioning(op.service, op.actor, op.bucket, config.status)
  return emptyResponse(200)
}

export async function handleListObjectVersions(op: OpContext): Promise<Response> {
  const q = op.query
  checkListingParameters(q, ['prefix', 'delimiter', 'key-marker'])
  const { encodingType, encode } = readEncoder(q)
  const prefix = q.get('prefix') ?? ''
  const delimiter = q.get('delimiter') || undefined
  const maxKeys = readMaxKeys(q)
  // S3 ignores an empty marker: clients send `key-marker=` on their first page.
  const keyMarker = q.get('key-marker') || undefined
  const versionIdMarker = q.get('version-id-marker') || undefined
  const page = await listObjectVersions(op.service, op.actor, {
    bucket: op.bucket,
    prefix,
    delimiter,
    keyMarker,
    versionIdMarker,
    maxKeys,
  })
  return xmlResponse(
    listVersionsXml({
      name: op.bucket,
      prefix: encode(prefix),
      keyMarker: encode(keyMarker ?? ''),
      versionIdMarker: versionIdMarker ?? '',
      nextKeyMarker: page.nextKeyMarker !== undefined ? encode(page.nextKeyMarker) : undefined,
      nextVersionIdMarker: page.nextVersionIdMarker,
      delimiter: delimiter !== undefined ? encode(delimiter) : undefined,
      maxKeys,
      encodingType,
      isTruncated: page.isTruncated,
      owner: { id: op.actor.accessKeyId, displayName: op.actor.displayName },
      versions: page.versions.map((v) => ({
        key: encode(v.key),
        versionId: v.versionId,
        isLatest: v.isLatest,
        deleteMarker: v.deleteMarker,
        lastModified: v.lastModified,
        etag: v.etag,
        size: v.size,
        checksumAlgorithm: v.checksum?.algorithm,
        checksumType: v.checksum?.type,
      })),
      commonPrefixes: page.commonPrefixes.map((p) => encode(p)),
    }),
  )
}
