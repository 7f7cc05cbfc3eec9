/**
 * Black-box authentication and bad input with raw signed requests: SigV4 failures, presigned URLs,
 * payload modes (literal hash, signed chunks, unsigned trailers), truncated bodies, hostile XML, vhosts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { startServer, type TestServer } from '../helpers/server.ts'
import { bodyBytes, bucketName, s3Client, s3ClientWhenRequired, sdkError } from '../helpers/s3-client.ts'
import {
  STREAMING_SIGNED,
  STREAMING_SIGNED_TRAILER,
  STREAMING_UNSIGNED_TRAILER,
  checksumB64,
  errorFields,
  hostOf,
  md5b64,
  objectPath,
  presignPath,
  putChunked,
  rawRequest,
  sendRaw,
  serverCreds,
  sha256hex,
  type RawResponse,
} from '../helpers/raw.ts'

let server: TestServer
let s3: S3Client
const Bucket = bucketName('auth')

beforeAll(async () => {
  server = await startServer()
  s3 = s3Client(server)
  await s3.send(new CreateBucketCommand({ Bucket }))
  await s3.send(new PutObjectCommand({ Bucket, Key: 'existing', Body: 'existing body' }))
})
afterAll(async () => {
  s3?.destroy()
  await server?.stop()
})

/** Every S3 error is an `<Error>` document with Code, Message and RequestId. */
function expectS3Error(r: RawResponse, status: number, codes: string | string[]): void {
  const want = Array.isArray(codes) ? codes : [codes]
  expect(r.status, r.body).toBe(status)
  const f = errorFields(r.body)
  expect(want, r.body).toContain(f.code)
  expect(f.message, r.body).toBeTruthy()
  expect(f.requestId, r.body).toBeTruthy()
  expect(String(r.headers['content-type'])).toMatch(/xml/)
}

const absent = async (Key: string) =>
  expect((await sdkError(s3.send(new HeadObjectCommand({ Bucket, Key })))).status).toBe(404)

describe('SigV4 header auth', () => {
  it('no Authorization → 403 AccessDenied', async () => {
    expectS3Error(await rawRequest(server, { method: 'GET', path: `/${Bucket}`, sign: false }), 403, 'AccessDenied')
    expectS3Error(
      await rawRequest(server, { method: 'PUT', path: objectPath(Bucket, 'anon'), body: 'x', sign: false }),
      403,
      'AccessDenied',
    )
    await absent('anon')
  })

  it('wrong secret → 403 SignatureDoesNotMatch', async () => {
    const r = await rawRequest(server, {
      method: 'GET',
      path: objectPath(Bucket, 'existing'),
      creds: { secretAccessKey: 'not-the-secret-at-all' },
    })
    expectS3Error(r, 403, 'SignatureDoesNotMatch')
  })

  it('unknown access key → 403 InvalidAccessKeyId', async () => {
    const r = await rawRequest(server, {
      method: 'GET',
      path: `/${Bucket}`,
      creds: { accessKeyId: 'AKIANOSUCHKEY0000000' },
    })
    expectS3Error(r, 403, 'InvalidAccessKeyId')
  })

  it('clock skew of 20 minutes (either way) → 403 RequestTimeTooSkewed', async () => {
    for (const delta of [-20 * 60_000, 20 * 60_000]) {
      const r = await rawRequest(server, { method: 'GET', path: `/${Bucket}`, date: new Date(Date.now() + delta) })
      expectS3Error(r, 403, 'RequestTimeTooSkewed')
    }
    // 10 minutes is inside S3's 15-minute window.
    const ok = await rawRequest(server, { method: 'GET', path: `/${Bucket}`, date: new Date(Date.now() - 10 * 60_000) })
    expect(ok.status, ok.body).toBe(200)
  })

  it('a scope with the wrong region → 400 AuthorizationHeaderMalformed', async () => {
    const r = await rawRequest(server, { method: 'GET', path: `/${Bucket}`, creds: { region: 'ap-south-2' } })
    expectS3Error(r, 400, 'AuthorizationHeaderMalformed')
  })

  it('the SDK surfaces the same codes', async () => {
    const bad = s3Client(server, { secretAccessKey: 'wrong' })
    try {
      const e = await sdkError(bad.send(new GetObjectCommand({ Bucket, Key: 'existing' })))
      expect(e.status).toBe(403)
      expect(e.name).toBe('SignatureDoesNotMatch')
    } finally {
      bad.destroy()
    }
  })

  it('an unauthenticated health check answers 200', async () => {
    const r = await rawRequest(server, { method: 'GET', path: '/_coffer/health', sign: false })
    expect(r.status).toBe(200)
  })
})

