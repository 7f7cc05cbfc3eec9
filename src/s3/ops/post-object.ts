/**
 * POST Object: a browser form upload (multipart/form-data to the bucket URL). The form carries its
 * own authentication — a policy document and its signature — so it is answered here rather than
 * after header authentication: fields are read (bounded), the policy checked, the signature
 * verified and the key's user resolved by the same `actorFor` as every signed request; then the
 * file part streams through the same checks and write path as PutObject (metadata, SSE, checksums,
 * MD5 ETag), never buffered whole.
 */
import { checkNewObjectAcl } from '../../service/index.ts'
import { aclRequestOf } from '../acl-request.ts'
import { actorFor, lookupSecret, putObject, type Service } from '../../service/index.ts'
import { authorizeRequest } from '../authorize.ts'
import type { Platform } from '../../util/platform.ts'
import { digestTap, parseChecksumRequest } from '../auth/checksums.ts'
import { toHex } from '../../util/bytes.ts'
import { S3Error } from '../errors.ts'
import { formBoundary, readForm } from '../form-data.ts'
import { readObjectMetadata } from '../headers.ts'
import { checkObjectKey } from '../object-keys.ts'
import { checkPolicy, parsePolicy, sizeBounds, verifyPostSignature } from '../post-policy.ts'
import { encryptionHeaders, readSseC, readSseRequest } from '../sse.ts'
import { escapeXml } from '../xml/write.ts'
import { MAX_PUT_BYTES, checksumHeaders } from './body.ts'
import { readTaggingField, tagQuery } from './tagging.ts'

export interface PostObjectInput {
  req: Request
  /** The request body, already wrapped in the body time limits. */
  body: ReadableStream<Uint8Array>
  bucket: string
  /** The bucket's URL (`https://host/bucket`), for Location. */
  bucketUrl: string
  service: Service
  platform: Platform
  region: string
  sigv2: boolean
  /** Takes an upload slot for the signer (released by the caller), or throws SlowDown. */
  takeSlot(accessKeyId: string): void
  /** `address:port` of the client (aws:SourceIp), when the runtime knows it. */
  connection?: string
}

/** A POST to a bucket with a form body (and none of the bucket POST sub-resources) is POST Object. */
export const isPostObject = (method: string, key: string | undefined, query: URLSearchParams, h: Headers): boolean =>
  method === 'POST' && key === undefined && !query.has('delete') && formBoundary(h.get('content-type')) !== undefined

/** Form fields that become PutObject request headers. */
const HEADER_FIELDS =
  /^(content-type|cache-control|content-disposition|content-encoding|content-language|expires|x-amz-meta-.+|x-amz-server-side-encryption.*|x-amz-checksum-.+)$/

