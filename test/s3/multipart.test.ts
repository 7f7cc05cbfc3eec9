/**
 * Black-box multipart uploads: complete/ETag, part-size and part-list errors, ListParts and
 * ListMultipartUploads paging, abort, UploadPartCopy, composite and full-object checksums, lib-storage.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
  type ChecksumAlgorithm,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { startServer, type TestServer } from '../helpers/server.ts'
import { bodyBytes, bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { checksumB64, compositeChecksum, multipartEtag, type ChecksumAlg } from '../helpers/raw.ts'

let server: TestServer
let s3: S3Client
const Bucket = bucketName('mpu')
const MiB = 1024 * 1024
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

beforeAll(async () => {
  server = await startServer()
  s3 = s3Client(server)
  await s3.send(new CreateBucketCommand({ Bucket }))
})
afterAll(async () => {
  s3?.destroy()
  await server?.stop()
})

async function create(Key: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ...extra }))
  expect(r.UploadId).toBeTruthy()
  expect(r.Key).toBe(Key)
  return r.UploadId!
}

/** Upload parts; `alg` must match the upload's ChecksumAlgorithm (S3 rejects a part checksum of another type). */
async function uploadParts(
  Key: string,
  UploadId: string,
  parts: Buffer[],
  alg?: ChecksumAlg,
): Promise<CompletedPart[]> {
  const out: CompletedPart[] = []
  for (const [i, Body] of parts.entries()) {
    const r = await s3.send(
      new UploadPartCommand({
        Bucket,
        Key,
        UploadId,
        PartNumber: i + 1,
        Body,
        ChecksumAlgorithm: alg as ChecksumAlgorithm | undefined,
      }),
    )
    expect(r.ETag).toBe(`"${createHash('md5').update(Body).digest('hex')}"`)
    out.push({
      PartNumber: i + 1,
      ETag: r.ETag,
      ChecksumCRC32: r.ChecksumCRC32,
      ChecksumCRC32C: r.ChecksumCRC32C,
      ChecksumCRC64NVME: r.ChecksumCRC64NVME,
      ChecksumSHA1: r.ChecksumSHA1,
      ChecksumSHA256: r.ChecksumSHA256,
    })
  }
  return out
}

