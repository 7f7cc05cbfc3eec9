/**
 * Black-box object round trips over TLS: bytes, headers, metadata, ranges, odd keys, deletes, checksums.
 * Default SDK client (CRC32 + aws-chunked trailers) plus a WHEN_REQUIRED client and raw requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  type ChecksumAlgorithm,
} from '@aws-sdk/client-s3'
import { startServer, type TestServer } from '../helpers/server.ts'
import { bodyBytes, bucketName, s3Client, s3ClientWhenRequired, sdkError } from '../helpers/s3-client.ts'
import { checksumB64, errorFields, md5b64, md5hex, objectPath, rawRequest, type ChecksumAlg } from '../helpers/raw.ts'

let server: TestServer
let s3: S3Client
let s3req: S3Client
const Bucket = bucketName('objects')
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

beforeAll(async () => {
  server = await startServer()
  s3 = s3Client(server)
  s3req = s3ClientWhenRequired(server)
  await s3.send(new CreateBucketCommand({ Bucket }))
})
afterAll(async () => {
  s3?.destroy()
  s3req?.destroy()
  await server?.stop()
})

describe('round trips', () => {
  const sizes: Array<[string, number]> = [
    ['0 B', 0],
    ['1 B', 1],
    ['64 KiB - 1', 64 * 1024 - 1],
    ['1 MiB + 7', 1024 * 1024 + 7],
    ['17 MiB', 17 * 1024 * 1024],
  ]
  it.each(sizes)('PUT/HEAD/GET/DELETE %s (default client): same SHA-256, ETag = quoted MD5', async (_l, size) => {
    const Key = `rt/${size}`
    const data = randomBytes(size)
    const put = await s3.send(new PutObjectCommand({ Bucket, Key, Body: data }))
    expect(put.ETag).toBe(`"${md5hex(data)}"`)
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key }))
    expect(head.ContentLength).toBe(size)
    expect(head.ETag).toBe(put.ETag)
    expect(head.LastModified).toBeInstanceOf(Date)
    const get = await s3.send(new GetObjectCommand({ Bucket, Key }))
    expect(get.ContentLength).toBe(size)
    expect(get.ETag).toBe(put.ETag)
    expect(sha(await bodyBytes(get.Body))).toBe(sha(data))
    const del = await s3.send(new DeleteObjectCommand({ Bucket, Key }))
    expect(del.$metadata.httpStatusCode).toBe(204)
    expect((await sdkError(s3.send(new HeadObjectCommand({ Bucket, Key })))).status).toBe(404)
  })

  it('WHEN_REQUIRED client (plain signed payload) round-trips 1 MiB + 7', async () => {
    const data = randomBytes(1024 * 1024 + 7)
    const put = await s3req.send(new PutObjectCommand({ Bucket, Key: 'rt/when-required', Body: data }))
    expect(put.ETag).toBe(`"${md5hex(data)}"`)
    const get = await s3req.send(new GetObjectCommand({ Bucket, Key: 'rt/when-required' }))
    expect(sha(await bodyBytes(get.Body))).toBe(sha(data))
  })

  it('overwrite replaces bytes and ETag', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'rt/over', Body: 'first' }))
    await s3.send(new PutObjectCommand({ Bucket, Key: 'rt/over', Body: 'second!' }))
    const get = await s3.send(new GetObjectCommand({ Bucket, Key: 'rt/over' }))
    expect((await bodyBytes(get.Body)).toString()).toBe('second!')
    expect(get.ETag).toBe(`"${md5hex('second!')}"`)
  })
})

describe('headers and metadata', () => {
  const expires = new Date('2031-02-03T04:05:06Z')
  it('stores and returns the standard headers and x-amz-meta-* (names case-insensitive, lower-case back)', async () => {
    const Key = 'meta/obj'
    await s3.send(
      new PutObjectCommand({
        Bucket,
        Key,
        Body: 'hello gzip-ish',
        ContentType: 'text/x-coffer; charset=utf-8',
        CacheControl: 'max-age=3600, private',
        ContentDisposition: 'attachment; filename="r\u00e9sum\u00e9.txt"'.replace(/[^\x20-\x7e]/g, '_'),
        ContentEncoding: 'gzip',
        ContentLanguage: 'de-CH',
        Expires: expires,
        Metadata: { 'Mixed-Case': 'Value One', plain: 'two' },
      }),
    )
    for (const r of [
      await s3.send(new HeadObjectCommand({ Bucket, Key })),
      await s3.send(new GetObjectCommand({ Bucket, Key })),
    ]) {
      expect(r.ContentType).toBe('text/x-coffer; charset=utf-8')
      expect(r.CacheControl).toBe('max-age=3600, private')
      expect(r.ContentDisposition).toBe('attachment; filename="r_sum_.txt"')
      // The SDK sends "gzip,aws-chunked" (or "gzip, aws-chunked"); S3 stores only what the client meant: gzip.
      expect(r.ContentEncoding).toBe('gzip')
      expect(r.ContentLanguage).toBe('de-CH')
      expect(r.ExpiresString ?? r.Expires?.toUTCString()).toBe(expires.toUTCString())
      expect(r.Metadata).toEqual({ 'mixed-case': 'Value One', plain: 'two' })
    }
  })

  it('raw PUT with upper-case X-AMZ-META-* names and no Content-Type', async () => {
    const body = Buffer.from('raw-meta')
    const put = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, 'meta/raw'),
      body,
      headers: { 'X-AMZ-META-SHOUTING': 'Loud', 'x-amz-meta-quiet': 'soft' },
    })
    expect(put.status, put.body).toBe(200)
    expect(put.headers.etag).toBe(`"${md5hex(body)}"`)
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'meta/raw' }))
    expect(head.Metadata).toEqual({ shouting: 'Loud', quiet: 'soft' })
    // S3's default content type when none is given.
    expect(head.ContentType).toBe('binary/octet-stream')
  })

  it('response-* query overrides replace the stored headers in GetObject', async () => {
    const Key = 'meta/override'
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'x', ContentType: 'text/plain', CacheControl: 'no-cache' }))
    const r = await s3.send(
      new GetObjectCommand({
        Bucket,
        Key,
        ResponseContentType: 'application/json',
        ResponseContentDisposition: 'inline',
        ResponseCacheControl: 'max-age=5',
        ResponseContentLanguage: 'fr',
        ResponseContentEncoding: 'identity',
        ResponseExpires: expires,
      }),
    )
    expect(r.ContentType).toBe('application/json')
    expect(r.ContentDisposition).toBe('inline')
    expect(r.CacheControl).toBe('max-age=5')
    expect(r.ContentLanguage).toBe('fr')
    expect(r.ContentEncoding).toBe('identity')
    expect(r.ExpiresString ?? r.Expires?.toUTCString()).toBe(expires.toUTCString())
    expect((await bodyBytes(r.Body)).toString()).toBe('x')
  })
})

describe('ranges', () => {
  const size = 1024 * 1024 + 7
  const data = randomBytes(size)
  beforeAll(async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'range/obj', Body: data }))
  })
  const cases: Array<[string, number, number]> = [
    ['bytes=0-9', 0, 9],
    ['bytes=65530-1048500', 65530, 1048500],
    [`bytes=${size - 10}-`, size - 10, size - 1],
    ['bytes=-10', size - 10, size - 1],
    [`bytes=1000-${size + 5000}`, 1000, size - 1],
    [`bytes=-${size + 100}`, 0, size - 1],
    [`bytes=${size - 1}-${size - 1}`, size - 1, size - 1],
  ]
  it.each(cases)('%s → 206 with the right bytes and Content-Range', async (Range, a, b) => {
    const r = await s3.send(new GetObjectCommand({ Bucket, Key: 'range/obj', Range }))
    expect(r.$metadata.httpStatusCode).toBe(206)
    expect(r.ContentRange).toBe(`bytes ${a}-${b}/${size}`)
    expect(r.ContentLength).toBe(b - a + 1)
    expect(r.AcceptRanges).toBe('bytes')
    expect(sha(await bodyBytes(r.Body))).toBe(sha(data.subarray(a, b + 1)))
  })

  it('unsatisfiable range → 416 InvalidRange with Content-Range bytes */size', async () => {
    for (const range of [`bytes=${size}-`, `bytes=${size + 10}-${size + 20}`]) {
      const r = await rawRequest(server, { method: 'GET', path: objectPath(Bucket, 'range/obj'), headers: { range } })
      expect(r.status, range).toBe(416)
      expect(errorFields(r.body).code).toBe('InvalidRange')
      expect(r.headers['content-range']).toBe(`bytes */${size}`)
    }
    const e = await sdkError(s3.send(new GetObjectCommand({ Bucket, Key: 'range/obj', Range: `bytes=${size}-` })))
    expect(e.status).toBe(416)
    expect(e.name).toBe('InvalidRange')
  })

  it('an empty object: bytes=-N is the whole (empty) object, 200 with no Content-Range; bytes=0-, 0-0, -0 → 416', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'range/empty', Body: new Uint8Array(0) }))
    const path = objectPath(Bucket, 'range/empty')
    for (const method of ['GET', 'HEAD']) {
      for (const range of ['bytes=-1', 'bytes=-1000']) {
        const r = await rawRequest(server, { method, path, headers: { range } })
        expect(r.status, `${method} ${range}`).toBe(200)
        expect(r.headers['content-range'], `${method} ${range}`).toBeUndefined()
        expect(r.headers['content-length']).toBe('0')
        expect(r.bytes.length).toBe(0)
      }
      for (const range of ['bytes=0-', 'bytes=0-0', 'bytes=-0', 'bytes=3-7']) {
        const r = await rawRequest(server, { method, path, headers: { range } })
        expect(r.status, `${method} ${range}`).toBe(416)
        expect(r.headers['content-range'], `${method} ${range}`).toBe('bytes */0')
        if (method === 'GET') expect(errorFields(r.body).code).toBe('InvalidRange')
      }
    }
    const sdk = await s3.send(new GetObjectCommand({ Bucket, Key: 'range/empty', Range: 'bytes=-1' }))
    expect(sdk.$metadata.httpStatusCode).toBe(200)
    expect((await bodyBytes(sdk.Body)).length).toBe(0)
  })

  it('a syntactically invalid Range header is ignored (200, whole object), as S3 does', async () => {
    const r = await rawRequest(server, {
      method: 'GET',
      path: objectPath(Bucket, 'range/obj'),
      headers: { range: 'bytes=abc' },
    })
    expect(r.status).toBe(200)
    expect(r.bytes.length).toBe(size)
  })
})

