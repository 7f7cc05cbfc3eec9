/**
 * Black-box S3 versioning over TLS with the AWS SDK: Get/PutBucketVersioning, version ids on
 * every write, delete markers, GET/HEAD/DELETE by versionId with S3's statuses, ListObjectVersions
 * paging, DeleteObjects with versions, copy and multipart in a versioned bucket, suspended
 * semantics, old versions' data surviving GC, and a restart in the middle keeping every version.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawRequest, objectPath } from '../helpers/raw.ts'
import { bodyBytes, bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { randomCredentials, startServer, type TestServer } from '../helpers/server.ts'
import { byWriteId, listShards, waitFor } from '../helpers/shards.ts'

let dataDir: string
let server: TestServer
let s3: S3Client
const creds = randomCredentials()
// Short grace: data wrongly queued for GC would be gone within the suite.
const env = {
  COFFER_ROOT_ACCESS_KEY: creds.accessKeyId,
  COFFER_ROOT_SECRET_KEY: creds.secretAccessKey,
  COFFER_GC_GRACE_MS: '200',
}
const Bucket = bucketName('versions')

const text = async (Key: string, VersionId?: string) =>
  (await bodyBytes((await s3.send(new GetObjectCommand({ Bucket, Key, VersionId }))).Body)).toString()
const put = async (Key: string, body: string, B = Bucket) =>
  (await s3.send(new PutObjectCommand({ Bucket: B, Key, Body: body }))).VersionId
const versionsOf = async (Prefix: string, B = Bucket) => {
  const out = await s3.send(new ListObjectVersionsCommand({ Bucket: B, Prefix }))
  return {
    versions: (out.Versions ?? []).map((v) => [v.Key, v.VersionId, v.IsLatest]),
    markers: (out.DeleteMarkers ?? []).map((m) => [m.Key, m.VersionId, m.IsLatest]),
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'coffer-versions-'))
  server = await startServer({ dataDir, env })
  s3 = s3Client(server)
  await s3.send(new CreateBucketCommand({ Bucket }))
})
afterAll(async () => {
  s3?.destroy()
  await server?.stop()
  await rm(dataDir, { recursive: true, force: true })
})

describe('bucket versioning state', () => {
  it('a new bucket shows no status; objects written before enabling become the null version', async () => {
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).toBeUndefined()
    const before = await s3.send(new PutObjectCommand({ Bucket, Key: 'pre', Body: 'before' }))
    expect(before.VersionId).toBeUndefined()
    await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }))
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).toBe('Enabled')
    const after = await put('pre', 'after')
    expect(after).toMatch(/^[0-9a-f]{32}$/)
    expect(await text('pre', 'null')).toBe('before')
    expect(await text('pre')).toBe('after')
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'pre', VersionId: 'null' }))
    expect(head.VersionId).toBe('null')
    expect(head.ContentLength).toBe(6)
  })

  it('bad configurations are MalformedXML; an unknown bucket NoSuchBucket', async () => {
    const bad = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket),
      query: [['versioning', '']],
      body: '<VersioningConfiguration><Status>Sometimes</Status></VersioningConfiguration>',
    })
    expect(bad.status).toBe(400)
    expect(bad.body).toContain('<Code>MalformedXML</Code>')
    const missing = await sdkError(
      s3.send(
        new PutBucketVersioningCommand({ Bucket: bucketName('none'), VersioningConfiguration: { Status: 'Enabled' } }),
      ),
    )
    expect(missing.name).toBe('NoSuchBucket')
  })
})

describe('the version lifecycle', () => {
  const Key = 'life/k'
  const ids: string[] = []
  let markerId = ''

  it('three writes make three versions; GET reads the newest, GET by versionId any of them', async () => {
    for (const body of ['one', 'two', 'three']) ids.push((await put(Key, body))!)
    expect(new Set(ids).size).toBe(3)
    expect(await text(Key)).toBe('three')
    expect(await text(Key, ids[0])).toBe('one')
    expect(await text(Key, ids[1])).toBe('two')
    const get = await s3.send(new GetObjectCommand({ Bucket, Key }))
    expect(get.VersionId).toBe(ids[2])
    await bodyBytes(get.Body)
  })

  it('DELETE without a version writes a delete marker; GET/HEAD then 404 with x-amz-delete-marker', async () => {
    const del = await s3.send(new DeleteObjectCommand({ Bucket, Key }))
    expect(del.DeleteMarker).toBe(true)
    expect(del.VersionId).toMatch(/^[0-9a-f]{32}$/)
    markerId = del.VersionId!
    const get = await rawRequest(server, { method: 'GET', path: objectPath(Bucket, Key) })
    expect(get.status).toBe(404)
    expect(get.body).toContain('<Code>NoSuchKey</Code>')
    expect(get.headers['x-amz-delete-marker']).toBe('true')
    expect(get.headers['x-amz-version-id']).toBe(markerId)
    const head = await rawRequest(server, { method: 'HEAD', path: objectPath(Bucket, Key) })
    expect(head.status).toBe(404)
    expect(head.headers['x-amz-delete-marker']).toBe('true')
    // ListObjects shows only current objects.
    const listed = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'life/' }))
    expect(listed.Contents ?? []).toEqual([])
  })

  it('GET/HEAD of the marker by id is 405; an unknown version 404 NoSuchVersion', async () => {
    const get = await rawRequest(server, {
      method: 'GET',
      path: objectPath(Bucket, Key),
      query: [['versionId', markerId]],
    })
    expect(get.status).toBe(405)
    expect(get.body).toContain('<Code>MethodNotAllowed</Code>')
    expect(get.headers['x-amz-delete-marker']).toBe('true')
    const head = await sdkError(s3.send(new HeadObjectCommand({ Bucket, Key, VersionId: markerId })))
    expect(head.status).toBe(405)
    const unknown = await sdkError(s3.send(new GetObjectCommand({ Bucket, Key, VersionId: '0'.repeat(32) })))
    expect(unknown.status).toBe(404)
    expect(unknown.name).toBe('NoSuchVersion')
    const empty = await rawRequest(server, { method: 'GET', path: objectPath(Bucket, Key), query: [['versionId', '']] })
    expect(empty.status).toBe(400)
  })

  it('ListObjectVersions shows the versions and the marker, newest first, the marker latest', async () => {
    const listed = await versionsOf('life/')
    expect(listed.versions).toEqual([
      [Key, ids[2], false],
      [Key, ids[1], false],
      [Key, ids[0], false],
    ])
    expect(listed.markers).toEqual([[Key, markerId, true]])
  })

  it('removing the marker undeletes; removing the current version makes the previous one current', async () => {
    const undelete = await s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId: markerId }))
    expect(undelete.DeleteMarker).toBe(true)
    expect(undelete.VersionId).toBe(markerId)
    expect(await text(Key)).toBe('three')
    const gone = await s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId: ids[2] }))
    expect(gone.VersionId).toBe(ids[2])
    expect(gone.DeleteMarker).toBeUndefined()
    expect(await text(Key)).toBe('two')
    expect((await sdkError(s3.send(new GetObjectCommand({ Bucket, Key, VersionId: ids[2] })))).name).toBe(
      'NoSuchVersion',
    )
    // Deleting a version that is not there succeeds, as in S3.
    await s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId: ids[2] }))
  })
})

describe('listing many versions of many keys', () => {
  const keys = ['p/a', 'p/b', 'p/c/1', 'p/c/2', 'p/d']
  const expected: [string, string][] = []

  beforeAll(async () => {
    for (const key of keys) {
      const ids: string[] = []
      for (let i = 0; i < 6; i++) {
        if (i === 4) ids.unshift((await s3.send(new DeleteObjectCommand({ Bucket, Key: key }))).VersionId!)
        else ids.unshift((await put(key, `${key}#${i}`))!)
      }
      for (const id of ids) expected.push([key, id])
    }
  })

  it('pages of max-keys 4 with key-marker and version-id-marker visit every version once, in order', async () => {
    const seen: [string, string][] = []
    let KeyMarker: string | undefined
    let VersionIdMarker: string | undefined
    for (let pages = 0; pages < 40; pages++) {
      const page: ListObjectVersionsCommandOutput = await s3.send(
        new ListObjectVersionsCommand({ Bucket, Prefix: 'p/', MaxKeys: 4, KeyMarker, VersionIdMarker }),
      )
      const entries = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]
      expect(entries.length).toBeLessThanOrEqual(4)
      // The SDK splits the two lists; the order is key, then newest first (time-ordered ids).
      const ordered = entries.map((v) => [v.Key!, v.VersionId!] as [string, string])
      ordered.sort((x, y) => expected.findIndex((e) => e[1] === x[1]) - expected.findIndex((e) => e[1] === y[1]))
      seen.push(...ordered)
      if (!page.IsTruncated) break
      KeyMarker = page.NextKeyMarker
      VersionIdMarker = page.NextVersionIdMarker
    }
    expect(seen).toEqual(expected)
  })

  it('a delimiter rolls versions under a prefix into one CommonPrefix; encoding-type=url encodes keys', async () => {
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket, Prefix: 'p/', Delimiter: '/' }))
    expect((page.CommonPrefixes ?? []).map((p) => p.Prefix)).toEqual(['p/c/'])
    const keysListed = new Set([...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => v.Key))
    expect([...keysListed].sort()).toEqual(['p/a', 'p/b', 'p/d'])
    await put('enc/a b+c', 'x')
    const raw = await rawRequest(server, {
      method: 'GET',
      path: objectPath(Bucket),
      query: [
        ['versions', ''],
        ['prefix', 'enc/'],
        ['encoding-type', 'url'],
      ],
    })
    expect(raw.status).toBe(200)
    expect(raw.body).toContain('<Key>enc/a%20b%2Bc</Key>')
    expect(raw.body).toContain('<EncodingType>url</EncodingType>')
  })

  it('a version-id-marker without a key-marker, or naming no version, is InvalidArgument', async () => {
    const alone = await rawRequest(server, {
      method: 'GET',
      path: objectPath(Bucket),
      query: [
        ['versions', ''],
        ['version-id-marker', expected[0]![1]],
      ],
    })
    expect(alone.status).toBe(400)
    expect(alone.body).toContain('<Code>InvalidArgument</Code>')
    const unknown = await sdkError(
      s3.send(new ListObjectVersionsCommand({ Bucket, KeyMarker: 'p/a', VersionIdMarker: 'f'.repeat(32) })),
    )
    expect(unknown.status).toBe(400)
  })
})

describe('DeleteObjects, copy, multipart and conditions in a versioned bucket', () => {
  it('DeleteObjects with and without version ids reports markers made and versions removed', async () => {
    const v1 = (await put('batch/a', 'a1'))!
    await put('batch/b', 'b1')
    const out = await s3.send(
      new DeleteObjectsCommand({
        Bucket,
        Delete: { Objects: [{ Key: 'batch/a', VersionId: v1 }, { Key: 'batch/b' }] },
      }),
    )
    const byKey = new Map((out.Deleted ?? []).map((d) => [d.Key, d]))
    expect(byKey.get('batch/a')).toMatchObject({ VersionId: v1 })
    expect(byKey.get('batch/a')?.DeleteMarker).toBeFalsy()
    expect(byKey.get('batch/b')?.DeleteMarker).toBe(true)
    expect(byKey.get('batch/b')?.DeleteMarkerVersionId).toMatch(/^[0-9a-f]{32}$/)
    expect((await versionsOf('batch/a')).versions).toEqual([])
    expect((await versionsOf('batch/b')).markers).toEqual([
      ['batch/b', byKey.get('batch/b')?.DeleteMarkerVersionId, true],
    ])
  })

  it('copy from ?versionId= copies that version; copying it onto its own key restores it', async () => {
    const old = (await put('copy/src', 'old bytes'))!
    await put('copy/src', 'new bytes')
    const copy = await s3.send(
      new CopyObjectCommand({ Bucket, Key: 'copy/dst', CopySource: `${Bucket}/copy/src?versionId=${old}` }),
    )
    expect(copy.CopySourceVersionId).toBe(old)
    expect(copy.VersionId).toMatch(/^[0-9a-f]{32}$/)
    expect(await text('copy/dst')).toBe('old bytes')
    const restore = await s3.send(
      new CopyObjectCommand({ Bucket, Key: 'copy/src', CopySource: `${Bucket}/copy/src?versionId=${old}` }),
    )
    expect(await text('copy/src')).toBe('old bytes')
    expect((await versionsOf('copy/src')).versions).toHaveLength(3)
    expect((await versionsOf('copy/src')).versions[0]).toEqual(['copy/src', restore.VersionId, true])
    const markerId = (await s3.send(new DeleteObjectCommand({ Bucket, Key: 'copy/src' }))).VersionId
    const fromMarker = await sdkError(
      s3.send(new CopyObjectCommand({ Bucket, Key: 'copy/x', CopySource: `${Bucket}/copy/src?versionId=${markerId}` })),
    )
    expect(fromMarker.status).toBe(400)
    const fromDeleted = await sdkError(
      s3.send(new CopyObjectCommand({ Bucket, Key: 'copy/x', CopySource: `${Bucket}/copy/src` })),
    )
    expect(fromDeleted.name).toBe('NoSuchKey')
  })

  it('a completed multipart upload is a new version; completing it again answers the same 200', async () => {
    const Key = 'mpu/k'
    const first = await put(Key, 'single')
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }))
    const part = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: 'multi' }))
    const complete = () =>
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      )
    const done = await complete()
    expect(done.VersionId).toMatch(/^[0-9a-f]{32}$/)
    expect(done.VersionId).not.toBe(first)
    const again = await complete()
    expect(again.ETag).toBe(done.ETag)
    expect(again.VersionId).toBe(done.VersionId)
    expect(await text(Key)).toBe('multi')
    expect(await text(Key, first)).toBe('single')
  })

  it('If-None-Match: * refuses over a current object but not over a delete marker; an ETag refuses its match', async () => {
    const Key = 'cond/k'
    const v = await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'a', IfNoneMatch: '*' }))
    const refused = await sdkError(s3.send(new PutObjectCommand({ Bucket, Key, Body: 'b', IfNoneMatch: '*' })))
    expect(refused.status).toBe(412)
    const byEtag = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, Key),
      headers: { 'if-none-match': v.ETag! },
      body: 'c',
    })
    expect(byEtag.status).toBe(412)
    const otherEtag = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, Key),
      headers: { 'if-none-match': '"00000000000000000000000000000000"' },
      body: 'd',
    })
    expect(otherEtag.status).toBe(200)
    await s3.send(new DeleteObjectCommand({ Bucket, Key }))
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'e', IfNoneMatch: '*' }))
    expect(await text(Key)).toBe('e')
  })
})

describe('GetObjectAttributes', () => {
  it('ETag, checksum, size and paged parts, of the current or an older version', async () => {
    const Key = 'attrs/k'
    // Already on when the whole file runs; on here too so that this test runs alone (-t).
    await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }))
    const old = await put(Key, 'old and small')
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'CRC32' }))
    const bodies = [Buffer.alloc(5 * 1024 * 1024, 1), Buffer.alloc(5 * 1024 * 1024, 2), Buffer.from('tail')]
    const parts = []
    for (const [i, Body] of bodies.entries()) {
      const r = await s3.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body, ChecksumAlgorithm: 'CRC32' }),
      )
      parts.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 })
    }
    const done = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }),
    )
    const all = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const
    const first = await s3.send(
      new GetObjectAttributesCommand({ Bucket, Key, ObjectAttributes: [...all], MaxParts: 2 }),
    )
    expect(first.ETag).toBe(done.ETag!.replace(/"/g, ''))
    expect(first.VersionId).toBe(done.VersionId)
    expect(first.ObjectSize).toBe(10 * 1024 * 1024 + 4)
    expect(first.StorageClass).toBe('STANDARD')
    expect(first.Checksum?.ChecksumCRC32).toBe(done.ChecksumCRC32)
    expect(first.ObjectParts?.TotalPartsCount).toBe(3)
    expect(first.ObjectParts?.IsTruncated).toBe(true)
    expect(first.ObjectParts?.Parts?.map((p) => [p.PartNumber, p.Size, p.ChecksumCRC32])).toEqual([
      [1, 5 * 1024 * 1024, parts[0]!.ChecksumCRC32],
      [2, 5 * 1024 * 1024, parts[1]!.ChecksumCRC32],
    ])
    const rest = await s3.send(
      new GetObjectAttributesCommand({
        Bucket,
        Key,
        ObjectAttributes: ['ObjectParts'],
        PartNumberMarker: first.ObjectParts!.NextPartNumberMarker,
      }),
    )
    expect(rest.ObjectParts?.Parts?.map((p) => p.PartNumber)).toEqual([3])
    expect(rest.ObjectParts?.IsTruncated).toBe(false)
    expect(rest.ETag).toBeUndefined()
    const older = await s3.send(
      new GetObjectAttributesCommand({ Bucket, Key, VersionId: old, ObjectAttributes: ['ObjectSize', 'ETag'] }),
    )
    expect(older.ObjectSize).toBe('old and small'.length)
    const bad = await rawRequest(server, {
      method: 'GET',
      path: objectPath(Bucket, Key),
      query: [['attributes', '']],
      headers: { 'x-amz-object-attributes': 'Colour' },
    })
    expect(bad.status).toBe(400)
  })
})

describe('suspended versioning', () => {
  const B = bucketName('suspended')

  it('writes replace the null version and keep the others; a delete writes a null marker', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: B }))
    await s3.send(new PutBucketVersioningCommand({ Bucket: B, VersioningConfiguration: { Status: 'Enabled' } }))
    const kept = await put('k', 'versioned', B)
    await s3.send(new PutBucketVersioningCommand({ Bucket: B, VersioningConfiguration: { Status: 'Suspended' } }))
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: B }))).Status).toBe('Suspended')
    expect(await put('k', 'null one', B)).toBe('null')
    expect(await put('k', 'null two', B)).toBe('null')
    expect((await versionsOf('k', B)).versions).toEqual([
      ['k', 'null', true],
      ['k', kept, false],
    ])
    const del = await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'k' }))
    expect(del).toMatchObject({ DeleteMarker: true, VersionId: 'null' })
    const after = await versionsOf('k', B)
    expect(after.versions).toEqual([['k', kept, false]])
    expect(after.markers).toEqual([['k', 'null', true]])
  })
})

describe('old versions keep their data, through GC and a restart', () => {
  const Key = 'keep/k'
  const written: [string, string][] = []

  it('overwrites in a versioned bucket queue nothing for GC (an unversioned overwrite is collected)', async () => {
    for (let i = 0; i < 3; i++) written.push([(await put(Key, `keep ${i}`))!, `keep ${i}`])
    // A marker, then an unversioned bucket's overwrite: once GC has removed that one's old
    // shards it has passed everything queued before it.
    await s3.send(new DeleteObjectCommand({ Bucket, Key }))
    const plain = bucketName('plain')
    await s3.send(new CreateBucketCommand({ Bucket: plain }))
    const before = new Set(byWriteId(await listShards(dataDir)).keys())
    // Past the default --inline-max, so the write leaves shard files to watch.
    const onShards = (text: string) => text.padEnd(64 * 1024, '.')
    await s3.send(new PutObjectCommand({ Bucket: plain, Key: 'x', Body: onShards('first') }))
    const firstWrite = [...byWriteId(await listShards(dataDir)).keys()].filter((id) => !before.has(id))
    expect(firstWrite).toHaveLength(1)
    await s3.send(new PutObjectCommand({ Bucket: plain, Key: 'x', Body: onShards('second') }))
    await waitFor(
      'GC to remove the overwritten unversioned object',
      async () => !byWriteId(await listShards(dataDir)).has(firstWrite[0]!) || 'still there',
      30_000,
    )
    for (const [id, body] of written) expect(await text(Key, id)).toBe(body)
  })

  it('after a restart every version, marker and the versioning state are still there', async () => {
    const listedBefore = await versionsOf('')
    s3.destroy()
    await server.kill('SIGTERM')
    server = await startServer({ dataDir, env })
    s3 = s3Client(server)
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).toBe('Enabled')
    expect(await versionsOf('')).toEqual(listedBefore)
    for (const [id, body] of written) expect(await text(Key, id)).toBe(body)
    expect((await sdkError(s3.send(new GetObjectCommand({ Bucket, Key })))).name).toBe('NoSuchKey')
    // And writes go on making versions.
    expect(await put(Key, 'after restart')).toMatch(/^[0-9a-f]{32}$/)
    expect(await text(Key)).toBe('after restart')
  })
})
