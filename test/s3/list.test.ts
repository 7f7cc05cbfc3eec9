/**
 * Black-box listing: ListObjectsV2 (prefix, delimiter, max-keys, continuation, start-after, fetch-owner,
 * encoding-type=url), ListObjects v1 (marker, NextMarker), UTF-8 byte order, CommonPrefixes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CreateBucketCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { startServer, type TestServer } from '../helpers/server.ts'
import { bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { rawRequest } from '../helpers/raw.ts'

let server: TestServer
let s3: S3Client
const Bucket = bucketName('list')
const PAGE_KEYS = 1200
const pageKeys = Array.from(
  { length: PAGE_KEYS },
  (_, i) => `page/${String(i).padStart(5, '0')}${i % 7 === 0 ? '/deep' : ''}`,
)
const treeKeys = [
  'photos/2020/a.jpg',
  'photos/2020/b.jpg',
  'photos/2021/c.jpg',
  'photos/top.jpg',
  'docs/x',
  'readme',
  'docs/y/z',
]
const utf8Keys = ['u/a', 'u/b', 'u/é', 'u/z', 'u/𝄞', 'u/\uFF21', 'u/A', 'u/~']
const encKeys = ['enc/with space', 'enc/ünï', 'enc/plus+sign', 'enc/amp&lt']

/** Put keys with bounded concurrency. */
async function putAll(keys: string[], concurrency = 16): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < keys.length) {
        const Key = keys[next++]!
        await s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }))
      }
    }),
  )
}

/** Compare as UTF-8 bytes, the order S3 lists in. */
const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))

beforeAll(async () => {
  server = await startServer()
  s3 = s3Client(server)
  await s3.send(new CreateBucketCommand({ Bucket }))
  await putAll([...pageKeys, ...treeKeys, ...utf8Keys, ...encKeys])
}, 300_000)
afterAll(async () => {
  s3?.destroy()
  await server?.stop()
})

describe('ListObjectsV2', () => {
  it('pages over 1,200 keys with continuation tokens: every key exactly once, in order', async () => {
    const seen: string[] = []
    let token: string | undefined
    let pages = 0
    for (;;) {
      const r = await s3.send(
        new ListObjectsV2Command({ Bucket, Prefix: 'page/', MaxKeys: 137, ContinuationToken: token }),
      )
      pages++
      expect(r.MaxKeys).toBe(137)
      expect(r.KeyCount).toBe(r.Contents?.length ?? 0)
      seen.push(...(r.Contents ?? []).map((c) => c.Key!))
      if (!r.IsTruncated) {
        expect(r.NextContinuationToken).toBeUndefined()
        break
      }
      expect(r.Contents).toHaveLength(137)
      expect(r.NextContinuationToken).toBeTruthy()
      token = r.NextContinuationToken
      expect(pages).toBeLessThan(50)
    }
    expect(pages).toBe(Math.ceil(PAGE_KEYS / 137))
    expect(seen).toEqual([...pageKeys].sort(utf8Order))
  })

  it('a continuation token we did not issue → 400 InvalidArgument (never a page from somewhere else)', async () => {
    const issued = (await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'page/', MaxKeys: 5 })))
      .NextContinuationToken!
    const changed = `${issued.slice(0, 4)}${issued[4] === 'A' ? 'B' : 'A'}${issued.slice(5)}`
    for (const token of ['Zm9vYmFy', 'not-a-token', Buffer.from('page/0100').toString('base64url'), changed]) {
      const e = await sdkError(
        s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'page/', MaxKeys: 5, ContinuationToken: token })),
      )
      expect(e.status, token).toBe(400)
      expect(e.name, token).toBe('InvalidArgument')
    }
  })

  it('default max-keys is 1,000', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'page/' }))
    expect(r.Contents).toHaveLength(1000)
    expect(r.IsTruncated).toBe(true)
    expect(r.MaxKeys).toBe(1000)
  })

  it('entries carry size, ETag, LastModified and storage class', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'readme' }))
    expect(r.Contents).toHaveLength(1)
    const c = r.Contents![0]!
    expect(c.Key).toBe('readme')
    expect(c.Size).toBe(Buffer.byteLength('readme'))
    expect(c.ETag).toMatch(/^"[0-9a-f]{32}"$/)
    expect(c.LastModified).toBeInstanceOf(Date)
    expect(c.StorageClass).toBe('STANDARD')
  })

  it('delimiter rolls keys up into CommonPrefixes; KeyCount counts both', async () => {
    const root = await s3.send(new ListObjectsV2Command({ Bucket, Delimiter: '/' }))
    expect((root.CommonPrefixes ?? []).map((p) => p.Prefix)).toEqual(['docs/', 'enc/', 'page/', 'photos/', 'u/'])
    expect((root.Contents ?? []).map((c) => c.Key)).toEqual(['readme'])
    expect(root.KeyCount).toBe(6)
    expect(root.Delimiter).toBe('/')

    const photos = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'photos/', Delimiter: '/' }))
    expect((photos.CommonPrefixes ?? []).map((p) => p.Prefix)).toEqual(['photos/2020/', 'photos/2021/'])
    expect((photos.Contents ?? []).map((c) => c.Key)).toEqual(['photos/top.jpg'])
    expect(photos.Prefix).toBe('photos/')
  })

  it('delimiter + max-keys pages count each CommonPrefix once and never repeat', async () => {
    const seenPrefixes: string[] = []
    const seenKeys: string[] = []
    let token: string | undefined
    for (let i = 0; i < 2000; i++) {
      const r = await s3.send(
        new ListObjectsV2Command({ Bucket, Prefix: 'page/', Delimiter: '/', MaxKeys: 50, ContinuationToken: token }),
      )
      expect((r.Contents?.length ?? 0) + (r.CommonPrefixes?.length ?? 0)).toBeLessThanOrEqual(50)
      seenPrefixes.push(...(r.CommonPrefixes ?? []).map((p) => p.Prefix!))
      seenKeys.push(...(r.Contents ?? []).map((c) => c.Key!))
      if (!r.IsTruncated) break
      token = r.NextContinuationToken
    }
    const wantPrefixes = pageKeys
      .filter((k) => k.endsWith('/deep'))
      .map((k) => k.slice(0, -'deep'.length))
      .sort(utf8Order)
    const wantKeys = pageKeys.filter((k) => !k.endsWith('/deep')).sort(utf8Order)
    expect(seenPrefixes).toEqual(wantPrefixes)
    expect(seenKeys).toEqual(wantKeys)
  })

  it('start-after skips to the key after it', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'photos/', StartAfter: 'photos/2020/b.jpg' }))
    expect((r.Contents ?? []).map((c) => c.Key)).toEqual(['photos/2021/c.jpg', 'photos/top.jpg'])
    expect(r.StartAfter).toBe('photos/2020/b.jpg')
  })

  it('fetch-owner adds Owner; without it Owner is absent', async () => {
    const withOwner = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'docs/', FetchOwner: true }))
    expect(withOwner.Contents!.length).toBeGreaterThan(0)
    for (const c of withOwner.Contents!) expect(c.Owner?.ID).toBeTruthy()
    const without = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'docs/' }))
    for (const c of without.Contents!) expect(c.Owner).toBeUndefined()
  })

  it('keys are in UTF-8 byte order (not UTF-16 order)', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'u/' }))
    const keys = (r.Contents ?? []).map((c) => c.Key!)
    expect(keys).toEqual(['u/A', 'u/a', 'u/b', 'u/z', 'u/~', 'u/é', 'u/\uFF21', 'u/𝄞'])
    expect(keys).toEqual([...utf8Keys].sort(utf8Order))
  })

  it('encoding-type=url returns URL-encoded keys that decode to the originals', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'enc/', EncodingType: 'url' }))
    expect(r.EncodingType).toBe('url')
    const raw = (r.Contents ?? []).map((c) => c.Key!)
    expect(raw).toHaveLength(encKeys.length)
    for (const k of raw) expect(k).toMatch(/^[\x21-\x7e]+$/) // no raw spaces or non-ASCII left
    const decoded = raw.map((k) => decodeURIComponent(k.replace(/\+/g, ' ')))
    expect(decoded).toEqual([...encKeys].sort(utf8Order))
  })

  it('prefix that matches nothing → empty, not truncated', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'nothing-here/' }))
    expect(r.Contents ?? []).toEqual([])
    expect(r.KeyCount).toBe(0)
    expect(r.IsTruncated).toBe(false)
  })

  it('missing bucket → 404 NoSuchBucket', async () => {
    const e = await sdkError(s3.send(new ListObjectsV2Command({ Bucket: bucketName('missing') })))
    expect(e.status).toBe(404)
    expect(e.name).toBe('NoSuchBucket')
  })

  it('raw XML: ListBucketResult with the S3 namespace', async () => {
    const r = await rawRequest(server, {
      method: 'GET',
      path: `/${Bucket}`,
      query: [
        ['list-type', '2'],
        ['prefix', 'docs/'],
      ],
    })
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toMatch(/xml/)
    expect(r.body).toContain('<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">')
    expect(r.body).toContain('<Key>docs/x</Key>')
    expect(r.body).toContain('<KeyCount>2</KeyCount>')
  })
})

