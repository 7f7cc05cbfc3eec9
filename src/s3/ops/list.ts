/** ListObjectsV2 and ListObjects (v1): parameters, continuation tokens, encoding-type=url. */
import { listObjects } from '../../service/index.ts'
import { xmlResponse, type OpContext } from '../context.ts'
import { decodeContinuationToken, encodeContinuationToken } from '../continuation-token.ts'
import { S3Error } from '../errors.ts'
import { checkKeyParameter } from '../object-keys.ts'
import { listObjectsV1Xml, listObjectsV2Xml, urlEncodeListing } from '../xml/documents.ts'

export const MAX_KEYS = 1000

export function readMaxKeys(query: URLSearchParams, name = 'max-keys'): number {
  const raw = query.get(name)
  if (raw === null) return MAX_KEYS
  const n = Number(raw)
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) {
    throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, {
      ArgumentName: name,
      ArgumentValue: raw,
    })
  }
  return Math.min(n, MAX_KEYS)
}

/** Listing parameters that are keys or parts of keys: none may hold a NUL (object-keys.ts). */
export function checkListingParameters(query: URLSearchParams, names: readonly string[]): void {
  for (const name of names) checkKeyParameter(query, name)
}

/** `encoding-type=url`: S3 percent-encodes keys in the response so any byte survives XML. */
export function readEncoder(query: URLSearchParams): { encodingType?: 'url'; encode: (s: string) => string } {
  const t = query.get('encoding-type')
  if (t === null) return { encode: (s) => s }
  if (t.toLowerCase() !== 'url')
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', {
      ArgumentName: 'encoding-type',
      ArgumentValue: t,
    })
  return { encodingType: 'url', encode: urlEncodeListing }
}

export async function handleListObjectsV2(op: OpContext): Promise<Response> {
  const q = op.query
  checkListingParameters(q, ['prefix', 'delimiter', 'start-after'])
  const { encodingType, encode } = readEncoder(q)
  const prefix = q.get('prefix') ?? ''
  const delimiter = q.get('delimiter') || undefined
  const maxKeys = readMaxKeys(q)
  const token = q.get('continuation-token') ?? undefined
  const startAfter = q.get('start-after') ?? undefined
  // An empty token is no token: S3 lists from the start (and echoes it), as s3-tests'
  // test_bucket_listv2_continuationtoken_empty expects; any other token must be ours.
  const after = token ? decodeContinuationToken(op.platform, token) : startAfter
  const page = await listObjects(op.service, op.actor, {
    bucket: op.bucket,
    prefix,
    delimiter,
    startAfter: after,
    maxKeys,
  })
  const owner =
    q.get('fetch-owner') === 'true' ? { id: op.actor.accessKeyId, displayName: op.actor.displayName } : undefined
  return xmlResponse(
    listObjectsV2Xml({
      name: op.bucket,
      prefix: encode(prefix),
      delimiter: delimiter !== undefined ? encode(delimiter) : undefined,
      maxKeys,
      encodingType,
      keyCount: page.objects.length + page.commonPrefixes.length,
      isTruncated: page.isTruncated,
      continuationToken: token,
      nextContinuationToken:
        page.isTruncated && page.nextMarker !== undefined
          ? encodeContinuationToken(op.platform, page.nextMarker)
          : undefined,
      startAfter: startAfter !== undefined ? encode(startAfter) : undefined,
      contents: page.objects.map((o) => ({
        key: encode(o.key),
        lastModified: o.lastModified,
        etag: o.etag,
        size: o.size,
        storageClass: 'STANDARD',
        checksumAlgorithm: o.checksum?.algorithm,
        checksumType: o.checksum?.type,
        owner,
      })),
      commonPrefixes: page.commonPrefixes.map((p) => encode(p)),
    }),
  )
}

export async function handleListObjectsV1(op: OpContext): Promise<Response> {
  const q = op.query
  checkListingParameters(q, ['prefix', 'delimiter', 'marker'])
  const { encodingType, encode } = readEncoder(q)
  const prefix = q.get('prefix') ?? ''
  const delimiter = q.get('delimiter') || undefined
  const maxKeys = readMaxKeys(q)
  const marker = q.get('marker') ?? ''
  const page = await listObjects(op.service, op.actor, {
    bucket: op.bucket,
    prefix,
    delimiter,
    startAfter: marker || undefined,
    maxKeys,
  })
  const owner = { id: op.actor.accessKeyId, displayName: op.actor.displayName }
  return xmlResponse(
    listObjectsV1Xml({
      name: op.bucket,
      prefix: encode(prefix),
      marker: encode(marker),
      delimiter: delimiter !== undefined ? encode(delimiter) : undefined,
      maxKeys,
      encodingType,
      isTruncated: page.isTruncated,
      // S3 sends NextMarker only with a delimiter; without one clients continue from the last key.
      nextMarker:
        page.isTruncated && delimiter !== undefined && page.nextMarker !== undefined
          ? encode(page.nextMarker)
          : undefined,
      contents: page.objects.map((o) => ({
        key: encode(o.key),
        lastModified: o.lastModified,
        etag: o.etag,
        size: o.size,
        storageClass: 'STANDARD',
        owner,
      })),
      commonPrefixes: page.commonPrefixes.map((p) => encode(p)),
    }),
  )
}
