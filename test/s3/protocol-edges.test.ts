/**
 * Black-box: protocol edges found by conformance runs (issue 13 item 5), each answered as AWS S3
 * answers it — non-ASCII user metadata (SigV4 and SigV2, RFC 2047 out), ListBuckets paging,
 * presigned expiry bounds — against a real server over TLS with the AWS SDK and raw requests.
 */
import { createHmac } from 'node:crypto'
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  UploadPartCommand,
  ListBucketsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  checksumB64,
  compositeChecksum,
  errorCode,
  hostOf,
  objectPath,
  rawRequest,
  sendRaw,
  serverCreds,
  sha256hex,
  signHeaders,
} from '../helpers/raw.ts'
import { bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

let server: TestServer
let s3: S3Client
const bucket = bucketName('edges')

beforeAll(async () => {
  server = await startServer()
  s3 = s3Client(server)
  await s3.send(new CreateBucketCommand({ Bucket: bucket }))
})
afterAll(async () => {
  s3?.destroy()
  await server?.stop()
})

/** What a UTF-8 client puts on the wire: each UTF-8 byte as one header character. */
const wire = (text: string): string => Buffer.from(text, 'utf8').toString('latin1')
const rfc2047 = (text: string): string => `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`

describe('non-ASCII x-amz-meta-* values (UsingMetadata: UTF-8 in, RFC 2047 out)', () => {
  const text = 'Grüße, 日本語 €'

  it('SigV4: a value sent and signed as UTF-8 bytes verifies, and comes back RFC 2047 encoded', async () => {
    const key = 'utf8-v4'
    const path = objectPath(bucket, key)
    const body = Buffer.from('x')
    const signed = signHeaders({
      method: 'PUT',
      path,
      query: [],
      headers: { host: hostOf(server), 'content-length': '1', 'x-amz-meta-greeting': text },
      payloadHash: sha256hex(body),
      creds: serverCreds(server),
      date: new Date(),
    })
    const headers = { ...signed.headers, 'x-amz-meta-greeting': wire(text) }
    const put = await sendRaw(server, { method: 'PUT', pathAndQuery: path, headers, body })
    expect(put.status, put.body).toBe(200)
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
    expect(head.Metadata?.greeting).toBe(rfc2047(text))
  })

  it('SigV2: a value sent and signed as UTF-8 bytes verifies', async () => {
    const key = 'utf8-v2'
    const path = objectPath(bucket, key)
    const date = new Date().toUTCString()
    const sts = `PUT\n\n\n\nx-amz-date:${date}\nx-amz-meta-greeting:${text}\n${path}`
    const sig = createHmac('sha1', server.secretAccessKey).update(sts, 'utf8').digest('base64')
    const put = await sendRaw(server, {
      method: 'PUT',
      pathAndQuery: path,
      headers: {
        host: hostOf(server),
        'content-length': '1',
        'x-amz-date': date,
        'x-amz-meta-greeting': wire(text),
        authorization: `AWS ${server.accessKeyId}:${sig}`,
      },
      body: Buffer.from('x'),
    })
    expect(put.status, put.body).toBe(200)
    const get = await rawRequest(server, { method: 'HEAD', path })
    expect(get.headers['x-amz-meta-greeting']).toBe(rfc2047(text))
  })

  it('an RFC 2047 value is decoded before it is stored (a Q-word comes back as the B-word of its text)', async () => {
    const key = 'utf8-rfc2047'
    const Metadata = { greeting: '=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= =?UTF-8?B?5pel5pys?=' }
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x', Metadata }))
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
    expect(head.Metadata?.greeting).toBe(rfc2047('Grüße日本'))
  })

  it('an ASCII value is stored and returned as is', async () => {
    const key = 'ascii'
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x', Metadata: { plain: 'a b=c?d' } }))
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
    expect(head.Metadata?.plain).toBe('a b=c?d')
  })
})

it('Content-Encoding "deflate, gzip" is returned exactly as sent', async () => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'enc', Body: 'x', ContentEncoding: 'deflate, gzip' }))
  const head = await rawRequest(server, { method: 'HEAD', path: objectPath(bucket, 'enc') })
  expect(head.headers['content-encoding']).toBe('deflate, gzip')
})

