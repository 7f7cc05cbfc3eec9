/**
 * D@RE end to end: objects with a distinctive marker go into an encrypted namespace and into one
 * with encryption off; the drives hold the marker only for the second. Ranges, multipart, copy.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketEncryptionCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { filesContaining, tenant } from '../helpers/admin.ts'
import { bodyBytes, bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

const MiB = 1024 * 1024
let server: TestServer
let enc: S3Client // root, in the default namespace (D@RE on from first start)
let clear: S3Client // a user of a namespace created with --encryption off
const encBucket = bucketName('enc')
const clearBucket = bucketName('clear')

/** `size` bytes made of `marker` over and over, so any stored plaintext piece contains it. */
function markerBody(marker: string, size: number): Buffer {
  const unit = Buffer.from(`${marker}|`)
  return Buffer.concat(Array.from({ length: Math.ceil(size / unit.length) }, () => unit)).subarray(0, size)
}

const marker = (tag: string) => `COFFER-MARKER-${tag}-${randomBytes(6).toString('hex')}`

beforeAll(async () => {
  server = await startServer()
  enc = s3Client(server)
  clear = s3Client(server, await tenant(server, 'plain-ns', 'off'))
  await enc.send(new CreateBucketCommand({ Bucket: encBucket }))
  await clear.send(new CreateBucketCommand({ Bucket: clearBucket }))
}, 60_000)
afterAll(async () => {
  await server?.stop()
})

async function get(client: S3Client, Bucket: string, Key: string, Range?: string): Promise<Buffer> {
  return bodyBytes((await client.send(new GetObjectCommand({ Bucket, Key, Range }))).Body)
}

async function multipart(
  client: S3Client,
  Bucket: string,
  Key: string,
  parts: Buffer[],
  copyFrom?: string,
): Promise<void> {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }))
  const done = []
  for (const [i, Body] of parts.entries()) {
    const r = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }))
    done.push({ PartNumber: i + 1, ETag: r.ETag })
  }
  if (copyFrom) {
    const n = parts.length + 1
    const r = await client.send(
      new UploadPartCopyCommand({
        Bucket,
        Key,
        UploadId,
        PartNumber: n,
        CopySource: copyFrom,
        CopySourceRange: 'bytes=100-70099',
      }),
    )
    done.push({ PartNumber: n, ETag: r.CopyPartResult!.ETag })
  }
  await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: done } }))
}

