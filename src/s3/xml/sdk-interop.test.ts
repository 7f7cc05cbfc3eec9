// Round trips through the real AWS SDK v3 serializers and deserializers, with no network: a
// request handler captures what the SDK would send and answers with our documents.
import { describe, expect, it } from 'vitest'
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutBucketEncryptionCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3'
import {
  completeMultipartUploadXml,
  deleteResultXml,
  errorXml,
  listAllMyBucketsXml,
  listMultipartUploadsXml,
  listObjectsV1Xml,
  listObjectsV2Xml,
  listPartsXml,
  locationConstraintXml,
  parseCompleteMultipartUpload,
  parseCreateBucketConfiguration,
  parseDelete,
  parseServerSideEncryptionConfiguration,
} from './documents.ts'

interface Captured {
  body: unknown
}

function sdk(answer: { status?: number; body: string }): { client: S3Client; sent: Captured } {
  const sent: Captured = { body: undefined }
  const client = new S3Client({
    region: 'eu-west-1',
    endpoint: 'https://127.0.0.1:1',
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
    requestHandler: {
      handle: async (req: { body: unknown }) => {
        sent.body = req.body
        const response = {
          statusCode: answer.status ?? 200,
          headers: { 'content-type': 'application/xml' },
          body: new Response(answer.body).body,
        }
        return { response }
      },
    } as never,
  })
  return { client, sent }
}

const asStream = (body: unknown): ReadableStream<Uint8Array> => {
  if (typeof body !== 'string') throw new Error(`expected a string body, got ${typeof body}`)
  return new Response(body).body!
}
const LIMIT = 1 << 20
const T0 = new Date(Date.UTC(2025, 0, 1))
const NASTY = ` a&b<c>"d'e\r\nf 日本 `

describe('request bodies the SDK sends parse as sent', () => {
  it('CompleteMultipartUpload', async () => {
    const { client, sent } = sdk({
      body: completeMultipartUploadXml({ location: 'l', bucket: 'b', key: 'k', etag: '"x-2"' }),
    })
    const out = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'b',
        Key: 'k',
        UploadId: 'u',
        MultipartUpload: {
          Parts: [
            { PartNumber: 3, ETag: '"c"', ChecksumCRC32: 'AAAAAA==' },
            { PartNumber: 1, ETag: '"a"' },
          ],
        },
      }),
    )
    expect(out.ETag).toBe('"x-2"')
    expect(await parseCompleteMultipartUpload(asStream(sent.body), LIMIT)).toEqual({
      parts: [
        { partNumber: 3, etag: '"c"', checksums: { CRC32: 'AAAAAA==' } },
        { partNumber: 1, etag: '"a"', checksums: {} },
      ],
    })
  })

  it('DeleteObjects, keys with markup characters, CR/LF and spaces', async () => {
    const { client, sent } = sdk({
      body: deleteResultXml({ deleted: [{ key: NASTY }, { key: '007', versionId: 'v' }], errors: [] }),
    })
    const out = await client.send(
      new DeleteObjectsCommand({
        Bucket: 'b',
        Delete: { Quiet: false, Objects: [{ Key: NASTY }, { Key: '007', VersionId: 'v' }] },
      }),
    )
    expect(out.Deleted).toEqual([{ Key: NASTY }, { Key: '007', VersionId: 'v' }])
    expect(await parseDelete(asStream(sent.body), LIMIT)).toEqual({
      quiet: false,
      objects: [{ key: NASTY }, { key: '007', versionId: 'v' }],
    })
  })

  it('CreateBucket and PutBucketEncryption', async () => {
    const a = sdk({ body: '' })
    await a.client.send(
      new CreateBucketCommand({ Bucket: 'b', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }),
    )
    expect(await parseCreateBucketConfiguration(asStream(a.sent.body), LIMIT)).toEqual({
      locationConstraint: 'eu-west-1',
    })
    const b = sdk({ body: '' })
    await b.client.send(
      new PutBucketEncryptionCommand({
        Bucket: 'b',
        ServerSideEncryptionConfiguration: {
          Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
      }),
    )
    expect(await parseServerSideEncryptionConfiguration(asStream(b.sent.body), LIMIT)).toEqual({ algorithm: 'AES256' })
  })
})

