/**
 * Keys Coffer cannot take (issue 10, defect 10): a key holding NUL (U+0000) is refused with a
 * clear 400 by every operation that names a key, before any body is read, and nothing is stored —
 * no shard, no temp file, no row (it used to answer 500 only after the whole body was stored,
 * leaving shards for the 6-hour orphan sweep). Key-shaped listing parameters are refused alike.
 */
import { randomBytes } from 'node:crypto'
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { errorFields, md5b64, objectPath, openUpload, rawRequest, type RawResponse } from '../helpers/raw.ts'
import { bucketName, s3Client } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'
import { listShards, tempFiles } from '../helpers/shards.ts'

let server: TestServer
let s3: S3Client
const Bucket = bucketName('keys')
const NUL_KEY = 'dir/bad\u0000key'

beforeAll(async () => {
  server = await startServer()
  s3 = s3Client(server)
  await s3.send(new CreateBucketCommand({ Bucket }))
  await s3.send(new PutObjectCommand({ Bucket, Key: 'dir/source', Body: 'source bytes' }))
})
afterAll(async () => {
  s3?.destroy()
  await server?.stop()
})

/** Shard and temp files on every drive: what a refused write must not add to. */
const stored = async () => ({
  shards: (await listShards(server.dataDir)).map((s) => s.path).sort(),
  temp: (await tempFiles(server.dataDir)).map((t) => t.path).sort(),
})

function expectRefused(r: RawResponse, what: string, argument = 'key'): void {
  expect(r.status, `${what}: ${r.body}`).toBe(400)
  const f = errorFields(r.body)
  expect(f.code, what).toBe('InvalidArgument')
  expect(f.message, what).toContain('U+0000')
  expect(r.body, what).toContain(`<ArgumentName>${argument}</ArgumentName>`)
  // The error document is well-formed XML 1.0: the key is not echoed (it could not be carried).
  expect(r.body).not.toContain('&#x0;')
}

describe('a key holding NUL', () => {
  it('PutObject is refused before its body is read: a declared 8 MiB body is never sent, yet the answer comes', async () => {
    const before = await stored()
    // Headers only: a server that read the body first would wait for it (and time out here).
    const up = openUpload(server, {
      path: objectPath(Bucket, NUL_KEY),
      declaredLength: 8 * 1024 * 1024,
      timeoutMs: 10_000,
    })
    const r = await up.response
    expectRefused(r, 'PutObject (no body sent)')
    expect(r.headers.connection).toBe('close')
    expect(await stored()).toEqual(before)
  })

  it('PutObject with its whole body: 400, and no shard, temp file or listing entry is left', async () => {
    const before = await stored()
    const body = randomBytes(3 * 1024 * 1024 + 5)
    const r = await rawRequest(server, { method: 'PUT', path: objectPath(Bucket, NUL_KEY), body })
    expectRefused(r, 'PutObject (whole body)')
    expect(await stored()).toEqual(before)
    const list = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'dir/bad' }))
    expect(list.KeyCount).toBe(0)
  })

  it('CreateMultipartUpload, UploadPart, CopyObject (to and from it) are refused; nothing is stored', async () => {
    const before = await stored()
    const path = objectPath(Bucket, NUL_KEY)
    expectRefused(await rawRequest(server, { method: 'POST', path, query: [['uploads', '']] }), 'CreateMultipartUpload')
    // A real upload id of another key: the NUL key is refused before the upload is even looked up.
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'dir/mpu' }))
    expectRefused(
      await rawRequest(server, {
        method: 'PUT',
        path,
        query: [
          ['partNumber', '1'],
          ['uploadId', UploadId!],
        ],
        body: randomBytes(1024),
      }),
      'UploadPart',
    )
    expectRefused(
      await rawRequest(server, {
        method: 'PUT',
        path,
        headers: { 'x-amz-copy-source': `/${Bucket}/dir/source` },
      }),
      'CopyObject to it',
    )
    expectRefused(
      await rawRequest(server, {
        method: 'PUT',
        path: objectPath(Bucket, 'dir/copy-target'),
        headers: { 'x-amz-copy-source': `/${Bucket}/${encodeURIComponent(NUL_KEY)}` },
      }),
      'CopyObject from it',
      'x-amz-copy-source',
    )
    expect(await stored()).toEqual(before)
    const list = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'dir/' }))
    expect((list.Contents ?? []).map((c) => c.Key)).toEqual(['dir/source'])
  })

  it('GetObject, HeadObject and DeleteObject are refused with 400 (HEAD without a body)', async () => {
    const path = objectPath(Bucket, NUL_KEY)
    expectRefused(await rawRequest(server, { method: 'GET', path }), 'GetObject')
    expectRefused(await rawRequest(server, { method: 'DELETE', path }), 'DeleteObject')
    expect((await rawRequest(server, { method: 'HEAD', path })).status).toBe(400)
  })

  it('DeleteObjects: a NUL in a <Key>, raw or as a reference, is malformed XML (400), and nothing else is deleted', async () => {
    for (const key of ['dir/bad\u0000key', 'dir/bad&#0;key', 'dir/bad&#x0;key']) {
      const body = `<Delete><Object><Key>dir/source</Key></Object><Object><Key>${key}</Key></Object></Delete>`
      const r = await rawRequest(server, {
        method: 'POST',
        path: `/${Bucket}`,
        query: [['delete', '']],
        headers: { 'content-md5': md5b64(Buffer.from(body)) },
        body,
      })
      expect(r.status, r.body).toBe(400)
      expect(errorFields(r.body).code).toBe('MalformedXML')
    }
    const list = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'dir/source' }))
    expect(list.KeyCount).toBe(1)
  })

  it('listing parameters holding NUL are refused: prefix, delimiter, start-after, marker, key-marker', async () => {
    const cases: Array<[Array<[string, string]>, string]> = [
      [
        [
          ['list-type', '2'],
          ['prefix', 'dir/\u0000'],
        ],
        'prefix',
      ],
      [
        [
          ['list-type', '2'],
          ['delimiter', '\u0000'],
        ],
        'delimiter',
      ],
      [
        [
          ['list-type', '2'],
          ['start-after', 'dir/\u0000'],
        ],
        'start-after',
      ],
      [[['prefix', '\u0000']], 'prefix'],
      [[['marker', 'a\u0000']], 'marker'],
      [
        [
          ['uploads', ''],
          ['prefix', '\u0000'],
        ],
        'prefix',
      ],
      [
        [
          ['uploads', ''],
          ['key-marker', 'a\u0000'],
        ],
        'key-marker',
      ],
    ]
    for (const [query, argument] of cases) {
      const r = await rawRequest(server, { method: 'GET', path: `/${Bucket}`, query })
      expect(r.status, `${JSON.stringify(query)}: ${r.body}`).toBe(400)
      expect(errorFields(r.body).code).toBe('InvalidArgument')
      expect(r.body).toContain(`<ArgumentName>${argument}</ArgumentName>`)
    }
  })

  it('other control characters are S3 keys like any other and round-trip', async () => {
    const Key = 'dir/ctl\u0001\u001f\u007f'
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'ctl' }))
    const r = await rawRequest(server, { method: 'GET', path: objectPath(Bucket, Key) })
    expect(r.status).toBe(200)
    expect(r.body).toBe('ctl')
  })
})