describe('marker scan over the drives', () => {
  const secret = { single: marker('enc'), parts: marker('encmp') }
  const plain = { single: marker('clear'), parts: marker('clearmp') }
  const bodies = {
    encSingle: markerBody(secret.single, 300_001),
    encParts: [markerBody(secret.parts, 5 * MiB + 200_000)],
    clearSingle: markerBody(plain.single, 300_001),
    clearParts: [markerBody(plain.parts, 5 * MiB + 200_000)],
  }

  beforeAll(async () => {
    const put = await enc.send(new PutObjectCommand({ Bucket: encBucket, Key: 'single', Body: bodies.encSingle }))
    expect(put.ServerSideEncryption).toBe('AES256')
    const putClear = await clear.send(
      new PutObjectCommand({ Bucket: clearBucket, Key: 'single', Body: bodies.clearSingle }),
    )
    expect(putClear.ServerSideEncryption).toBeUndefined()
    await multipart(enc, encBucket, 'parts', bodies.encParts, `${encBucket}/single`)
    await multipart(clear, clearBucket, 'parts', bodies.clearParts, `${clearBucket}/single`)
    const copied = await enc.send(
      new CopyObjectCommand({ Bucket: encBucket, Key: 'copy', CopySource: `${encBucket}/parts` }),
    )
    expect(copied.ServerSideEncryption).toBe('AES256')
    await clear.send(new CopyObjectCommand({ Bucket: clearBucket, Key: 'copy', CopySource: `${clearBucket}/parts` }))
  }, 120_000)

  it('the encrypted namespace leaves no marker anywhere under the data directory', async () => {
    for (const m of [secret.single, secret.parts])
      expect(await filesContaining(server.dataDir, Buffer.from(m))).toEqual([])
  })

  it('the namespace with encryption off stores the marker in clear on the drives', async () => {
    for (const m of [plain.single, plain.parts])
      expect((await filesContaining(join(server.dataDir, 'drives'), Buffer.from(m))).length).toBeGreaterThan(0)
  })

  it('both read back whole and by ranges (package boundaries, part boundaries)', async () => {
    const cases: [S3Client, string, Buffer, Buffer][] = [
      [enc, encBucket, bodies.encSingle, Buffer.concat([...bodies.encParts, bodies.encSingle.subarray(100, 70_100)])],
      [
        clear,
        clearBucket,
        bodies.clearSingle,
        Buffer.concat([...bodies.clearParts, bodies.clearSingle.subarray(100, 70_100)]),
      ],
    ]
    for (const [client, bucket, single, parts] of cases) {
      expect((await get(client, bucket, 'single')).equals(single)).toBe(true)
      expect((await get(client, bucket, 'parts')).equals(parts)).toBe(true)
      expect((await get(client, bucket, 'copy')).equals(parts)).toBe(true)
      for (const [a, b] of [
        [0, 0],
        [65_530, 131_080],
        [65_536, 65_536 * 2 - 1],
        [299_990, 300_000],
      ] as const) {
        expect((await get(client, bucket, 'single', `bytes=${a}-${b}`)).equals(single.subarray(a, b + 1))).toBe(true)
      }
      const across = 5 * MiB + 200_000 - 10 // across the part boundary (into the copied part)
      expect(
        (await get(client, bucket, 'parts', `bytes=${across}-${across + 100_000}`)).equals(
          parts.subarray(across, across + 100_001),
        ),
      ).toBe(true)
      expect((await get(client, bucket, 'parts', `bytes=-70000`)).equals(parts.subarray(parts.length - 70_000))).toBe(
        true,
      )
    }
  })

  it('HEAD and GET say AES256 for encrypted objects only', async () => {
    expect((await enc.send(new HeadObjectCommand({ Bucket: encBucket, Key: 'parts' }))).ServerSideEncryption).toBe(
      'AES256',
    )
    expect(
      (await enc.send(new GetObjectCommand({ Bucket: encBucket, Key: 'single', Range: 'bytes=0-9' })))
        .ServerSideEncryption,
    ).toBe('AES256')
    expect(
      (await clear.send(new HeadObjectCommand({ Bucket: clearBucket, Key: 'parts' }))).ServerSideEncryption,
    ).toBeUndefined()
  })

  it('an empty object round-trips in both namespaces', async () => {
    await enc.send(new PutObjectCommand({ Bucket: encBucket, Key: 'empty', Body: Buffer.alloc(0) }))
    await clear.send(new PutObjectCommand({ Bucket: clearBucket, Key: 'empty', Body: Buffer.alloc(0) }))
    expect((await get(enc, encBucket, 'empty')).length).toBe(0)
    expect((await get(clear, clearBucket, 'empty')).length).toBe(0)
  })
})

