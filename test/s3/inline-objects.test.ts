/**
 * Black-box inline objects (docs/architecture.md §2): a PUT whose stored bytes are at most
 * --inline-max is kept in the metadata (`inline_data`), everything above on shards. Sizes around
 * the threshold, in clear and D@RE namespaces (where the threshold counts ciphertext), ranges,
 * copies across the threshold both ways (SSE-C makes the stored bytes longer), versions and GC of
 * the bytes, checksums, and a corrupted row: an error, never wrong bytes.
 */
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { createClient } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tenant } from '../helpers/admin.ts'
import { bodyBytes, bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'
import { waitFor } from '../helpers/shards.ts'

const T = 64 * 1024 // --inline-max below
/** D@RE adds 16 bytes per 64 KiB package: a plaintext of T - 16 is stored as exactly T. */
const TAG = 16

let server: TestServer
let enc: S3Client // root: the default namespace, D@RE on
let clear: S3Client // a namespace with encryption off
const encBucket = bucketName('inl-enc')
const clearBucket = bucketName('inl-clear')
const versioned = bucketName('inl-ver')

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** The metadata file, read (and for the corruption case written) beside the running gateway. */
async function withMeta<T>(fn: (db: ReturnType<typeof createClient>) => Promise<T>): Promise<T> {
  const db = createClient({ url: `file:${join(server.dataDir, 'meta.db')}` })
  try {
    return await fn(db)
  } finally {
    db.close()
  }
}

/** Where the current version of a key keeps its bytes: 'inline' (with its id) or 'shards'. */
async function storedAs(bucket: string, key: string, versionId = ''): Promise<{ kind: string; id?: string }> {
  const rs = await withMeta((db) =>
    db.execute({
      sql: `select layout from objects where bucket = ? and "key" = ? and (? = '' and latest = 1 or version_id = ?)`,
      args: [bucket, key, versionId, versionId],
    }),
  )
  expect(rs.rows.length).toBe(1)
  const data = JSON.parse(String(rs.rows[0]!.layout)) as { segments: { inline?: { id: string }; layout?: unknown }[] }
  expect(data.segments.length).toBe(1)
  const seg = data.segments[0]!
  if (seg.inline) {
    const row = await withMeta((db) =>
      db.execute({ sql: 'select length(data) n from inline_data where id = ?', args: [seg.inline!.id] }),
    )
    expect(row.rows.length).toBe(1)
    return { kind: 'inline', id: seg.inline.id }
  }
  expect(seg.layout).toBeTruthy()
  return { kind: 'shards' }
}

const inlineRows = async (id: string) =>
  (await withMeta((db) => db.execute({ sql: 'select data from inline_data where id = ?', args: [id] }))).rows

async function roundTrip(client: S3Client, Bucket: string, Key: string, body: Uint8Array): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket, Key, Body: body }))
  const got = await bodyBytes((await client.send(new GetObjectCommand({ Bucket, Key }))).Body)
  expect(got.length).toBe(body.length)
  expect(sha(got)).toBe(sha(body))
}

beforeAll(async () => {
  server = await startServer({ args: ['--inline-max', '64KiB'], env: { COFFER_GC_GRACE_MS: '0' } })
  enc = s3Client(server)
  clear = s3Client(server, await tenant(server, 'inline-clear', 'off'))
  await enc.send(new CreateBucketCommand({ Bucket: encBucket }))
  await enc.send(new CreateBucketCommand({ Bucket: versioned }))
  await clear.send(new CreateBucketCommand({ Bucket: clearBucket }))
}, 60_000)
afterAll(async () => {
  enc?.destroy()
  clear?.destroy()
  await server?.stop()
})

