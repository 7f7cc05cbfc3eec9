/**
 * CopyObject and UploadPartCopy: resolve `x-amz-copy-source`, check its `-if-*` conditions, then
 * stream the source range through the same digest tap as an upload into putObject / uploadPart.
 */
import type { ObjectInfo } from '../../service/put-object.ts'
import { toHex } from '../../util/bytes.ts'
import type { ChecksumAlgorithm } from '../../util/checksums.ts'
import { digestTap } from '../auth/checksums.ts'
import { xmlResponse, type OpContext } from '../context.ts'
import { S3Error } from '../errors.ts'
import { readConditions, readObjectMetadata } from '../headers.ts'
import { encryptionHeaders, readSseC, readSseRequest, requireBucketEncryption } from '../sse.ts'
import { copyObjectResultXml, copyPartResultXml } from '../xml/documents.ts'
import { MAX_PUT_BYTES, checksumHeaders } from './body.ts'
import { readPartNumber } from './multipart.ts'

interface CopySource {
  bucket: string
  key: string
}

export function parseCopySource(header: string): CopySource {
  const [path, query] = header.split('?', 2) as [string, string | undefined]
  if (query !== undefined) {
    const versionId = new URLSearchParams(query).get('versionId')
    if (versionId !== null && versionId !== 'null')
      throw new S3Error('NotImplemented', 'Copying a specific version is not supported: versioning is not enabled.')
  }
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    throw new S3Error('InvalidArgument', 'Invalid copy source encoding.', { ArgumentName: 'x-amz-copy-source' })
  }
  const trimmed = decoded.startsWith('/') ? decoded.slice(1) : decoded
  const slash = trimmed.indexOf('/')
  if (slash <= 0 || slash === trimmed.length - 1) {
    throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', {
      ArgumentName: 'x-amz-copy-source',
    })
  }
  return { bucket: trimmed.slice(0, slash), key: trimmed.slice(slash + 1) }
}

/** The source object; an SSE-C source needs its key in x-amz-copy-source-server-side-encryption-customer-*. */
async function resolveSource(ctx: OpContext): Promise<ObjectInfo> {
  const src = parseCopySource(ctx.headers.get('x-amz-copy-source')!)
  return ctx.service.objects.statCopySource(
    ctx.actor,
    src.bucket,
    src.key,
    readConditions(ctx.headers, 'x-amz-copy-source-'),
    readSseC(ctx.headers, ctx.platform, true),
  )
}

/**
 * Streams a source range (decrypted) through MD5 and, when asked, a checksum; the result feeds
 * the service, whose write path encrypts it for the target as a fresh upload would be.
 */
async function copyBody(ctx: OpContext, source: ObjectInfo, start: number, end: number, algorithm?: ChecksumAlgorithm) {
  const plaintext = await ctx.service.objects.openCopySource(
    source,
    start,
    end,
    readSseC(ctx.headers, ctx.platform, true),
  )
  const tap = digestTap(plaintext, { checksum: algorithm ? { algorithm, trailer: false } : undefined }, ctx.platform)
  return {
    stream: tap.stream,
    digests: () => {
      const r = tap.result()
      return {
        etag: `"${toHex(r.md5)}"`,
        checksum: r.checksum
          ? { algorithm: r.checksum.algorithm, type: 'FULL_OBJECT' as const, value: r.checksum.value }
          : undefined,
      }
    },
  }
}

export async function copyObject(ctx: OpContext): Promise<Response> {
  const sseC = readSseC(ctx.headers, ctx.platform)
  if (readSseRequest(ctx.headers, sseC)) await requireBucketEncryption(ctx)
  const source = await resolveSource(ctx)
  if (source.size > MAX_PUT_BYTES) {
    throw new S3Error(
      'InvalidRequest',
      `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_PUT_BYTES}`,
    )
  }
  const directive = (ctx.headers.get('x-amz-metadata-directive') ?? 'COPY').toUpperCase()
  if (directive !== 'COPY' && directive !== 'REPLACE')
    throw new S3Error('InvalidArgument', 'Unknown metadata directive.', { ArgumentName: 'x-amz-metadata-directive' })
  if (
    source.bucket === ctx.bucket &&
    source.key === ctx.key &&
    directive === 'COPY' &&
    !sseC &&
    !ctx.headers.has('x-amz-server-side-encryption')
  ) {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    )
  }
  const metadata =
    directive === 'REPLACE'
      ? readObjectMetadata(ctx.headers)
      : { contentType: source.contentType, headers: source.headers, userMeta: source.userMeta }
  const requested = ctx.headers.get('x-amz-checksum-algorithm')?.toUpperCase() as ChecksumAlgorithm | undefined
  // A whole-object checksum survives the copy by recomputing it; composite ones cannot.
  const algorithm =
    requested ??
    (source.checksum?.type === 'FULL_OBJECT' ? (source.checksum.algorithm as ChecksumAlgorithm) : undefined)
  const body = await copyBody(ctx, source, 0, source.size, algorithm)
  const obj = await ctx.service.objects.put(ctx.actor, {
    bucket: ctx.bucket,
    key: ctx.key,
    body: body.stream,
    digests: body.digests,
    sseC,
    ...metadata,
  })
  return xmlResponse(
    copyObjectResultXml({ etag: obj.etag, lastModified: obj.lastModified, checksum: obj.checksum ?? undefined }),
    200,
    {
      ...checksumHeaders(obj.checksum),
      ...encryptionHeaders(obj.encryption, sseC),
    },
  )
}

/** `x-amz-copy-source-range: bytes=first-last`, both required and inside the source. */
function copyRange(header: string | null, size: number): { start: number; end: number } {
  if (header === null) return { start: 0, end: size }
  const m = /^bytes=(\d+)-(\d+)$/.exec(header.trim())
  if (!m)
    throw new S3Error(
      'InvalidArgument',
      'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: header },
    )
  const start = Number(m[1])
  const last = Number(m[2])
  if (last < start || last >= size)
    throw new S3Error('InvalidRange', undefined, { RangeRequested: header, ActualObjectSize: String(size) })
  return { start, end: last + 1 }
}

export async function uploadPartCopy(ctx: OpContext): Promise<Response> {
  const partNumber = readPartNumber(ctx.query)
  const upload = await ctx.service.multipart.getUpload(ctx.actor, ctx.bucket, ctx.key, ctx.query.get('uploadId')!)
  const sseC = readSseC(ctx.headers, ctx.platform)
  const source = await resolveSource(ctx)
  const { start, end } = copyRange(ctx.headers.get('x-amz-copy-source-range'), source.size)
  if (end - start > MAX_PUT_BYTES) throw new S3Error('EntityTooLarge')
  const body = await copyBody(
    ctx,
    source,
    start,
    end,
    (upload.checksumAlgorithm ?? undefined) as ChecksumAlgorithm | undefined,
  )
  const part = await ctx.service.multipart.uploadPart({
    upload,
    partNumber,
    body: body.stream,
    digests: body.digests,
    sseC,
  })
  return xmlResponse(
    copyPartResultXml({ etag: part.etag, lastModified: part.lastModified, checksum: part.checksum ?? undefined }),
    200,
    {
      ...checksumHeaders(part.checksum),
      ...encryptionHeaders(upload.encryption, sseC),
    },
  )
}