export async function handlePostObject(p: PostObjectInput): Promise<Response> {
  const boundary = formBoundary(p.req.headers.get('content-type'))!
  const form = await readForm(p.body, boundary)
  const fields = new Map(form.fields)
  fields.set('bucket', p.bucket)
  const policyB64 = fields.get('policy')
  // Without a policy the form is anonymous, as on S3: allowed only where the bucket's policy or
  // ACL lets anyone write (decided by the authorization step below, before the file is read).
  const signed =
    policyB64 === undefined
      ? undefined
      : await verifyPostSignature(fields, policyB64, {
          region: p.region,
          platform: p.platform,
          sigv2: p.sigv2,
          lookupSecret: (id) => lookupSecret(p.service, id),
        })
  const rawKey = fields.get('key')
  if (rawKey === undefined) {
    throw new S3Error(
      'InvalidArgument',
      "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
      {
        ArgumentName: 'key',
      },
    )
  }
  if (!form.file)
    throw new S3Error('InvalidArgument', 'POST requires exactly one file upload per request.', { ArgumentName: 'file' })
  // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's literal ${filename} form variable
  const key = rawKey.replaceAll('${filename}', form.file.filename)
  fields.set('key', rawKey)
  const range =
    policyB64 === undefined ? { min: 0, max: MAX_PUT_BYTES } : checkPolicy(parsePolicy(policyB64), fields, new Date())
  if (key === '') throw new S3Error('InvalidArgument', 'The key must not be empty.', { ArgumentName: 'key' })
  checkObjectKey(key)
  // The form's `tagging` field (a Tagging document) is what x-amz-tagging is to a PUT: it asks for
  // s3:PutObjectTagging and gives the s3:RequestObjectTag condition keys.
  const tags = readTaggingField(fields.get('tagging'))
  // The same authorization step as every request (src/s3/authorize.ts): s3:PutObject on the key
  // (and s3:PutObjectAcl with an `acl` field), with the request's condition keys (aws:SourceIp).
  const factsHeaders = new Headers(p.req.headers)
  if (tags !== undefined) factsHeaders.set('x-amz-tagging', tagQuery(tags))
  const acl = fields.get('acl')
  if (acl !== undefined) factsHeaders.set('x-amz-acl', acl)
  const actor = await authorizeRequest(p.service, signed && (await actorFor(p.service, signed.accessKeyId)), {
    endpoint: 'PostObject',
    bucket: p.bucket,
    key,
    query: new URLSearchParams(),
    headers: factsHeaders,
    auth: signed && { accessKeyId: signed.accessKeyId, presigned: false, payload: { kind: 'unsigned' } },
    connection: p.connection,
    now: new Date(),
  })
  const aclRequest = aclRequestOf(factsHeaders)
  if (aclRequest) await checkNewObjectAcl(p.service, actor, p.bucket, aclRequest)

  // The fields that PutObject takes as headers, so its own readers (metadata, SSE, checksums) apply.
  const headers = new Headers()
  for (const [name, value] of form.fields) if (HEADER_FIELDS.test(name)) headers.set(name, value)
  const metadata = readObjectMetadata(headers)
  const sseC = readSseC(headers, p.platform)
  const sse = readSseRequest(headers, sseC)
  p.takeSlot(signed?.accessKeyId ?? '')
  const declared = Number(p.req.headers.get('content-length') ?? Number.NaN)
  const bounded = form.file.stream.pipeThrough(sizeBounds({ min: range.min, max: Math.min(range.max, MAX_PUT_BYTES) }))
  const tap = digestTap(bounded, { checksum: parseChecksumRequest(headers) }, p.platform)
  const obj = await putObject(p.service, actor, {
    bucket: p.bucket,
    key,
    body: tap.stream,
    digests: () => {
      const r = tap.result()
      return {
        etag: `"${toHex(r.md5)}"`,
        checksum: r.checksum
          ? { algorithm: r.checksum.algorithm, type: 'FULL_OBJECT', value: r.checksum.value }
          : undefined,
      }
    },
    // The whole form's length bounds the file's: the write is admitted against free space for it.
    length: Number.isSafeInteger(declared) ? declared : undefined,
    sseC,
    sse,
    ...metadata,
    tags,
    acl: aclRequest,
  })
  const location = `${p.bucketUrl}/${encodeURIComponent(key).replace(/%2F/g, '/')}`
  const out: Record<string, string> = {
    etag: obj.etag,
    location,
    ...checksumHeaders(obj.checksum),
    ...encryptionHeaders(obj.sse, sseC, obj.kms, { context: true }),
  }
  const redirect = fields.get('success_action_redirect') ?? fields.get('redirect')
  if (redirect !== undefined && /^https?:\/\//i.test(redirect)) {
    const u = new URL(redirect)
    u.searchParams.set('bucket', p.bucket)
    u.searchParams.set('key', key)
    u.searchParams.set('etag', obj.etag)
    return new Response(null, { status: 303, headers: { ...out, location: u.toString() } })
  }
  const status = fields.get('success_action_status')
  if (status === '200') return new Response(null, { status: 200, headers: out })
  if (status === '201') {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>' +
      `<Location>${escapeXml(location)}</Location><Bucket>${escapeXml(p.bucket)}</Bucket>` +
      `<Key>${escapeXml(key)}</Key><ETag>${escapeXml(obj.etag)}</ETag></PostResponse>`
    return new Response(xml, { status: 201, headers: { ...out, 'content-type': 'application/xml' } })
  }
  return new Response(null, { status: 204, headers: out })
}