describe('missing things', () => {
  it('GET of a missing key → 404 NoSuchKey; missing bucket → 404 NoSuchBucket', async () => {
    const k = await sdkError(s3.send(new GetObjectCommand({ Bucket, Key: 'nope/never' })))
    expect(k.status).toBe(404)
    expect(k.name).toBe('NoSuchKey')
    const b = await sdkError(s3.send(new GetObjectCommand({ Bucket: bucketName('missing'), Key: 'k' })))
    expect(b.status).toBe(404)
    expect(b.name).toBe('NoSuchBucket')
    const raw = await rawRequest(server, { method: 'GET', path: objectPath(Bucket, 'nope/never') })
    const f = errorFields(raw.body)
    expect(f.code).toBe('NoSuchKey')
    expect(f.requestId).toBeTruthy()
    expect(raw.body).toContain('<Key>nope/never</Key>')
  })

  it('HEAD of a missing key → 404 with no body', async () => {
    const r = await rawRequest(server, { method: 'HEAD', path: objectPath(Bucket, 'nope/never') })
    expect(r.status).toBe(404)
    expect(r.bytes.length).toBe(0)
  })

  it('DeleteObject of a missing key → 204', async () => {
    const r = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'nope/never' }))
    expect(r.$metadata.httpStatusCode).toBe(204)
  })

  it('PUT into a missing bucket → 404 NoSuchBucket', async () => {
    const e = await sdkError(s3.send(new PutObjectCommand({ Bucket: bucketName('missing'), Key: 'k', Body: 'x' })))
    expect(e.status).toBe(404)
    expect(e.name).toBe('NoSuchBucket')
  })
})

