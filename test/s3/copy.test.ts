/**
 * Black-box CopyObject: metadata directives, copy onto itself, x-amz-copy-source-if-* preconditions,
 * URL-encoded source keys, missing sources.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes, createHash } from 'node:crypto'
import {
  CopyObjectCommand,
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { startServer, type TestServer } from '../helpers/server.ts'
import { bodyBytes, bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { errorFields, md5hex, objectPath, rawRequest } from '../helpers/raw.ts'

let server: TestServer
let s3: S3Client
const Bucket = bucketName('copy')
const Other = bucketName('copy-dst')
const src = randomBytes(2 * 1024 * 1024 + 11)
let srcEtag = ''
let srcModified = new Date(0)
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

beforeAll(async () => {
  server = await startServer()
  s3 = s3Client(server)
  await s3.send(new CreateBucketCommand({ Bucket }))
  await s3.send(new CreateBucketCommand({ Bucket: Other }))
  const put = await s3.send(
    new PutObjectCommand({
      Bucket,
      Key: 'src',
      Body: src,
      ContentType: 'image/x-src',
      CacheControl: 'no-store',
      Metadata: { color: 'blue' },
    }),
  )
  srcEtag = put.ETag!
  srcModified = (await s3.send(new HeadObjectCommand({ Bucket, Key: 'src' }))).LastModified!
})
afterAll(async () => {
  s3?.destroy()
  await server?.stop()
})

describe('CopyObject', () => {
  it('COPY directive (default) copies bytes and metadata, to another bucket too', async () => {
    for (const dst of [Bucket, Other]) {
      const r = await s3.send(new CopyObjectCommand({ Bucket: dst, Key: 'copied', CopySource: `${Bucket}/src` }))
      expect(r.CopyObjectResult?.ETag).toBe(srcEtag)
      expect(r.CopyObjectResult?.LastModified).toBeInstanceOf(Date)
      const get = await s3.send(new GetObjectCommand({ Bucket: dst, Key: 'copied' }))
      expect(get.ContentType).toBe('image/x-src')
      expect(get.CacheControl).toBe('no-store')
      expect(get.Metadata).toEqual({ color: 'blue' })
      expect(get.ETag).toBe(srcEtag)
      expect(sha(await bodyBytes(get.Body))).toBe(sha(src))
    }
  })

  it('COPY ignores metadata sent with the request; REPLACE uses it', async () => {
    await s3.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'c-copy',
        CopySource: `${Bucket}/src`,
        MetadataDirective: 'COPY',
        Metadata: { color: 'red' },
        ContentType: 'text/plain',
      }),
    )
    const c = await s3.send(new HeadObjectCommand({ Bucket, Key: 'c-copy' }))
    expect(c.Metadata).toEqual({ color: 'blue' })
    expect(c.ContentType).toBe('image/x-src')
    await s3.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'c-replace',
        CopySource: `${Bucket}/src`,
        MetadataDirective: 'REPLACE',
        Metadata: { shape: 'round' },
        ContentType: 'text/plain',
      }),
    )
    const r = await s3.send(new HeadObjectCommand({ Bucket, Key: 'c-replace' }))
    expect(r.Metadata).toEqual({ shape: 'round' })
    expect(r.ContentType).toBe('text/plain')
    expect(r.CacheControl).toBeUndefined()
    expect(r.ETag).toBe(srcEtag)
  })

  it('copy onto itself without REPLACE → 400 InvalidRequest; with REPLACE → 200 and new metadata', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'self', Body: 'self body', Metadata: { v: '1' } }))
    const e = await sdkError(s3.send(new CopyObjectCommand({ Bucket, Key: 'self', CopySource: `${Bucket}/self` })))
    expect(e.status).toBe(400)
    expect(e.name).toBe('InvalidRequest')
    const ok = await s3.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'self',
        CopySource: `${Bucket}/self`,
        MetadataDirective: 'REPLACE',
        Metadata: { v: '2' },
      }),
    )
    expect(ok.CopyObjectResult?.ETag).toBe(`"${md5hex('self body')}"`)
    const h = await s3.send(new GetObjectCommand({ Bucket, Key: 'self' }))
    expect(h.Metadata).toEqual({ v: '2' })
    expect((await bodyBytes(h.Body)).toString()).toBe('self body')
  })

  it('source keys with unicode, spaces and + (URL-encoded x-amz-copy-source)', async () => {
    for (const key of ['dir/ünï cødé+plus.txt', 'with space', '日本/語']) {
      await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: `body of ${key}` }))
      const CopySource = `${Bucket}/${key.split('/').map(encodeURIComponent).join('/')}`
      await s3.send(new CopyObjectCommand({ Bucket, Key: `dst/${key}`, CopySource }))
      const get = await s3.send(new GetObjectCommand({ Bucket, Key: `dst/${key}` }))
      expect((await bodyBytes(get.Body)).toString()).toBe(`body of ${key}`)
    }
  })

  it('x-amz-copy-source with a leading slash is accepted (raw)', async () => {
    const r = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, 'raw-dst'),
      headers: { 'x-amz-copy-source': `/${Bucket}/src` },
    })
    expect(r.status, r.body).toBe(200)
    expect(r.body).toContain('<CopyObjectResult')
    // The quotes of the ETag may be escaped (&quot;) or literal in XML text.
    const bare = srcEtag.replace(/"/g, '')
    expect(r.body).toMatch(new RegExp(`<ETag>(&quot;|&#34;|")${bare}(&quot;|&#34;|")</ETag>`))
  })

  it('missing source key → 404 NoSuchKey; missing source bucket → 404 NoSuchBucket', async () => {
    const k = await sdkError(
      s3.send(new CopyObjectCommand({ Bucket, Key: 'x', CopySource: `${Bucket}/does-not-exist` })),
    )
    expect(k.status).toBe(404)
    expect(k.name).toBe('NoSuchKey')
    const b = await sdkError(
      s3.send(new CopyObjectCommand({ Bucket, Key: 'x', CopySource: `${bucketName('missing')}/src` })),
    )
    expect(b.status).toBe(404)
    expect(b.name).toBe('NoSuchBucket')
    expect((await sdkError(s3.send(new HeadObjectCommand({ Bucket, Key: 'x' })))).status).toBe(404)
  })
})

describe('x-amz-copy-source-if-*', () => {
  const earlier = () => new Date(srcModified.getTime() - 3600_000)
  const later = () => new Date(srcModified.getTime() + 3600_000)
  const cases: Array<[string, () => Record<string, unknown>, boolean]> = [
    ['if-match matching', () => ({ CopySourceIfMatch: srcEtag }), true],
    ['if-match other', () => ({ CopySourceIfMatch: '"0123456789abcdef0123456789abcdef"' }), false],
    ['if-none-match matching', () => ({ CopySourceIfNoneMatch: srcEtag }), false],
    ['if-none-match other', () => ({ CopySourceIfNoneMatch: '"0123456789abcdef0123456789abcdef"' }), true],
    ['if-modified-since after', () => ({ CopySourceIfModifiedSince: later() }), false],
    ['if-modified-since before', () => ({ CopySourceIfModifiedSince: earlier() }), true],
    ['if-unmodified-since before', () => ({ CopySourceIfUnmodifiedSince: earlier() }), false],
    ['if-unmodified-since after', () => ({ CopySourceIfUnmodifiedSince: later() }), true],
    // S3: if-match true + if-unmodified-since false → copy; if-none-match false + if-modified-since true → 412.
    [
      'if-match true + if-unmodified-since false',
      () => ({ CopySourceIfMatch: srcEtag, CopySourceIfUnmodifiedSince: earlier() }),
      true,
    ],
    [
      'if-none-match false + if-modified-since true',
      () => ({ CopySourceIfNoneMatch: srcEtag, CopySourceIfModifiedSince: earlier() }),
      false,
    ],
  ]
  it.each(cases)('%s', async (label, extra, copies) => {
    const Key = `cond/${label.replace(/\W+/g, '-')}`
    const p = s3.send(new CopyObjectCommand({ Bucket, Key, CopySource: `${Bucket}/src`, ...extra() }))
    if (copies) {
      const r = await p
      expect(r.CopyObjectResult?.ETag).toBe(srcEtag)
      expect((await s3.send(new HeadObjectCommand({ Bucket, Key }))).ContentLength).toBe(src.length)
    } else {
      const e = await sdkError(p)
      expect(e.status).toBe(412)
      expect(e.name).toBe('PreconditionFailed')
      expect((await sdkError(s3.send(new HeadObjectCommand({ Bucket, Key })))).status).toBe(404)
    }
  })

  it('the 412 body is an S3 <Error> with PreconditionFailed', async () => {
    const r = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, 'cond/raw'),
      headers: { 'x-amz-copy-source': `${Bucket}/src`, 'x-amz-copy-source-if-match': '"nope"' },
    })
    expect(r.status).toBe(412)
    const f = errorFields(r.body)
    expect(f.code).toBe('PreconditionFailed')
    expect(f.requestId).toBeTruthy()
  })
})