describe('complete', () => {
  it('5 MiB + small last part: ETag = md5-of-md5s-N, bytes identical', async () => {
    const Key = 'basic/obj'
    const parts = [randomBytes(5 * MiB), randomBytes(MiB + 3)]
    const UploadId = await create(Key, { ContentType: 'application/x-test', Metadata: { origin: 'mpu' } })
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: await uploadParts(Key, UploadId, parts) },
      }),
    )
    expect(done.ETag).toBe(multipartEtag(parts))
    expect(done.Key).toBe(Key)
    expect(done.Bucket).toBe(Bucket)
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key }))
    expect(head.ContentLength).toBe(6 * MiB + 3)
    expect(head.ETag).toBe(multipartEtag(parts))
    expect(head.ContentType).toBe('application/x-test')
    expect(head.Metadata).toEqual({ origin: 'mpu' })
    const get = await s3.send(new GetObjectCommand({ Bucket, Key }))
    expect(sha(await bodyBytes(get.Body))).toBe(sha(Buffer.concat(parts)))
    const range = await s3.send(new GetObjectCommand({ Bucket, Key, Range: `bytes=${5 * MiB - 10}-${5 * MiB + 9}` }))
    expect(Buffer.compare(await bodyBytes(range.Body), Buffer.concat(parts).subarray(5 * MiB - 10, 5 * MiB + 10))).toBe(
      0,
    )
    // The upload is gone once completed.
    expect((await sdkError(s3.send(new ListPartsCommand({ Bucket, Key, UploadId })))).name).toBe('NoSuchUpload')
  })

  it('a part under 5 MiB that is not the last → 400 EntityTooSmall', async () => {
    const Key = 'err/small'
    const UploadId = await create(Key)
    const parts = await uploadParts(Key, UploadId, [randomBytes(MiB), randomBytes(MiB)])
    const e = await sdkError(
      s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } })),
    )
    expect(e.status).toBe(400)
    expect(e.name).toBe('EntityTooSmall')
    expect((await sdkError(s3.send(new HeadObjectCommand({ Bucket, Key })))).status).toBe(404)
  })

  it('a wrong part ETag or an unknown part number → 400 InvalidPart', async () => {
    const Key = 'err/invalid-part'
    const UploadId = await create(Key)
    const parts = await uploadParts(Key, UploadId, [randomBytes(1024)])
    const wrong = await sdkError(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: [{ ...parts[0], ETag: '"0123456789abcdef0123456789abcdef"' }] },
        }),
      ),
    )
    expect(wrong.status).toBe(400)
    expect(wrong.name).toBe('InvalidPart')
    const unknown = await sdkError(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 7, ETag: parts[0]!.ETag, ChecksumCRC32: parts[0]!.ChecksumCRC32 }] },
        }),
      ),
    )
    expect(unknown.status).toBe(400)
    expect(unknown.name).toBe('InvalidPart')
  })

  it('parts listed out of order → 400 InvalidPartOrder', async () => {
    const Key = 'err/order'
    const UploadId = await create(Key)
    // Both parts are 5 MiB so that only the order can be wrong.
    const parts = await uploadParts(Key, UploadId, [randomBytes(5 * MiB), randomBytes(5 * MiB)])
    const e = await sdkError(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: [parts[1]!, parts[0]!] },
        }),
      ),
    )
    expect(e.status).toBe(400)
    expect(e.name).toBe('InvalidPartOrder')
  })

  it('an unknown upload id → 404 NoSuchUpload for UploadPart, ListParts, Complete', async () => {
    const Key = 'err/nosuch'
    const UploadId = 'definitely-not-an-upload-id'
    expect(
      (await sdkError(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: 'x' })))).name,
    ).toBe('NoSuchUpload')
    expect((await sdkError(s3.send(new ListPartsCommand({ Bucket, Key, UploadId })))).name).toBe('NoSuchUpload')
    const c = await sdkError(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"x"' }] },
        }),
      ),
    )
    expect(c.status).toBe(404)
    expect(c.name).toBe('NoSuchUpload')
  })

  it('re-uploading a part number replaces it', async () => {
    const Key = 'basic/replace'
    const UploadId = await create(Key)
    await uploadParts(Key, UploadId, [Buffer.from('old part')])
    const parts = await uploadParts(Key, UploadId, [Buffer.from('new part')])
    await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }))
    const get = await s3.send(new GetObjectCommand({ Bucket, Key }))
    expect((await bodyBytes(get.Body)).toString()).toBe('new part')
  })
})