describe('ListObjects (v1)', () => {
  it('pages with marker; no NextMarker without a delimiter', async () => {
    const seen: string[] = []
    let marker: string | undefined
    for (let i = 0; i < 50; i++) {
      const r = await s3.send(new ListObjectsCommand({ Bucket, Prefix: 'page/', MaxKeys: 400, Marker: marker }))
      const keys = (r.Contents ?? []).map((c) => c.Key!)
      seen.push(...keys)
      expect(r.NextMarker).toBeUndefined()
      if (marker) expect(r.Marker).toBe(marker)
      if (!r.IsTruncated) break
      marker = keys[keys.length - 1]
    }
    expect(seen).toEqual([...pageKeys].sort(utf8Order))
  })

  it('with a delimiter, a truncated page carries NextMarker (a key or a CommonPrefix)', async () => {
    const r = await s3.send(new ListObjectsCommand({ Bucket, Delimiter: '/', MaxKeys: 2 }))
    expect(r.IsTruncated).toBe(true)
    expect((r.CommonPrefixes ?? []).map((p) => p.Prefix)).toEqual(['docs/', 'enc/'])
    expect(r.NextMarker).toBe('enc/')
    const next = await s3.send(new ListObjectsCommand({ Bucket, Delimiter: '/', MaxKeys: 2, Marker: r.NextMarker }))
    expect((next.CommonPrefixes ?? []).map((p) => p.Prefix)).toEqual(['page/', 'photos/'])
    const last = await s3.send(new ListObjectsCommand({ Bucket, Delimiter: '/', MaxKeys: 2, Marker: next.NextMarker }))
    expect((last.Contents ?? []).map((c) => c.Key)).toEqual(['readme'])
    expect((last.CommonPrefixes ?? []).map((p) => p.Prefix)).toEqual(['u/'])
    expect(last.IsTruncated).toBe(false)
  })

  it('v1 entries carry Owner by default', async () => {
    const r = await s3.send(new ListObjectsCommand({ Bucket, Prefix: 'docs/' }))
    expect((r.Contents ?? []).map((c) => c.Key)).toEqual(['docs/x', 'docs/y/z'])
    for (const c of r.Contents!) expect(c.Owner?.ID).toBeTruthy()
  })
})