it('ListObjectsV2: an empty continuation-token lists from the start; a token not of ours is InvalidArgument', async () => {
  const list = (token: string) =>
    rawRequest(server, {
      method: 'GET',
      path: `/${bucket}`,
      query: [
        ['list-type', '2'],
        ['continuation-token', token],
      ],
    })
  const empty = await list('')
  expect(empty.status, empty.body).toBe(200)
  expect(empty.body).toContain('<Key>enc</Key>')
  const bad = await list('bm90LW91cnM')
  expect([bad.status, errorCode(bad.body)]).toEqual([400, 'InvalidArgument'])
})

describe('ListBuckets paging: max-buckets, continuation-token, prefix, bucket-region', () => {
  const prefix = bucketName('lbp')
  const names = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`, `${prefix}-d`, `${prefix}-e`]
  beforeAll(async () => {
    for (const Bucket of names) await s3.send(new CreateBucketCommand({ Bucket }))
  })

  it('pages through the buckets under a prefix, two at a time, with the prefix echoed', async () => {
    const seen: string[] = []
    let token: string | undefined
    for (let page = 0; page < 10; page++) {
      const r = await s3.send(new ListBucketsCommand({ MaxBuckets: 2, Prefix: prefix, ContinuationToken: token }))
      expect(r.Prefix).toBe(prefix)
      expect((r.Buckets ?? []).length).toBeLessThanOrEqual(2)
      seen.push(...(r.Buckets ?? []).map((b) => b.Name!))
      token = r.ContinuationToken
      if (!token) break
    }
    expect(seen).toEqual(names)
  })

  it('bucket-region filters by region', async () => {
    const here = await s3.send(new ListBucketsCommand({ Prefix: prefix, BucketRegion: server.region }))
    expect((here.Buckets ?? []).map((b) => b.Name)).toEqual(names)
    const elsewhere = await s3.send(new ListBucketsCommand({ Prefix: prefix, BucketRegion: 'ap-south-2' }))
    expect(elsewhere.Buckets ?? []).toEqual([])
  })

  it('max-buckets outside 1..10000 and a token not of ours are 400 InvalidArgument', async () => {
    for (const v of ['0', '10001', 'x', '-1']) {
      const r = await rawRequest(server, { method: 'GET', path: '/', query: [['max-buckets', v]] })
      expect([r.status, errorCode(r.body)], v).toEqual([400, 'InvalidArgument'])
    }
    const e = await sdkError(s3.send(new ListBucketsCommand({ ContinuationToken: 'not-a-token' })))
    expect([e.status, e.name]).toEqual([400, 'InvalidArgument'])
  })
})

describe('GET/HEAD ?partNumber beyond the parts the object has → 400 InvalidPart', () => {
  it('a two-part object answers part 2 and refuses part 3; a single-part object refuses part 2', async () => {
    const key = 'two-parts'
    const p1 = Buffer.alloc(5 * 1024 * 1024, 1)
    const p2 = Buffer.from('tail')
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
    const parts = []
    for (const [i, Body] of [p1, p2].entries()) {
      const r = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body }))
      parts.push({ PartNumber: i + 1, ETag: r.ETag })
    }
    await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }),
    )
    const two = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, PartNumber: 2 }))
    expect([two.ContentLength, two.PartsCount]).toEqual([4, 2])
    const get = await rawRequest(server, { method: 'GET', path: objectPath(bucket, key), query: [['partNumber', '3']] })
    expect([get.status, errorCode(get.body)]).toEqual([400, 'InvalidPart'])
    const head = await rawRequest(server, {
      method: 'HEAD',
      path: objectPath(bucket, key),
      query: [['partNumber', '3']],
    })
    expect(head.status).toBe(400)
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'one-part', Body: 'x' }))
    const single = await rawRequest(server, {
      method: 'GET',
      path: objectPath(bucket, 'one-part'),
      query: [['partNumber', '2']],
    })
    expect([single.status, errorCode(single.body)]).toEqual([400, 'InvalidPart'])
  })
})

describe('SSE headers where S3 refuses them → 400 InvalidArgument', () => {
  it('x-amz-server-side-encryption on GET and HEAD', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sse-read', Body: 'x' }))
    const path = objectPath(bucket, 'sse-read')
    const headers = { 'x-amz-server-side-encryption': 'AES256' }
    const get = await rawRequest(server, { method: 'GET', path, headers })
    expect([get.status, errorCode(get.body)]).toEqual([400, 'InvalidArgument'])
    expect((await rawRequest(server, { method: 'HEAD', path, headers })).status).toBe(400)
    expect((await rawRequest(server, { method: 'GET', path })).status).toBe(200)
  })

  it('a KMS key id without x-amz-server-side-encryption: aws:kms, on PUT and CreateMultipartUpload', async () => {
    const kms = { 'x-amz-server-side-encryption-aws-kms-key-id': 'alias/some-key' }
    const put = await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'kms'), headers: kms, body: 'x' })
    expect([put.status, errorCode(put.body)]).toEqual([400, 'InvalidArgument'])
    const withAes = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(bucket, 'kms'),
      headers: { ...kms, 'x-amz-server-side-encryption': 'AES256' },
      body: 'x',
    })
    expect([withAes.status, errorCode(withAes.body)]).toEqual([400, 'InvalidArgument'])
    const mpu = await rawRequest(server, {
      method: 'POST',
      path: objectPath(bucket, 'kms'),
      query: [['uploads', '']],
      headers: kms,
    })
    expect([mpu.status, errorCode(mpu.body)]).toEqual([400, 'InvalidArgument'])
    const head = await rawRequest(server, { method: 'HEAD', path: objectPath(bucket, 'kms') })
    expect(head.status).toBe(404)
  })
})

describe('checksums: malformed values and CompleteMultipartUpload', () => {
  it('a malformed x-amz-checksum-* value on PutObject → 400 InvalidRequest, nothing stored', async () => {
    const path = objectPath(bucket, 'bad-checksum')
    for (const [name, value] of [
      ['x-amz-checksum-crc32', 'not base64!'],
      ['x-amz-checksum-crc32', 'AAAAAAAA'], // base64 of 6 bytes, not 4
      ['x-amz-checksum-sha256', 'AAAA'],
    ]) {
      const r = await rawRequest(server, { method: 'PUT', path, headers: { [name!]: value! }, body: 'x' })
      expect([r.status, errorCode(r.body)], `${name}: ${value}`).toEqual([400, 'InvalidRequest'])
    }
    expect((await rawRequest(server, { method: 'HEAD', path })).status).toBe(404)
  })

  it('a wrong or malformed x-amz-checksum-sha256 on CompleteMultipartUpload is refused; the right one completes', async () => {
    const key = 'complete-sha256'
    const body = Buffer.from('the only part')
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: 'SHA256' }),
    )
    const part = await s3.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        PartNumber: 1,
        Body: body,
        ChecksumAlgorithm: 'SHA256',
      }),
    )
    const Parts = [{ PartNumber: 1, ETag: part.ETag, ChecksumSHA256: part.ChecksumSHA256 }]
    const complete = (ChecksumSHA256: string) =>
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts },
          ChecksumSHA256,
        }),
      )
    const wrong = await sdkError(complete(await checksumB64('SHA256', Buffer.from('something else'))))
    expect([wrong.status, wrong.name]).toEqual([400, 'BadDigest'])
    const malformed = await sdkError(complete('AAAA'))
    expect([malformed.status, malformed.name]).toEqual([400, 'InvalidRequest'])
    expect((await rawRequest(server, { method: 'HEAD', path: objectPath(bucket, key) })).status).toBe(404)
    const right = await compositeChecksum('SHA256', [body])
    const done = await complete(right)
    expect(done.ChecksumSHA256).toBe(right)
  })
})