describe('keys', () => {
  const keys = [
    'ünïcødé/日本語/🎉.txt',
    'with space/and  two',
    'a+b=c&d',
    '100%',
    '%2F literally',
    'a//b',
    'dir/',
    'q?x#y',
    "tilde~*'()!",
  ]
  it.each(keys)('key %j round-trips', async (Key) => {
    await s3.send(new PutObjectCommand({ Bucket, Key: `keys/${Key}`, Body: Key }))
    const r = await s3.send(new GetObjectCommand({ Bucket, Key: `keys/${Key}` }))
    expect((await bodyBytes(r.Body)).toString()).toBe(Key)
  })

  it('1024-byte keys are accepted (bytes, not characters); 1025 → 400 KeyTooLongError', async () => {
    const ok = 'é'.repeat(512)
    expect(Buffer.byteLength(ok)).toBe(1024)
    await s3.send(new PutObjectCommand({ Bucket, Key: ok, Body: 'ok' }))
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: ok }))).ContentLength).toBe(2)
    const okAscii = 'k'.repeat(1024)
    await s3.send(new PutObjectCommand({ Bucket, Key: okAscii, Body: 'ok' }))
    for (const bad of [`${ok}a`, 'k'.repeat(1025)]) {
      const e = await sdkError(s3.send(new PutObjectCommand({ Bucket, Key: bad, Body: 'no' })))
      expect(e.status).toBe(400)
      expect(e.name).toBe('KeyTooLongError')
    }
  })
})

