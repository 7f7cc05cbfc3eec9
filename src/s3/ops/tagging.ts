/**
 * Tagging over S3: Get/Put/DeleteObjectTagging (by version too), Get/Put/DeleteBucketTagging,
 * and the tag sets writes carry: `x-amz-tagging` (URL query encoding) on PutObject,
 * CreateMultipartUpload and CopyObject (with `x-amz-tagging-directive`), the `tagging` field of
 * a POST form (a Tagging XML document). The limits are the service's (src/service/tags.ts).
 */
import {
  checkObjectTags,
  deleteBucketTagging,
  deleteObjectTagging,
  getBucketTagging,
  getObjectTagging,
  putBucketTagging,
  putObjectTagging,
  type Tag,
} from '../../service/index.ts'
import { digestTap, parseChecksumRequest } from '../auth/checksums.ts'
import { emptyResponse, type OpContext, xmlResponse } from '../context.ts'
import { S3Error } from '../errors.ts'
import { parseTagging, parseTaggingText, taggingXml } from '../xml/documents.ts'
import { readVersionId, versionHeaders } from './versions.ts'

/**
 * `x-amz-tagging: k1=v1&k2=v2` (URL query encoding, as AWS documents it), checked against the
 * object limits; undefined when the header is absent. A key without `=` has the value ''.
 */
export function readTaggingHeader(h: Headers): Tag[] | undefined {
  const raw = h.get('x-amz-tagging')
  if (raw === null) return undefined
  return checkObjectTags(parseTagQuery(raw), 'header')
}

/** The URL-encoded tag list of x-amz-tagging (also what the policy's RequestObjectTag keys read). */
export function parseTagQuery(raw: string): Tag[] {
  if (raw.trim() === '') return []
  const out: Tag[] = []
  for (const pair of raw.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const key = decode(eq < 0 ? pair : pair.slice(0, eq))
    const value = eq < 0 ? '' : decode(pair.slice(eq + 1))
    out.push({ key, value })
  }
  return out
}

/** A tag list in x-amz-tagging's encoding. */
export const tagQuery = (tags: readonly Tag[]): string =>
  tags.map((t) => `${encodeURIComponent(t.key)}=${encodeURIComponent(t.value)}`).join('&')

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '))
  } catch {
    throw new S3Error(
      'InvalidArgument',
      "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
      { ArgumentName: 'x-amz-tagging' },
    )
  }
}

/**
 * CopyObject's `x-amz-tagging-directive`: COPY (the default) keeps the source version's tags,
 * REPLACE takes x-amz-tagging (none when absent).
 */
export function readTaggingDirective(h: Headers): { directive: 'COPY' } | { directive: 'REPLACE'; tags: Tag[] } {
  const raw = h.get('x-amz-tagging-directive')
  const directive = (raw ?? 'COPY').toUpperCase()
  if (directive === 'COPY') return { directive }
  if (directive === 'REPLACE') return { directive, tags: readTaggingHeader(h) ?? [] }
  throw new S3Error('InvalidArgument', 'Unknown tagging directive.', {
    ArgumentName: 'x-amz-tagging-directive',
    ArgumentValue: raw ?? '',
  })
}

/** The `tagging` field of a POST form: a Tagging XML document, as AWS takes it there. */
export function readTaggingField(field: string | undefined): Tag[] | undefined {
  if (field === undefined) return undefined
  return checkObjectTags(parseTaggingText(field), 'document')
}

/** x-amz-tagging-count on GET/HEAD: only when the version has tags, as S3 answers. */
export const taggingCountHeaders = (o: { tagCount?: number }): Record<string, string> =>
  o.tagCount ? { 'x-amz-tagging-count': String(o.tagCount) } : {}

/** The body, its Content-MD5 / x-amz-checksum-* verified when sent (SDKs always send one). */
function verifiedBody(op: OpContext): ReadableStream<Uint8Array> | null {
  const body = op.body()
  const contentMd5 = op.headers.get('content-md5') ?? undefined
  const checksum = parseChecksumRequest(op.headers)
  return digestTap(body.stream, { contentMd5, checksum, trailers: () => body.trailers() }, op.platform).stream
}

const address = (op: OpContext) => ({ bucket: op.bucket, key: op.key, versionId: readVersionId(op.query) })

export async function handleGetObjectTagging(op: OpContext): Promise<Response> {
  const t = await getObjectTagging(op.service, op.actor, address(op))
  return xmlResponse(taggingXml(t.tags), 200, versionHeaders(t))
}

export async function handlePutObjectTagging(op: OpContext): Promise<Response> {
  const tags = await parseTagging(verifiedBody(op))
  const t = await putObjectTagging(op.service, op.actor, { ...address(op), tags })
  return emptyResponse(200, versionHeaders(t))
}

export async function handleDeleteObjectTagging(op: OpContext): Promise<Response> {
  const t = await deleteObjectTagging(op.service, op.actor, address(op))
  return emptyResponse(204, versionHeaders(t))
}

export async function handleGetBucketTagging(op: OpContext): Promise<Response> {
  return xmlResponse(taggingXml(await getBucketTagging(op.service, op.actor, op.bucket)))
}

export async function handlePutBucketTagging(op: OpContext): Promise<Response> {
  const tags = await parseTagging(verifiedBody(op))
  await putBucketTagging(op.service, op.actor, op.bucket, tags)
  return emptyResponse(204)
}

export async function handleDeleteBucketTagging(op: OpContext): Promise<Response> {
  await deleteBucketTagging(op.service, op.actor, op.bucket)
  return emptyResponse(204)
}