describe('bucket encryption follows the namespace', () => {
  it('GetBucketEncryption: AES256 in an encrypted namespace, not found otherwise', async () => {
    const got = await enc.send(new GetBucketEncryptionCommand({ Bucket: encBucket }))
    expect(got.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm).toBe(
      'AES256',
    )
    const err = await sdkError(clear.send(new GetBucketEncryptionCommand({ Bucket: clearBucket })))
    expect(err.status).toBe(404)
    expect(err.name).toBe('ServerSideEncryptionConfigurationNotFoundError')
  })

  it('PutBucketEncryption: AES256 and aws:kms defaults are kept, in a namespace with D@RE and one without', async () => {
    const aes = { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' as const } }] }
    const kms = { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' as const } }] }
    const algorithm = async (client: S3Client, Bucket: string) =>
      (await client.send(new GetBucketEncryptionCommand({ Bucket }))).ServerSideEncryptionConfiguration?.Rules?.[0]
        ?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm
    await enc.send(new PutBucketEncryptionCommand({ Bucket: encBucket, ServerSideEncryptionConfiguration: kms }))
    expect(await algorithm(enc, encBucket)).toBe('aws:kms')
    await enc.send(new PutBucketEncryptionCommand({ Bucket: encBucket, ServerSideEncryptionConfiguration: aes }))
    expect(await algorithm(enc, encBucket)).toBe('AES256')
    await clear.send(new PutBucketEncryptionCommand({ Bucket: clearBucket, ServerSideEncryptionConfiguration: aes }))
    expect(await algorithm(clear, clearBucket)).toBe('AES256')
    // As on S3, deleting the configuration falls back to the default: AES256 where D@RE is on,
    // nothing where it is off.
    await enc.send(new DeleteBucketEncryptionCommand({ Bucket: encBucket }))
    expect(await algorithm(enc, encBucket)).toBe('AES256')
    await clear.send(new DeleteBucketEncryptionCommand({ Bucket: clearBucket }))
    expect((await sdkError(clear.send(new GetBucketEncryptionCommand({ Bucket: clearBucket })))).status).toBe(404)
  })

  it('x-amz-server-side-encryption on PUT: AES256 and aws:kms in both namespaces', async () => {
    for (const [client, Bucket] of [
      [enc, encBucket],
      [clear, clearBucket],
    ] as const) {
      const aes = await client.send(
        new PutObjectCommand({ Bucket, Key: 'asked', Body: 'x', ServerSideEncryption: 'AES256' }),
      )
      expect(aes.ServerSideEncryption).toBe('AES256')
      const kms = await client.send(
        new PutObjectCommand({ Bucket, Key: 'kms', Body: 'x', ServerSideEncryption: 'aws:kms' }),
      )
      expect(kms.ServerSideEncryption).toBe('aws:kms')
      expect(kms.SSEKMSKeyId).toMatch(/^arn:aws:kms:[a-z0-9-]+:[^:]+:key\/[0-9a-f-]{36}$/)
    }
  })
})

describe('SSE-KMS at rest', () => {
  const kmsMarker = { single: marker('kms-single'), parts: marker('kms-parts'), aes: marker('aes-managed') }

  it('in the namespace with encryption off, aws:kms objects (single, multipart) and AES256 ones leave no marker on disk', async () => {
    await clear.send(
      new PutObjectCommand({
        Bucket: clearBucket,
        Key: 'kms-single',
        Body: markerBody(kmsMarker.single, 300_000),
        ServerSideEncryption: 'aws:kms',
      }),
    )
    await clear.send(
      new PutObjectCommand({
        Bucket: clearBucket,
        Key: 'aes-managed',
        Body: markerBody(kmsMarker.aes, 100_000),
        ServerSideEncryption: 'AES256',
      }),
    )
    const parts = [markerBody(kmsMarker.parts, 5 * MiB), markerBody(kmsMarker.parts, 200_000)]
    const { UploadId } = await clear.send(
      new CreateMultipartUploadCommand({ Bucket: clearBucket, Key: 'kms-parts', ServerSideEncryption: 'aws:kms' }),
    )
    const done = []
    for (const [i, Body] of parts.entries()) {
      const r = await clear.send(
        new UploadPartCommand({ Bucket: clearBucket, Key: 'kms-parts', UploadId, PartNumber: i + 1, Body }),
      )
      done.push({ PartNumber: i + 1, ETag: r.ETag })
    }
    await clear.send(
      new CompleteMultipartUploadCommand({
        Bucket: clearBucket,
        Key: 'kms-parts',
        UploadId,
        MultipartUpload: { Parts: done },
      }),
    )
    for (const m of Object.values(kmsMarker)) expect(await filesContaining(server.dataDir, Buffer.from(m))).toEqual([])
    const range = await get(clear, clearBucket, 'kms-parts', `bytes=${5 * MiB - 10}-${5 * MiB + 9}`)
    expect(range.equals(Buffer.concat(parts).subarray(5 * MiB - 10, 5 * MiB + 10))).toBe(true)
  }, 120_000)
})