describe('our response documents parse in the SDK', () => {
  const owner = { id: 'oid', displayName: 'me' }

  it('ListObjectsV2, including a control character and a numeric-looking key', async () => {
    const { client } = sdk({
      body: listObjectsV2Xml({
        name: 'b',
        prefix: '',
        delimiter: '/',
        maxKeys: 2,
        isTruncated: true,
        nextContinuationToken: 'n',
        contents: [
          { key: `${NASTY}\u0001`, lastModified: T0, etag: '"e"', size: 5 },
          { key: '1e3', lastModified: T0, etag: '"f"', size: 0 },
        ],
        commonPrefixes: ['d/'],
      }),
    })
    const out = await client.send(new ListObjectsV2Command({ Bucket: 'b' }))
    expect(out.Contents?.map((c) => c.Key)).toEqual([`${NASTY}\u0001`, '1e3'])
    expect(out.Contents?.[0]).toMatchObject({ ETag: '"e"', Size: 5, StorageClass: 'STANDARD', LastModified: T0 })
    expect(out).toMatchObject({
      IsTruncated: true,
      KeyCount: 3,
      MaxKeys: 2,
      NextContinuationToken: 'n',
      Delimiter: '/',
    })
    expect(out.CommonPrefixes).toEqual([{ Prefix: 'd/' }])
  })

  it('ListObjects (v1) and ListBuckets and GetBucketLocation', async () => {
    const v1 = sdk({
      body: listObjectsV1Xml({
        name: 'b',
        prefix: '',
        marker: '',
        nextMarker: 'k',
        delimiter: '/',
        maxKeys: 1,
        isTruncated: true,
        contents: [{ key: 'k', lastModified: T0, etag: '"e"', size: 1, owner }],
        commonPrefixes: [],
      }),
    })
    const o1 = await v1.client.send(new ListObjectsCommand({ Bucket: 'b' }))
    expect(o1).toMatchObject({ NextMarker: 'k', IsTruncated: true })
    expect(o1.Contents?.[0]?.Owner).toEqual({ ID: 'oid', DisplayName: 'me' })

    const lb = sdk({
      body: listAllMyBucketsXml({ owner, buckets: [{ name: 'x', creationDate: T0, region: 'eu-west-1' }] }),
    })
    const o2 = await lb.client.send(new ListBucketsCommand({}))
    expect(o2.Buckets).toEqual([{ Name: 'x', CreationDate: T0, BucketRegion: 'eu-west-1' }])

    for (const region of ['us-east-1', 'eu-west-1']) {
      const loc = sdk({ body: locationConstraintXml(region) })
      const o3 = await loc.client.send(new GetBucketLocationCommand({ Bucket: 'b' }))
      expect(o3.LocationConstraint ?? '').toBe(region === 'us-east-1' ? '' : region)
    }
  })

  it('ListParts and ListMultipartUploads', async () => {
    const lp = sdk({
      body: listPartsXml({
        bucket: 'b',
        key: NASTY,
        uploadId: 'u',
        partNumberMarker: 0,
        nextPartNumberMarker: 1,
        maxParts: 1,
        isTruncated: true,
        initiator: owner,
        owner,
        parts: [
          { partNumber: 1, lastModified: T0, etag: '"p"', size: 5, checksums: [{ algorithm: 'SHA256', value: 's' }] },
        ],
      }),
    })
    const o1 = await lp.client.send(new ListPartsCommand({ Bucket: 'b', Key: 'k', UploadId: 'u' }))
    expect(o1).toMatchObject({ Key: NASTY, NextPartNumberMarker: '1', IsTruncated: true, MaxParts: 1 })
    expect(o1.Parts).toEqual([{ PartNumber: 1, LastModified: T0, ETag: '"p"', Size: 5, ChecksumSHA256: 's' }])

    const lm = sdk({
      body: listMultipartUploadsXml({
        bucket: 'b',
        keyMarker: '',
        uploadIdMarker: '',
        nextKeyMarker: 'k',
        nextUploadIdMarker: 'u',
        prefix: '',
        maxUploads: 1,
        isTruncated: true,
        commonPrefixes: [],
        uploads: [{ key: 'k', uploadId: 'u', initiator: owner, owner, initiated: T0 }],
      }),
    })
    const o2 = await lm.client.send(new ListMultipartUploadsCommand({ Bucket: 'b' }))
    expect(o2.Uploads?.[0]).toMatchObject({ Key: 'k', UploadId: 'u', Initiated: T0, StorageClass: 'STANDARD' })
    expect(o2).toMatchObject({ NextKeyMarker: 'k', NextUploadIdMarker: 'u', IsTruncated: true })
  })

  it('an Error document becomes the SDK exception with its code and message', async () => {
    const { client } = sdk({
      status: 404,
      body: errorXml({
        code: 'NoSuchBucket',
        message: 'The specified bucket does not exist.',
        requestId: 'R1',
        hostId: 'H1',
        details: { BucketName: 'b' },
      }),
    })
    const err = await client.send(new ListObjectsV2Command({ Bucket: 'b' })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(S3ServiceException)
    expect((err as S3ServiceException).name).toBe('NoSuchBucket')
    expect((err as S3ServiceException).message).toBe('The specified bucket does not exist.')
    expect((err as S3ServiceException).$metadata.httpStatusCode).toBe(404)
  })
})