describe('inline objects', () => {
  it('stores 0, 1 and threshold bytes inline and threshold + 1 on shards (clear namespace)', async () => {
    for (const [size, kind] of [
      [0, 'inline'],
      [1, 'inline'],
      [T, 'inline'],
      [T + 1, 'shards'],
    ] as const) {
      const key = `clear-${size}`
      await roundTrip(clear, clearBucket, key, randomBytes(size))
      expect((await storedAs(clearBucket, key)).kind, `${size} bytes`).toBe(kind)
    }
  })

  it('counts the ciphertext under D@RE: plaintext threshold - 16 inline, - 15 on shards; no plaintext in the row', async () => {
    const marker = Buffer.from(`INLINE-MARKER-${randomBytes(6).toString('hex')}|`)
    const body = (n: number) =>
      Buffer.concat(Array.from({ length: Math.ceil(n / marker.length) }, () => marker)).subarray(0, n)
    for (const [size, kind] of [
      [0, 'inline'],
      [1, 'inline'],
      [T - TAG, 'inline'],
      [T - TAG + 1, 'shards'],
    ] as const) {
      const key = `enc-${size}`
      await roundTrip(enc, encBucket, key, body(size))
      const where = await storedAs(encBucket, key)
      expect(where.kind, `${size} bytes`).toBe(kind)
      if (where.id) {
        const [row] = await inlineRows(where.id)
        const stored = Buffer.from(row!.data as ArrayBuffer)
        expect(stored.length).toBe(size + TAG)
        if (size >= marker.length) expect(stored.includes(marker.subarray(0, 20))).toBe(false)
      }
    }
  })

  it('serves ranges of inline objects, clear and encrypted', async () => {
    const body = randomBytes(5000)
    for (const [client, Bucket] of [
      [clear, clearBucket],
      [enc, encBucket],
    ] as const) {
      await client.send(new PutObjectCommand({ Bucket, Key: 'ranged', Body: body }))
      expect((await storedAs(Bucket, 'ranged')).kind).toBe('inline')
      for (const [range, from, to] of [
        ['bytes=0-0', 0, 1],
        ['bytes=100-4095', 100, 4096],
        ['bytes=-10', 4990, 5000],
        ['bytes=4000-', 4000, 5000],
      ] as const) {
        const r = await client.send(new GetObjectCommand({ Bucket, Key: 'ranged', Range: range }))
        expect(r.ContentRange).toBe(`bytes ${from}-${to - 1}/5000`)
        expect(Buffer.compare(await bodyBytes(r.Body), body.subarray(from, to))).toBe(0)
      }
    }
  })

  it('copies inline → shards and shards → inline (SSE-C makes the stored bytes longer)', async () => {
    const key = randomBytes(32)
    const ssec = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.toString('base64') }
    const copySsec = { CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: key.toString('base64') }
    const body = randomBytes(T - 8) // inline in clear, T + 8 bytes stored under SSE-C: shards
    await clear.send(new PutObjectCommand({ Bucket: clearBucket, Key: 'plain', Body: body }))
    expect((await storedAs(clearBucket, 'plain')).kind).toBe('inline')
    await clear.send(
      new CopyObjectCommand({ Bucket: clearBucket, Key: 'sealed', CopySource: `${clearBucket}/plain`, ...ssec }),
    )
    expect((await storedAs(clearBucket, 'sealed')).kind).toBe('shards')
    const sealed = await clear.send(new GetObjectCommand({ Bucket: clearBucket, Key: 'sealed', ...ssec }))
    expect(sha(await bodyBytes(sealed.Body))).toBe(sha(body))
    await clear.send(
      new CopyObjectCommand({ Bucket: clearBucket, Key: 'unsealed', CopySource: `${clearBucket}/sealed`, ...copySsec }),
    )
    expect((await storedAs(clearBucket, 'unsealed')).kind).toBe('inline')
    const back = await clear.send(new GetObjectCommand({ Bucket: clearBucket, Key: 'unsealed' }))
    expect(sha(await bodyBytes(back.Body))).toBe(sha(body))
    // SSE-C on an inline object: the key is still required, and checked.
    await clear.send(
      new PutObjectCommand({ Bucket: clearBucket, Key: 'small-ssec', Body: body.subarray(0, 100), ...ssec }),
    )
    expect((await storedAs(clearBucket, 'small-ssec')).kind).toBe('inline')
    expect((await sdkError(clear.send(new GetObjectCommand({ Bucket: clearBucket, Key: 'small-ssec' })))).status).toBe(
      400,
    )
    const ok = await clear.send(new GetObjectCommand({ Bucket: clearBucket, Key: 'small-ssec', ...ssec }))
    expect(Buffer.compare(await bodyBytes(ok.Body), body.subarray(0, 100))).toBe(0)
  })

  it('keeps versions apart, and GC drops the bytes of deleted versions', async () => {
    await enc.send(
      new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }),
    )
    const v1 = randomBytes(300)
    const v2 = randomBytes(400)
    const p1 = await enc.send(
      new PutObjectCommand({ Bucket: versioned, Key: 'k', Body: v1, ChecksumAlgorithm: 'CRC32' }),
    )
    const p2 = await enc.send(new PutObjectCommand({ Bucket: versioned, Key: 'k', Body: v2 }))
    const a = await storedAs(versioned, 'k', p1.VersionId)
    const b = await storedAs(versioned, 'k', p2.VersionId)
    expect([a.kind, b.kind]).toEqual(['inline', 'inline'])
    expect(a.id).not.toBe(b.id)
    const marker = await enc.send(new DeleteObjectCommand({ Bucket: versioned, Key: 'k' }))
    expect(marker.DeleteMarker).toBe(true)
    const old = await enc.send(
      new GetObjectCommand({ Bucket: versioned, Key: 'k', VersionId: p1.VersionId, ChecksumMode: 'ENABLED' }),
    )
    expect(Buffer.compare(await bodyBytes(old.Body), v1)).toBe(0)
    expect(old.ChecksumCRC32).toBe(p1.ChecksumCRC32)
    const head = await enc.send(new HeadObjectCommand({ Bucket: versioned, Key: 'k', VersionId: p2.VersionId }))
    expect(head.ContentLength).toBe(400)
    // A version deleted for good: its bytes leave the metadata with GC (grace 0 here); the other stays.
    await enc.send(new DeleteObjectCommand({ Bucket: versioned, Key: 'k', VersionId: p2.VersionId }))
    await waitFor(
      'GC to drop the deleted version’s inline bytes',
      async () => (await inlineRows(b.id!)).length === 0,
      20_000,
    )
    expect((await inlineRows(a.id!)).length).toBe(1)
    // An overwrite in an unversioned bucket: the old bytes go the same way.
    await clear.send(new PutObjectCommand({ Bucket: clearBucket, Key: 'over', Body: randomBytes(10) }))
    const first = await storedAs(clearBucket, 'over')
    await clear.send(new PutObjectCommand({ Bucket: clearBucket, Key: 'over', Body: randomBytes(11) }))
    await waitFor(
      'GC to drop the overwritten inline bytes',
      async () => (await inlineRows(first.id!)).length === 0,
      20_000,
    )
    expect((await clear.send(new HeadObjectCommand({ Bucket: clearBucket, Key: 'over' }))).ContentLength).toBe(11)
  })

  it('answers an error, never wrong bytes, when the stored bytes fail their checksum', async () => {
    for (const [client, Bucket] of [
      [clear, clearBucket],
      [enc, encBucket],
    ] as const) {
      const body = randomBytes(2000)
      await client.send(new PutObjectCommand({ Bucket, Key: 'rot', Body: body }))
      const where = await storedAs(Bucket, 'rot')
      expect(where.kind).toBe('inline')
      // One byte flipped in the row (bitrot, a bad edit): same length.
      const flipped = Buffer.from((await inlineRows(where.id!))[0]!.data as ArrayBuffer)
      flipped[100] = flipped[100]! ^ 0x01
      await withMeta((db) =>
        db.execute({ sql: 'update inline_data set data = ? where id = ?', args: [flipped, where.id!] }),
      )
      const e = await sdkError(client.send(new GetObjectCommand({ Bucket, Key: 'rot' })))
      expect(e.status).toBe(500)
      const ranged = await sdkError(client.send(new GetObjectCommand({ Bucket, Key: 'rot', Range: 'bytes=0-9' })))
      expect(ranged.status).toBe(500)
      // HEAD does not read the bytes; it still answers.
      expect((await client.send(new HeadObjectCommand({ Bucket, Key: 'rot' }))).ContentLength).toBe(2000)
    }
  })
})