describe('listing and abort', () => {
  it('ListParts pages with MaxParts / PartNumberMarker', async () => {
    const Key = 'list/parts'
    const UploadId = await create(Key)
    const bodies = [Buffer.from('p1'), Buffer.from('part2'), Buffer.from('third')]
    await uploadParts(Key, UploadId, bodies)
    const first = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId, MaxParts: 2 }))
    expect((first.Parts ?? []).map((p) => p.PartNumber)).toEqual([1, 2])
    expect(first.IsTruncated).toBe(true)
    expect(String(first.NextPartNumberMarker)).toBe('2')
    expect(first.Parts![1]!.Size).toBe(5)
    expect(first.Parts![1]!.ETag).toBe(`"${createHash('md5').update('part2').digest('hex')}"`)
    expect(first.Parts![0]!.LastModified).toBeInstanceOf(Date)
    const second = await s3.send(
      new ListPartsCommand({ Bucket, Key, UploadId, MaxParts: 2, PartNumberMarker: first.NextPartNumberMarker }),
    )
    expect((second.Parts ?? []).map((p) => p.PartNumber)).toEqual([3])
    expect(second.IsTruncated).toBe(false)
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }))
  })

  it('ListMultipartUploads pages by key/upload-id markers and filters by prefix', async () => {
    const keys = ['lmu/a', 'lmu/b', 'lmu/c', 'lmu/c', 'lmu/d/e', 'other/x']
    const ids: Array<[string, string]> = []
    for (const k of keys) ids.push([k, await create(k)])
    const want = ids.filter(([k]) => k.startsWith('lmu/'))
    const seen: Array<[string, string]> = []
    let KeyMarker: string | undefined
    let UploadIdMarker: string | undefined
    for (let i = 0; i < 20; i++) {
      const r = await s3.send(
        new ListMultipartUploadsCommand({ Bucket, Prefix: 'lmu/', MaxUploads: 2, KeyMarker, UploadIdMarker }),
      )
      expect((r.Uploads ?? []).length).toBeLessThanOrEqual(2)
      seen.push(...(r.Uploads ?? []).map((u) => [u.Key!, u.UploadId!] as [string, string]))
      for (const u of r.Uploads ?? []) expect(u.Initiated).toBeInstanceOf(Date)
      if (!r.IsTruncated) break
      KeyMarker = r.NextKeyMarker
      UploadIdMarker = r.NextUploadIdMarker
      expect(KeyMarker).toBeTruthy()
    }
    expect(seen.map(([k]) => k)).toEqual(want.map(([k]) => k).sort())
    expect(new Set(seen.map(([, id]) => id))).toEqual(new Set(want.map(([, id]) => id)))
    const delim = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: 'lmu/', Delimiter: '/' }))
    expect((delim.CommonPrefixes ?? []).map((p) => p.Prefix)).toEqual(['lmu/d/'])
    expect((delim.Uploads ?? []).map((u) => u.Key)).toEqual(['lmu/a', 'lmu/b', 'lmu/c', 'lmu/c'])
    for (const [Key, UploadId] of ids) await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }))
    const after = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: 'lmu/' }))
    expect(after.Uploads ?? []).toEqual([])
  })

  it('AbortMultipartUpload → 204, then the upload is NoSuchUpload and no object appears', async () => {
    const Key = 'abort/me'
    const UploadId = await create(Key)
    const parts = await uploadParts(Key, UploadId, [Buffer.from('data')])
    const r = await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }))
    expect(r.$metadata.httpStatusCode).toBe(204)
    const e = await sdkError(s3.send(new ListPartsCommand({ Bucket, Key, UploadId })))
    expect(e.status).toBe(404)
    expect(e.name).toBe('NoSuchUpload')
    const c = await sdkError(
      s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } })),
    )
    expect(c.name).toBe('NoSuchUpload')
    expect((await sdkError(s3.send(new HeadObjectCommand({ Bucket, Key })))).status).toBe(404)
  })
})

describe('UploadPartCopy', () => {
  it('copies a whole source and a byte range of it into parts', async () => {
    const src = randomBytes(5 * MiB + 100)
    await s3.send(new PutObjectCommand({ Bucket, Key: 'copy/src ü', Body: src }))
    const Key = 'copy/dst'
    const UploadId = await create(Key)
    const CopySource = `${Bucket}/${encodeURIComponent('copy/src ü')}`
    const p1 = await s3.send(new UploadPartCopyCommand({ Bucket, Key, UploadId, PartNumber: 1, CopySource }))
    expect(p1.CopyPartResult?.ETag).toBe(`"${createHash('md5').update(src).digest('hex')}"`)
    expect(p1.CopyPartResult?.LastModified).toBeInstanceOf(Date)
    const p2 = await s3.send(
      new UploadPartCopyCommand({ Bucket, Key, UploadId, PartNumber: 2, CopySource, CopySourceRange: 'bytes=10-1033' }),
    )
    const want2 = src.subarray(10, 1034)
    expect(p2.CopyPartResult?.ETag).toBe(`"${createHash('md5').update(want2).digest('hex')}"`)
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: p1.CopyPartResult!.ETag },
            { PartNumber: 2, ETag: p2.CopyPartResult!.ETag },
          ],
        },
      }),
    )
    expect(done.ETag).toBe(multipartEtag([src, want2]))
    const get = await s3.send(new GetObjectCommand({ Bucket, Key }))
    expect(sha(await bodyBytes(get.Body))).toBe(sha(Buffer.concat([src, want2])))
  })

  it('a range beyond the source → 400 InvalidRange (or InvalidArgument); missing source → 404 NoSuchKey', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'copy/small', Body: 'tiny' }))
    const Key = 'copy/bad'
    const UploadId = await create(Key)
    const e = await sdkError(
      s3.send(
        new UploadPartCopyCommand({
          Bucket,
          Key,
          UploadId,
          PartNumber: 1,
          CopySource: `${Bucket}/copy/small`,
          CopySourceRange: 'bytes=100-200',
        }),
      ),
    )
    expect(e.status === 416 || e.status === 400).toBe(true)
    expect(['InvalidRange', 'InvalidArgument']).toContain(e.name)
    const m = await sdkError(
      s3.send(new UploadPartCopyCommand({ Bucket, Key, UploadId, PartNumber: 1, CopySource: `${Bucket}/copy/none` })),
    )
    expect(m.status).toBe(404)
    expect(m.name).toBe('NoSuchKey')
  })
})

