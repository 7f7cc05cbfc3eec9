/**
 * Black-box conditional reads (GET/HEAD, RFC 7232 precedence as S3 applies it) and conditional
 * writes (PutObject / CompleteMultipartUpload with If-None-Match: * and If-Match).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { startServer, type TestServer } from '../helpers/server.ts'
import { bodyBytes, bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { errorFields, md5hex, objectPath, rawRequest } from '../helpers/raw.ts'

let server: TestServer
let s3: S3Client
const Bucket = bucketName('cond')
let etag = ''
let lastModified = new Date(0)
const earlier = () => new Date(lastModified.getTime() - 3600_000).toUTCString()
const later = () => new Date(lastModified.getTime() + 3600_000).toUTCString()

beforeAll(async () => {
  server = await startServer()
  s3 = s3Client(server)
  await s3.send(new CreateBucketCommand({ Bucket }))
  const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'obj', Body: 'conditional body' }))
  etag = put.ETag!
  lastModified = (await s3.send(new HeadObjectCommand({ Bucket, Key: 'obj' }))).LastModified!
})
afterAll(async () => {
  s3?.destroy()
  await server?.stop()
})

const get = (method: 'GET' | 'HEAD', headers: Record<string, string>) =>
  rawRequest(server, { method, path: objectPath(Bucket, 'obj'), headers })

describe('conditional GET / HEAD', () => {
  const cases: Array<[string, () => Record<string, string>, number]> = [
    ['If-Match matching', () => ({ 'if-match': etag }), 200],
    ['If-Match other', () => ({ 'if-match': '"00000000000000000000000000000000"' }), 412],
    ['If-None-Match matching', () => ({ 'if-none-match': etag }), 304],
    ['If-None-Match other', () => ({ 'if-none-match': '"00000000000000000000000000000000"' }), 200],
    ['If-Modified-Since after', () => ({ 'if-modified-since': later() }), 304],
    ['If-Modified-Since = Last-Modified', () => ({ 'if-modified-since': lastModified.toUTCString() }), 304],
    ['If-Modified-Since before', () => ({ 'if-modified-since': earlier() }), 200],
    ['If-Unmodified-Since before', () => ({ 'if-unmodified-since': earlier() }), 412],
    ['If-Unmodified-Since after', () => ({ 'if-unmodified-since': later() }), 200],
    // S3 precedence: If-Match true wins over a false If-Unmodified-Since …
    ['If-Match true + If-Unmodified-Since false', () => ({ 'if-match': etag, 'if-unmodified-since': earlier() }), 200],
    // … and a false If-None-Match (i.e. it matches) wins over a true If-Modified-Since.
    [
      'If-None-Match false + If-Modified-Since true',
      () => ({ 'if-none-match': etag, 'if-modified-since': earlier() }),
      304,
    ],
    ['If-Match false + If-None-Match true', () => ({ 'if-match': '"nope"', 'if-none-match': '"other"' }), 412],
    ['unparseable If-Modified-Since is ignored', () => ({ 'if-modified-since': 'yesterday-ish' }), 200],
  ]
  for (const method of ['GET', 'HEAD'] as const) {
    it.each(cases)(`${method} %s`, async (_l, headers, status) => {
      const r = await get(method, headers())
      expect(r.status, r.body).toBe(status)
      if (status === 200) {
        expect(r.headers.etag).toBe(etag)
        if (method === 'GET') expect(r.body).toBe('conditional body')
      }
      if (status === 304) {
        expect(r.headers.etag).toBe(etag)
        expect(r.headers['last-modified']).toBe(lastModified.toUTCString())
        expect(r.bytes.length).toBe(0)
      }
      if (status === 412 && method === 'GET') expect(errorFields(r.body).code).toBe('PreconditionFailed')
      if (method === 'HEAD') expect(r.bytes.length).toBe(0)
    })
  }

  it('the SDK sees 412 PreconditionFailed and 304 NotModified', async () => {
    const e = await sdkError(s3.send(new GetObjectCommand({ Bucket, Key: 'obj', IfMatch: '"nope"' })))
    expect(e.status).toBe(412)
    expect(e.name).toBe('PreconditionFailed')
    const n = await sdkError(s3.send(new GetObjectCommand({ Bucket, Key: 'obj', IfNoneMatch: etag })))
    expect(n.status).toBe(304)
  })
})

describe('conditional PutObject', () => {
  it('If-None-Match: * creates when absent, 412 PreconditionFailed when present (object unchanged)', async () => {
    const Key = 'w/inm'
    const first = await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'one', IfNoneMatch: '*' }))
    expect(first.ETag).toBe(`"${md5hex('one')}"`)
    const e = await sdkError(s3.send(new PutObjectCommand({ Bucket, Key, Body: 'two', IfNoneMatch: '*' })))
    expect(e.status).toBe(412)
    expect(e.name).toBe('PreconditionFailed')
    const now = await s3.send(new GetObjectCommand({ Bucket, Key }))
    expect((await bodyBytes(now.Body)).toString()).toBe('one')
  })

  it('If-Match: writes on a matching ETag, 412 on a mismatch (object unchanged)', async () => {
    const Key = 'w/im'
    const v1 = await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'v1' }))
    const v2 = await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'v2', IfMatch: v1.ETag }))
    expect(v2.ETag).toBe(`"${md5hex('v2')}"`)
    const e = await sdkError(s3.send(new PutObjectCommand({ Bucket, Key, Body: 'v3', IfMatch: v1.ETag })))
    expect(e.status).toBe(412)
    expect(e.name).toBe('PreconditionFailed')
    const now = await s3.send(new GetObjectCommand({ Bucket, Key }))
    expect((await bodyBytes(now.Body)).toString()).toBe('v2')
  })

  it('If-Match on a key that does not exist fails (404 NoSuchKey or 412) and creates nothing', async () => {
    const e = await sdkError(s3.send(new PutObjectCommand({ Bucket, Key: 'w/absent', Body: 'x', IfMatch: '"abc"' })))
    expect([404, 412]).toContain(e.status)
    expect((await sdkError(s3.send(new HeadObjectCommand({ Bucket, Key: 'w/absent' })))).status).toBe(404)
  })
})

describe('conditional CompleteMultipartUpload', () => {
  const upload = async (Key: string, body: string) => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }))
    const part = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: body }))
    return { UploadId: UploadId!, Parts: [{ PartNumber: 1, ETag: part.ETag!, ChecksumCRC32: part.ChecksumCRC32 }] }
  }

  it('If-None-Match: * completes when absent and 412 when the key exists', async () => {
    const Key = 'mpu/inm'
    const a = await upload(Key, 'first')
    const ok = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId: a.UploadId,
        MultipartUpload: { Parts: a.Parts },
        IfNoneMatch: '*',
      }),
    )
    expect(ok.ETag).toMatch(/^"[0-9a-f]{32}-1"$/)
    const b = await upload(Key, 'second')
    const e = await sdkError(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId: b.UploadId,
          MultipartUpload: { Parts: b.Parts },
          IfNoneMatch: '*',
        }),
      ),
    )
    expect(e.status).toBe(412)
    expect(e.name).toBe('PreconditionFailed')
    const now = await s3.send(new GetObjectCommand({ Bucket, Key }))
    expect((await bodyBytes(now.Body)).toString()).toBe('first')
  })

  it('If-Match with a stale ETag → 412', async () => {
    const Key = 'mpu/im'
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'existing' }))
    const a = await upload(Key, 'replacement')
    const e = await sdkError(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId: a.UploadId,
          MultipartUpload: { Parts: a.Parts },
          IfMatch: '"0123456789abcdef0123456789abcdef"',
        }),
      ),
    )
    expect(e.status).toBe(412)
    const now = await s3.send(new GetObjectCommand({ Bucket, Key }))
    expect((await bodyBytes(now.Body)).toString()).toBe('existing')
  })
})
