/**
 * SSE-C (customer-provided keys) as S3 defines it: round trip with echoed headers, ranges,
 * multipart, copies between SSE-C and plain objects, and the 400/403 answers for missing,
 * malformed or wrong keys. The customer key never reaches the drives in any form we can find.
 */
import { createHash, randomBytes } from 'node:crypto'
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { filesContaining, tenant } from '../helpers/admin.ts'
import { errorCode, objectPath, rawRequest } from '../helpers/raw.ts'
import { bodyBytes, bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

let server: TestServer
let s3: S3Client
let clearNs: S3Client
const Bucket = bucketName('ssec')
const clearBucket = bucketName('ssec-clear')
/** 32 ASCII characters = a 256-bit key; the SDK base64-encodes it and adds its MD5. */
const key = randomBytes(16).toString('hex')
const otherKey = randomBytes(16).toString('hex')
const keyMd5 = createHash('md5').update(key).digest('base64')
const ssec = (k = key) => ({ SSECustomerAlgorithm: 'AES256', SSECustomerKey: k })
const copySsec = (k = key) => ({ CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: k })
const body = Buffer.concat([Buffer.from('SSE-C-MARKER-'.repeat(20_000)), randomBytes(10)])

beforeAll(async () => {
  server = await startServer()
  s3 = s3Client(server)
  clearNs = s3Client(server, await tenant(server, 'ssec-plain', 'off'))
  await s3.send(new CreateBucketCommand({ Bucket }))
  await clearNs.send(new CreateBucketCommand({ Bucket: clearBucket }))
  await s3.send(new PutObjectCommand({ Bucket, Key: 'obj', Body: body, ...ssec() }))
}, 60_000)
afterAll(async () => {
  await server?.stop()
})

describe('SSE-C', () => {
  it('PUT echoes the algorithm and key MD5, and no SSE-S3 header', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'echo', Body: 'x', ...ssec() }))
    expect(put.SSECustomerAlgorithm).toBe('AES256')
    expect(put.SSECustomerKeyMD5).toBe(keyMd5)
    expect(put.ServerSideEncryption).toBeUndefined()
  })

  it('GET and HEAD with the key: data, ranges and the echo headers', async () => {
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'obj', ...ssec() }))
    expect((await bodyBytes(got.Body)).equals(body)).toBe(true)
    expect(got.SSECustomerKeyMD5).toBe(keyMd5)
    const ranged = await s3.send(new GetObjectCommand({ Bucket, Key: 'obj', Range: 'bytes=65000-140000', ...ssec() }))
    expect((await bodyBytes(ranged.Body)).equals(body.subarray(65_000, 140_001))).toBe(true)
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'obj', ...ssec() }))
    expect(head.ContentLength).toBe(body.length)
    expect(head.SSECustomerAlgorithm).toBe('AES256')
  })

  it('no key → 400 InvalidRequest; the wrong key → 403', async () => {
    const missing = await sdkError(s3.send(new GetObjectCommand({ Bucket, Key: 'obj' })))
    expect(missing.status).toBe(400)
    expect(missing.name).toBe('InvalidRequest')
    expect((await sdkError(s3.send(new HeadObjectCommand({ Bucket, Key: 'obj' })))).status).toBe(400)
    const wrong = await sdkError(s3.send(new GetObjectCommand({ Bucket, Key: 'obj', ...ssec(otherKey) })))
    expect(wrong.status).toBe(403)
    expect((await sdkError(s3.send(new HeadObjectCommand({ Bucket, Key: 'obj', ...ssec(otherKey) })))).status).toBe(403)
  })

  it('a key for an object stored without SSE-C → 400', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'plain', Body: 'p' }))
    expect((await sdkError(s3.send(new GetObjectCommand({ Bucket, Key: 'plain', ...ssec() })))).status).toBe(400)
  })

  it('a key MD5 that does not match → 400 InvalidArgument; a short key → 400', async () => {
    const b64 = Buffer.from(key).toString('base64')
    const headers = {
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': b64,
      'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update('not the key').digest('base64'),
    }
    const res = await rawRequest(server, { method: 'PUT', path: objectPath(Bucket, 'bad-md5'), headers, body: 'x' })
    expect(res.status, res.body).toBe(400)
    expect(errorCode(res.body)).toBe('InvalidArgument')
    expect(res.body).toContain('MD5')
    const short = Buffer.from('short key')
    const res2 = await rawRequest(server, {
      method: 'GET',
      path: objectPath(Bucket, 'obj'),
      headers: {
        ...headers,
        'x-amz-server-side-encryption-customer-key': short.toString('base64'),
        'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(short).digest('base64'),
      },
    })
    expect(res2.status).toBe(400)
    expect(errorCode(res2.body)).toBe('InvalidArgument')
  })

  it('copy SSE-C → plain and plain → SSE-C (with the copy-source key headers)', async () => {
    await s3.send(new CopyObjectCommand({ Bucket, Key: 'decrypted-copy', CopySource: `${Bucket}/obj`, ...copySsec() }))
    const plain = await s3.send(new GetObjectCommand({ Bucket, Key: 'decrypted-copy' }))
    expect(plain.ServerSideEncryption).toBe('AES256') // the default namespace's D@RE
    expect((await bodyBytes(plain.Body)).equals(body)).toBe(true)
    const noKey = await sdkError(s3.send(new CopyObjectCommand({ Bucket, Key: 'x', CopySource: `${Bucket}/obj` })))
    expect(noKey.status).toBe(400)
    const copied = await s3.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'encrypted-copy',
        CopySource: `${Bucket}/decrypted-copy`,
        ...ssec(otherKey),
      }),
    )
    expect(copied.SSECustomerAlgorithm).toBe('AES256')
    expect(
      (
        await bodyBytes(
          (
            await s3.send(new GetObjectCommand({ Bucket, Key: 'encrypted-copy', ...ssec(otherKey) }))
          ).Body,
        )
      ).equals(body),
    ).toBe(true)
    expect((await sdkError(s3.send(new GetObjectCommand({ Bucket, Key: 'encrypted-copy', ...ssec() })))).status).toBe(
      403,
    )
  })

  it('multipart: create, parts and UploadPartCopy with the key; a part without it → 400', async () => {
    const Key = 'mp'
    const { UploadId, SSECustomerKeyMD5 } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ...ssec() }))
    expect(SSECustomerKeyMD5).toBe(keyMd5)
    const p1 = randomBytes(5 * 1024 * 1024)
    const missing = await sdkError(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: p1 })))
    expect(missing.status).toBe(400)
    const r1 = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: p1, ...ssec() }))
    expect(r1.SSECustomerKeyMD5).toBe(keyMd5)
    const r2 = await s3.send(
      new UploadPartCopyCommand({
        Bucket,
        Key,
        UploadId,
        PartNumber: 2,
        CopySource: `${Bucket}/obj`,
        CopySourceRange: 'bytes=0-99999',
        ...ssec(),
        ...copySsec(),
      }),
    )
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: r1.ETag },
            { PartNumber: 2, ETag: r2.CopyPartResult!.ETag },
          ],
        },
      }),
    )
    const got = await bodyBytes((await s3.send(new GetObjectCommand({ Bucket, Key, ...ssec() }))).Body)
    expect(got.equals(Buffer.concat([p1, body.subarray(0, 100_000)]))).toBe(true)
    expect((await sdkError(s3.send(new GetObjectCommand({ Bucket, Key })))).status).toBe(400)
  })

  it('SSE-C in a namespace with D@RE off still keeps the data off the drives in clear', async () => {
    const marker = `SSEC-CLEAR-NS-${randomBytes(6).toString('hex')}`
    await clearNs.send(new PutObjectCommand({ Bucket: clearBucket, Key: 'k', Body: marker.repeat(5000), ...ssec() }))
    expect(await filesContaining(server.dataDir, Buffer.from(marker))).toEqual([])
    expect(await filesContaining(server.dataDir, Buffer.from(key))).toEqual([])
    const back = await bodyBytes(
      (await clearNs.send(new GetObjectCommand({ Bucket: clearBucket, Key: 'k', ...ssec() }))).Body,
    )
    expect(back.toString()).toBe(marker.repeat(5000))
  })
})