describe('checksums', () => {
  const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(333)]
  const composite: ChecksumAlg[] = ['CRC32', 'CRC32C', 'SHA1', 'SHA256']
  it.each(composite)('%s composite: per-part checksums, object checksum = checksum-of-checksums-N', async (alg) => {
    const Key = `ck/composite-${alg}`
    const field = `Checksum${alg}` as const
    const UploadId = await create(Key, { ChecksumAlgorithm: alg as ChecksumAlgorithm })
    const done = await uploadParts(Key, UploadId, parts, alg).then(async (ps) => {
      for (const [i, p] of ps.entries()) expect(p[field]).toBe(await checksumB64(alg, parts[i]!))
      return s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: ps } }))
    })
    const want = await compositeChecksum(alg, parts)
    expect(done[field]).toBe(want)
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }))
    expect(head[field]).toBe(want)
    expect(head.ChecksumType).toBe('COMPOSITE')
    const get = await s3.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }))
    expect(get[field]).toBe(want)
    expect(sha(await bodyBytes(get.Body))).toBe(sha(Buffer.concat(parts)))
  })

  const full: ChecksumAlg[] = ['CRC32', 'CRC32C', 'CRC64NVME']
  it.each(full)('%s FULL_OBJECT: object checksum = checksum of all bytes', async (alg) => {
    const Key = `ck/full-${alg}`
    const field = `Checksum${alg}` as const
    const UploadId = await create(Key, { ChecksumAlgorithm: alg as ChecksumAlgorithm, ChecksumType: 'FULL_OBJECT' })
    const ps = await uploadParts(Key, UploadId, parts, alg)
    const done = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: ps } }),
    )
    const want = await checksumB64(alg, Buffer.concat(parts))
    expect(done[field]).toBe(want)
    const get = await s3.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }))
    expect(get[field]).toBe(want)
    expect(get.ChecksumType).toBe('FULL_OBJECT')
    expect(sha(await bodyBytes(get.Body))).toBe(sha(Buffer.concat(parts)))
  })

  it('a part checksum in Complete that does not match the uploaded part → 400 InvalidPart', async () => {
    const Key = 'ck/mismatch'
    const UploadId = await create(Key, { ChecksumAlgorithm: 'CRC32' })
    const ps = await uploadParts(Key, UploadId, [Buffer.from('abc')])
    const e = await sdkError(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: [{ ...ps[0], ChecksumCRC32: await checksumB64('CRC32', Buffer.from('xyz')) }] },
        }),
      ),
    )
    expect(e.status).toBe(400)
    expect(['InvalidPart', 'BadDigest']).toContain(e.name)
  })
})

describe('@aws-sdk/lib-storage', () => {
  it('Upload of a 40 MiB stream (default client): multipart ETag, composite CRC32, identical bytes', async () => {
    const data = randomBytes(40 * MiB)
    const Key = 'lib-storage/forty'
    const stream = Readable.from(
      (function* () {
        for (let i = 0; i < data.length; i += MiB) yield data.subarray(i, i + MiB)
      })(),
    )
    const up = new Upload({ client: s3, params: { Bucket, Key, Body: stream } })
    const done = await up.done()
    const partSize = 5 * MiB // lib-storage's default part size
    const slices = Array.from({ length: data.length / partSize }, (_, i) =>
      data.subarray(i * partSize, (i + 1) * partSize),
    )
    expect(done.ETag).toBe(multipartEtag(slices))
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }))
    expect(head.ContentLength).toBe(data.length)
    // lib-storage creates the upload with ChecksumAlgorithm CRC32 (composite by default in S3).
    expect(head.ChecksumCRC32).toBe(await compositeChecksum('CRC32', slices))
    const get = await s3.send(new GetObjectCommand({ Bucket, Key }))
    expect(sha(await bodyBytes(get.Body))).toBe(sha(data))
  })
})
