/** PutObject: headers → metadata, body → storage through the digest tap, conditional writes. */
import { emptyResponse, type OpContext } from '../context.ts'
import { S3Error } from '../errors.ts'
import { readObjectMetadata } from '../headers.ts'
import { encryptionHeaders, readSseC, readSseRequest, requireBucketEncryption } from '../sse.ts'
import { checksumHeaders, receiveBody } from './body.ts'

/** Reads `If-None-Match: *` / `If-Match` for conditional writes (PutObject, CompleteMultipartUpload). */
export function writeConditions(h: Headers): { ifNoneMatch?: '*'; ifMatch?: string } {
  const ifNoneMatch = h.get('if-none-match')
  if (ifNoneMatch !== null && ifNoneMatch.trim() !== '*') {
    throw new S3Error('NotImplemented', 'If-None-Match on writes only supports the value *.')
  }
  return { ifNoneMatch: ifNoneMatch !== null ? '*' : undefined, ifMatch: h.get('if-match') ?? undefined }
}

export async function putObject(ctx: OpContext): Promise<Response> {
  const metadata = readObjectMetadata(ctx.headers)
  const conditions = writeConditions(ctx.headers)
  const sseC = readSseC(ctx.headers, ctx.platform)
  if (readSseRequest(ctx.headers, sseC)) await requireBucketEncryption(ctx)
  const body = receiveBody(ctx)
  const obj = await ctx.service.objects.put(ctx.actor, {
    bucket: ctx.bucket,
    key: ctx.key,
    body: body.stream,
    digests: body.digests,
    sseC,
    ...metadata,
    ...conditions,
  })
  return emptyResponse(200, {
    etag: obj.etag,
    ...checksumHeaders(obj.checksum),
    ...encryptionHeaders(obj.encryption, sseC),
  })
}