describe('presigned URLs', () => {
  const fetchUrl = (url: string, method: string, body?: Buffer) => {
    const u = new URL(url)
    return sendRaw(server, {
      method,
      pathAndQuery: u.pathname + u.search,
      headers: { host: u.host, ...(body ? { 'content-length': String(body.length) } : {}) },
      body,
    })
  }

  it('GET and PUT via @aws-sdk/s3-request-presigner work', async () => {
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'existing' }), { expiresIn: 300 })
    const g = await fetchUrl(getUrl, 'GET')
    expect(g.status, g.body).toBe(200)
    expect(g.body).toBe('existing body')

    // Presign PUT with a WHEN_REQUIRED client: a default client hoists a checksum of an empty body into the URL.
    const signer = s3ClientWhenRequired(server)
    try {
      const body = randomBytes(70_000)
      const putUrl = await getSignedUrl(signer, new PutObjectCommand({ Bucket, Key: 'presigned-put' }), {
        expiresIn: 300,
      })
      const p = await fetchUrl(putUrl, 'PUT', body)
      expect(p.status, p.body).toBe(200)
      const back = await s3.send(new GetObjectCommand({ Bucket, Key: 'presigned-put' }))
      expect(Buffer.compare(await bodyBytes(back.Body), body)).toBe(0)
    } finally {
      signer.destroy()
    }
  })

  it('a presigned URL with a tampered signature → 403 SignatureDoesNotMatch', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'existing' }), { expiresIn: 300 })
    const tampered = url.replace(
      /X-Amz-Signature=([0-9a-f])/,
      (_m, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`,
    )
    expectS3Error(await fetchUrl(tampered, 'GET'), 403, 'SignatureDoesNotMatch')
  })

  it('an expired presigned URL (X-Amz-Expires=1, 2 s later) → 403 AccessDenied', async () => {
    const path = presignPath({
      method: 'GET',
      path: objectPath(Bucket, 'existing'),
      host: hostOf(server),
      creds: serverCreds(server),
      expires: 1,
    })
    const fresh = await sendRaw(server, { method: 'GET', pathAndQuery: path, headers: { host: hostOf(server) } })
    expect(fresh.status, fresh.body).toBe(200)
    await new Promise((r) => setTimeout(r, 2100))
    const r = await sendRaw(server, { method: 'GET', pathAndQuery: path, headers: { host: hostOf(server) } })
    expectS3Error(r, 403, 'AccessDenied')
  })

  it('X-Amz-Expires over 7 days (604801) → 403 AuthorizationQueryParametersError, as S3 answers', async () => {
    const path = presignPath({
      method: 'GET',
      path: objectPath(Bucket, 'existing'),
      host: hostOf(server),
      creds: serverCreds(server),
      expires: 604801,
    })
    const r = await sendRaw(server, { method: 'GET', pathAndQuery: path, headers: { host: hostOf(server) } })
    expectS3Error(r, 403, 'AuthorizationQueryParametersError')
    const week = presignPath({
      method: 'GET',
      path: objectPath(Bucket, 'existing'),
      host: hostOf(server),
      creds: serverCreds(server),
      expires: 604800,
    })
    expect(
      (await sendRaw(server, { method: 'GET', pathAndQuery: week, headers: { host: hostOf(server) } })).status,
    ).toBe(200)
  })

  it('X-Amz-Expires of 0 → 403 AccessDenied (expired as signed); negative → 403 AuthorizationQueryParametersError', async () => {
    const url = (expires: number) =>
      presignPath({
        method: 'GET',
        path: objectPath(Bucket, 'existing'),
        host: hostOf(server),
        creds: serverCreds(server),
        expires,
      })
    const get = (pathAndQuery: string) =>
      sendRaw(server, { method: 'GET', pathAndQuery, headers: { host: hostOf(server) } })
    expectS3Error(await get(url(0)), 403, 'AccessDenied')
    expectS3Error(await get(url(-60)), 403, 'AuthorizationQueryParametersError')
  })
})

describe('payload modes', () => {
  it('a literal x-amz-content-sha256 that does not match → 400 XAmzContentSHA256Mismatch, no object', async () => {
    const r = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, 'sha-mismatch'),
      body: 'actual body',
      payloadHash: sha256hex('another body'),
    })
    expectS3Error(r, 400, 'XAmzContentSHA256Mismatch')
    await absent('sha-mismatch')
  })

  it('UNSIGNED-PAYLOAD works', async () => {
    const r = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, 'unsigned'),
      body: 'unsigned body',
      payloadHash: 'UNSIGNED-PAYLOAD',
    })
    expect(r.status, r.body).toBe(200)
    const g = await s3.send(new GetObjectCommand({ Bucket, Key: 'unsigned' }))
    expect((await bodyBytes(g.Body)).toString()).toBe('unsigned body')
  })

  it('signed streaming, 8 KiB chunks + a short last chunk, reads back', async () => {
    const data = randomBytes(8192 * 3 + 5)
    const r = await putChunked(server, Bucket, 'stream-8k', data, { mode: STREAMING_SIGNED, chunkSize: 8192 })
    expect(r.status, r.body).toBe(200)
    const g = await s3.send(new GetObjectCommand({ Bucket, Key: 'stream-8k' }))
    expect(Buffer.compare(await bodyBytes(g.Body), data)).toBe(0)
  })

  it("signed streaming with 1-byte chunks: reads back (or S3's InvalidChunkSizeError and no object)", async () => {
    const data = Buffer.from('tiny chunks, every one signed')
    const r = await putChunked(server, Bucket, 'stream-1b', data, { mode: STREAMING_SIGNED, chunkSize: 1 })
    if (r.status === 200) {
      const g = await s3.send(new GetObjectCommand({ Bucket, Key: 'stream-1b' }))
      expect((await bodyBytes(g.Body)).toString()).toBe(data.toString())
    } else {
      // Real S3 rejects non-final chunks under 8 KiB; that is acceptable, anything else is not.
      expectS3Error(r, 403, 'InvalidChunkSizeError')
      await absent('stream-1b')
    }
  })

  it('a bad chunk signature (middle or final chunk) → 403 SignatureDoesNotMatch, no object', async () => {
    const data = randomBytes(8192 * 2 + 100)
    for (const corruptChunk of [1, 3]) {
      const Key = `bad-chunk-${corruptChunk}`
      const r = await putChunked(server, Bucket, Key, data, { mode: STREAMING_SIGNED, chunkSize: 8192, corruptChunk })
      expectS3Error(r, 403, 'SignatureDoesNotMatch')
      await absent(Key)
    }
  })

  it('signed streaming with a signed CRC32 trailer works and stores the checksum', async () => {
    const data = randomBytes(20_000)
    const crc = await checksumB64('CRC32', data)
    const r = await putChunked(server, Bucket, 'signed-trailer', data, {
      mode: STREAMING_SIGNED_TRAILER,
      chunkSize: 8192,
      trailer: { name: 'x-amz-checksum-crc32', value: crc },
    })
    expect(r.status, r.body).toBe(200)
    const h = await s3.send(new HeadObjectCommand({ Bucket, Key: 'signed-trailer', ChecksumMode: 'ENABLED' }))
    expect(h.ChecksumCRC32).toBe(crc)
    expect(h.ContentLength).toBe(data.length)
  })

  it('a bad trailer signature → 403 SignatureDoesNotMatch, no object', async () => {
    const data = randomBytes(9000)
    const crc = await checksumB64('CRC32', data)
    const r = await putChunked(server, Bucket, 'bad-trailer-sig', data, {
      mode: STREAMING_SIGNED_TRAILER,
      chunkSize: 8192,
      trailer: { name: 'x-amz-checksum-crc32', value: crc },
      corruptTrailerSignature: true,
    })
    expectS3Error(r, 403, 'SignatureDoesNotMatch')
    await absent('bad-trailer-sig')
  })

  it('STREAMING-UNSIGNED-PAYLOAD-TRAILER with the right CRC32C works', async () => {
    const data = randomBytes(70_000)
    const value = await checksumB64('CRC32C', data)
    const r = await putChunked(server, Bucket, 'unsigned-trailer', data, {
      mode: STREAMING_UNSIGNED_TRAILER,
      chunkSize: 65536,
      trailer: { name: 'x-amz-checksum-crc32c', value },
    })
    expect(r.status, r.body).toBe(200)
    const h = await s3.send(new HeadObjectCommand({ Bucket, Key: 'unsigned-trailer', ChecksumMode: 'ENABLED' }))
    expect(h.ChecksumCRC32C).toBe(value)
    const g = await s3.send(new GetObjectCommand({ Bucket, Key: 'unsigned-trailer' }))
    expect(Buffer.compare(await bodyBytes(g.Body), data)).toBe(0)
  })

  it('STREAMING-UNSIGNED-PAYLOAD-TRAILER with a wrong checksum → 400 BadDigest, nothing created or overwritten', async () => {
    const data = randomBytes(70_000)
    const wrong = await checksumB64('CRC32', Buffer.from('something else'))
    const r = await putChunked(server, Bucket, 'bad-trailer', data, {
      mode: STREAMING_UNSIGNED_TRAILER,
      chunkSize: 65536,
      trailer: { name: 'x-amz-checksum-crc32', value: wrong },
    })
    expectS3Error(r, 400, 'BadDigest')
    await absent('bad-trailer')
    const over = await putChunked(server, Bucket, 'existing', data, {
      mode: STREAMING_UNSIGNED_TRAILER,
      chunkSize: 65536,
      trailer: { name: 'x-amz-checksum-crc32', value: wrong },
    })
    expect(over.status).toBe(400)
    const g = await s3.send(new GetObjectCommand({ Bucket, Key: 'existing' }))
    expect((await bodyBytes(g.Body)).toString()).toBe('existing body')
  })

  it('a truncated body (Content-Length 1 MiB, 100 KiB sent, socket destroyed) leaves no object', async () => {
    const r = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, 'truncated'),
      body: randomBytes(100 * 1024),
      truncate: { declaredLength: 1024 * 1024 },
      payloadHash: 'UNSIGNED-PAYLOAD',
    })
    expect(r.status === 0 || r.status >= 400).toBe(true)
    await absent('truncated')
    // Still absent a moment later (no late commit), and the server still serves.
    await new Promise((res) => setTimeout(res, 1500))
    await absent('truncated')
    const ok = await s3.send(new PutObjectCommand({ Bucket, Key: 'after-truncated', Body: 'fine' }))
    expect(ok.ETag).toBeTruthy()
  })
})

describe('hostile and malformed XML', () => {
  const deleteXml = (xml: string) => {
    const body = Buffer.from(xml)
    return rawRequest(server, {
      method: 'POST',
      path: `/${Bucket}`,
      query: [['delete', '']],
      body,
      headers: { 'content-md5': md5b64(body), 'content-type': 'application/xml' },
    })
  }

  it('malformed DeleteObjects XML → 400 MalformedXML', async () => {
    expectS3Error(await deleteXml('<Delete><Object><Key>a</Key></Object'), 400, 'MalformedXML')
    expectS3Error(await deleteXml('not xml at all'), 400, 'MalformedXML')
    expectS3Error(await deleteXml('<Wrong><Object><Key>a</Key></Object></Wrong>'), 400, 'MalformedXML')
  })

  it('DOCTYPE with entities is refused (no expansion, no 500)', async () => {
    const lol =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><Delete><Object><Key>&lol3;</Key></Object></Delete>'
    const r = await deleteXml(lol)
    expectS3Error(r, 400, ['MalformedXML', 'InvalidRequest'])
    expect(r.body).not.toContain('lollollol')
    const ext = await deleteXml(
      '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&x;</Key></Object></Delete>',
    )
    expectS3Error(ext, 400, ['MalformedXML', 'InvalidRequest'])
    expect(ext.body).not.toContain('root:')
  })

  it('a 5 MB DeleteObjects document → 400 (MalformedXML or a size error), never 500', async () => {
    const one = `<Object><Key>${'k'.repeat(200)}</Key></Object>`
    const xml = `<Delete>${one.repeat(Math.ceil((5 * 1024 * 1024) / one.length))}</Delete>`
    const r = await deleteXml(xml)
    expectS3Error(r, 400, ['MalformedXML', 'MaxMessageLengthExceeded', 'EntityTooLarge', 'InvalidRequest'])
  })

  it('DeleteObjects without Content-MD5 or a checksum → 400 InvalidRequest', async () => {
    const body = Buffer.from('<Delete><Object><Key>a</Key></Object></Delete>')
    const r = await rawRequest(server, { method: 'POST', path: `/${Bucket}`, query: [['delete', '']], body })
    expectS3Error(r, 400, ['InvalidRequest', 'MissingSecurityHeader'])
  })

  it('malformed and huge CompleteMultipartUpload XML → 400, never 500', async () => {
    const created = await rawRequest(server, {
      method: 'POST',
      path: objectPath(Bucket, 'mpu-xml'),
      query: [['uploads', '']],
    })
    expect(created.status, created.body).toBe(200)
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body)![1]!
    const complete = (xml: string) =>
      rawRequest(server, {
        method: 'POST',
        path: objectPath(Bucket, 'mpu-xml'),
        query: [['uploadId', uploadId]],
        body: xml,
      })
    expectS3Error(await complete('<CompleteMultipartUpload><Part>'), 400, 'MalformedXML')
    const part = '<Part><PartNumber>1</PartNumber><ETag>"0123456789abcdef0123456789abcdef"</ETag></Part>'
    const huge =
      '<CompleteMultipartUpload>' +
      part.repeat(Math.ceil((5 * 1024 * 1024) / part.length)) +
      '</CompleteMultipartUpload>'
    const r = await complete(huge)
    expect(r.status).toBeGreaterThanOrEqual(400)
    expect(r.status).toBeLessThan(500)
    expect(errorFields(r.body).code).toBeTruthy()
  })
})

describe('unknown operations', () => {
  it('GET ?torrent on an object → 501 NotImplemented', async () => {
    expectS3Error(
      await rawRequest(server, { method: 'GET', path: objectPath(Bucket, 'existing'), query: [['torrent', '']] }),
      501,
      'NotImplemented',
    )
  })
  it('an unsupported bucket sub-resource (?analytics) → 501 NotImplemented', async () => {
    expectS3Error(
      await rawRequest(server, {
        method: 'GET',
        path: `/${Bucket}`,
        query: [
          ['analytics', ''],
          ['id', 'x'],
        ],
      }),
      501,
      'NotImplemented',
    )
  })
})

describe('virtual-hosted-style addressing', () => {
  let vserver: TestServer
  beforeAll(async () => {
    vserver = await startServer({ args: ['--domain', 's3.test'] })
  })
  afterAll(async () => {
    await vserver?.stop()
  })

  it('Host: <bucket>.s3.test:PORT addresses the bucket', async () => {
    const vs = s3Client(vserver)
    try {
      const B = bucketName('vhost')
      await vs.send(new CreateBucketCommand({ Bucket: B }))
      const host = `${B}.s3.test:${vserver.port}`
      const put = await rawRequest(vserver, {
        method: 'PUT',
        path: '/dir/hello%20v.txt',
        headers: { host },
        body: 'virtual',
      })
      expect(put.status, put.body).toBe(200)
      const get = await vs.send(new GetObjectCommand({ Bucket: B, Key: 'dir/hello v.txt' }))
      expect((await bodyBytes(get.Body)).toString()).toBe('virtual')
      const list = await rawRequest(vserver, {
        method: 'GET',
        path: '/',
        query: [['list-type', '2']],
        headers: { host },
      })
      expect(list.status, list.body).toBe(200)
      expect(list.body).toContain(`<Name>${B}</Name>`)
      expect(list.body).toContain('<Key>dir/hello v.txt</Key>')
      const back = await rawRequest(vserver, { method: 'GET', path: '/dir/hello%20v.txt', headers: { host } })
      expect(back.body).toBe('virtual')
      // Path style keeps working on the same server.
      const path = await rawRequest(vserver, { method: 'GET', path: objectPath(B, 'dir/hello v.txt') })
      expect(path.body).toBe('virtual')
    } finally {
      vs.destroy()
    }
  })
})
