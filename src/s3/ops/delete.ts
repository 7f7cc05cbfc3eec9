/** DeleteObject and DeleteObjects (quiet and verbose). */
import { digestTap, parseChecksumRequest } from '../auth/checksums.ts'
import { emptyResponse, xmlResponse, type OpContext } from '../context.ts'
import { S3Error } from '../errors.ts'
import { parseDelete } from '../xml/read.ts'
import { deleteResultXml } from '../xml/documents.ts'

/** 1,000 keys of up to 1 KiB each plus markup stays well under this. */
const MAX_DELETE_BODY = 2 * 1024 * 1024

export async function deleteObject(ctx: OpContext): Promise<Response> {
  await ctx.service.objects.delete(ctx.actor, ctx.bucket, ctx.key)
  return emptyResponse(204)
}

export async function deleteObjects(ctx: OpContext): Promise<Response> {
  // S3 requires an integrity check on this body: Content-MD5 or a flexible checksum.
  const contentMd5 = ctx.headers.get('content-md5') ?? undefined
  const checksum = parseChecksumRequest(ctx.headers)
  if (contentMd5 === undefined && checksum === undefined) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5 or x-amz-checksum-*')
  }
  const body = ctx.body()
  const verified = digestTap(body.stream, { contentMd5, checksum, trailers: () => body.trailers() }, ctx.platform)
  const request = await parseDelete(verified.stream, MAX_DELETE_BODY)
  const outcomes = await ctx.service.objects.deleteMany(
    ctx.actor,
    ctx.bucket,
    request.objects.map((o) => o.key),
  )
  return xmlResponse(
    deleteResultXml({
      deleted: request.quiet ? [] : outcomes.filter((o) => !o.error).map((o) => ({ key: o.key })),
      errors: outcomes.flatMap((o) => (o.error ? [{ key: o.key, code: o.error.code, message: o.error.message }] : [])),
    }),
  )
}