describe('DeleteObjects', () => {
  for (const [label, client] of [
    ['default client', () => s3],
    ['WHEN_REQUIRED client', () => s3req],
  ] as const) {
    it(`verbose and quiet (${label})`, async () => {
      const c = client()
      const keys = ['del/a', 'del/b c', 'del/ü']
      for (const Key of keys) await c.send(new PutObjectCommand({ Bucket, Key, Body: Key }))
      const verbose = await c.send(
        new DeleteObjectsCommand({ Bucket, Delete: { Objects: [...keys, 'del/missing'].map((Key) => ({ Key })) } }),
      )
      expect((verbose.Deleted ?? []).map((d) => d.Key).sort()).toEqual([...keys, 'del/missing'].sort())
      expect(verbose.Errors ?? []).toEqual([])
      for (const Key of keys) expect((await sdkError(c.send(new HeadObjectCommand({ Bucket, Key })))).status).toBe(404)
      for (const Key of keys) await c.send(new PutObjectCommand({ Bucket, Key, Body: Key }))
      const quiet = await c.send(
        new DeleteObjectsCommand({ Bucket, Delete: { Quiet: true, Objects: keys.map((Key) => ({ Key })) } }),
      )
      expect(quiet.Deleted ?? []).toEqual([])
      expect(quiet.Errors ?? []).toEqual([])
      for (const Key of keys) expect((await sdkError(c.send(new HeadObjectCommand({ Bucket, Key })))).status).toBe(404)
    })
  }
})

describe('checksums', () => {
  const algs: ChecksumAlg[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256']
  const data = randomBytes(300 * 1024 + 3)
  it.each(algs)('PutObject with ChecksumAlgorithm %s: stored, returned by HEAD/GET with ChecksumMode', async (alg) => {
    const Key = `ck/${alg}`
    const want = await checksumB64(alg, data)
    const field = `Checksum${alg}` as const
    const put = await s3.send(
      new PutObjectCommand({ Bucket, Key, Body: data, ChecksumAlgorithm: alg as ChecksumAlgorithm }),
    )
    expect(put[field]).toBe(want)
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }))
    expect(head[field]).toBe(want)
    expect(head.ChecksumType).toBe('FULL_OBJECT')
    const get = await s3.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }))
    expect(get[field]).toBe(want)
    expect(sha(await bodyBytes(get.Body))).toBe(sha(data))
  })

  it('default client (no algorithm requested) stores the CRC32 it sent', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'ck/default', Body: data }))
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'ck/default', ChecksumMode: 'ENABLED' }))
    expect(head.ChecksumCRC32).toBe(await checksumB64('CRC32', data))
  })

  it('a wrong x-amz-checksum-crc32 → 400 BadDigest; the object is not created nor overwritten', async () => {
    const body = Buffer.from('the real bytes')
    const wrong = await checksumB64('CRC32', Buffer.from('other bytes'))
    const r = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, 'ck/bad-new'),
      body,
      headers: { 'x-amz-checksum-crc32': wrong },
    })
    expect(r.status, r.body).toBe(400)
    expect(errorFields(r.body).code).toBe('BadDigest')
    expect((await sdkError(s3.send(new HeadObjectCommand({ Bucket, Key: 'ck/bad-new' })))).status).toBe(404)

    await s3.send(new PutObjectCommand({ Bucket, Key: 'ck/bad-over', Body: 'original' }))
    const r2 = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, 'ck/bad-over'),
      body,
      headers: { 'x-amz-checksum-crc32': wrong },
    })
    expect(r2.status).toBe(400)
    const get = await s3.send(new GetObjectCommand({ Bucket, Key: 'ck/bad-over' }))
    expect((await bodyBytes(get.Body)).toString()).toBe('original')
  })

  it('a wrong Content-MD5 → 400 BadDigest and no object; a malformed one → 400 InvalidDigest', async () => {
    const body = Buffer.from('md5 body')
    const r = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, 'ck/md5'),
      body,
      headers: { 'content-md5': md5b64('something else') },
    })
    expect(r.status, r.body).toBe(400)
    expect(errorFields(r.body).code).toBe('BadDigest')
    expect((await sdkError(s3.send(new HeadObjectCommand({ Bucket, Key: 'ck/md5' })))).status).toBe(404)
    const bad = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, 'ck/md5'),
      body,
      headers: { 'content-md5': 'not-base64-md5' },
    })
    expect(bad.status).toBe(400)
    expect(errorFields(bad.body).code).toBe('InvalidDigest')
    const good = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, 'ck/md5'),
      body,
      headers: { 'content-md5': md5b64(body) },
    })
    expect(good.status).toBe(200)
  })
})
