import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Meta } from '../db.ts'
import { deleteBucket, insertBucket } from './buckets.ts'
import { bucketIdOf, byteOrder, freshDb, objectRow, partRow, uploadRow, writer } from '../meta.testkit.ts'
import { listUploads } from './list.ts'
import { abortUpload, completeUpload, createUpload, getParts, getUpload, listParts, putPart } from './multipart.ts'
import { commitObject, getObject } from './objects.ts'
import { commonPrefixOf } from './seek.ts'

let meta: Meta
beforeEach(async () => {
  meta = await freshDb()
})
afterEach(async () => meta.close())

/** An upload with parts 1..n. */
async function upload(id: string, key = 'k', n = 3): Promise<void> {
  expect(await createUpload(meta.db, uploadRow('b', key, id), writer('b'))).toEqual({ ok: true })
  for (let i = 1; i <= n; i++) await putPart(meta.db, partRow(id, i), writer())
}

/** Every gc_queue entry as [layout, reason], in queue order. */
const queued = async () =>
  (await meta.client.execute('select layout, reason from gc_queue order by id')).rows.map((r) => [
    JSON.parse(String(r.layout)),
    r.reason,
  ])

const completed = (key = 'k', over = {}) =>
  objectRow('b', key, { etag: '"m-2"', layout: { segments: 'p1+p2' }, ...over })

describe('parts', () => {
  it('a replaced part is queued for GC in the same transaction', async () => {
    await upload('u1', 'k', 1)
    expect(await putPart(meta.db, partRow('u1', 1, { layout: { again: true } }), writer())).toEqual({ ok: true })
    expect(await putPart(meta.db, partRow('u1', 2), writer())).toEqual({ ok: true })
    expect((await getParts(meta.db, 'u1')).map((p) => [p.partNumber, p.layout])).toEqual([
      [1, { again: true }],
      [2, partRow('u1', 2).layout],
    ])
    expect(await queued()).toEqual([[partRow('u1', 1).layout, 'part-replaced']])
  })

  it('a part for an upload that is gone is refused', async () => {
    expect(await putPart(meta.db, partRow('nope', 1), writer())).toEqual({ ok: false, reason: 'no-such-upload' })
    expect(await getParts(meta.db, 'nope')).toEqual([])
  })

  it('a part for an upload whose bucket was deleted and re-created is refused with no-such-bucket', async () => {
    await upload('u1', 'k', 1)
    // Deleting the bucket drops the upload; the name is then taken again.
    expect(await deleteBucket(meta.db, 'b', bucketIdOf('b'))).toBe('deleted')
    await insertBucket(meta.db, {
      name: 'b',
      id: 'reborn',
      namespace: 'default',
      owner: 'ROOT',
      region: 'r',
      createdAt: new Date(),
    })
    await createUpload(meta.db, uploadRow('b', 'k', 'u1'), { bucket: 'b', bucketId: 'reborn', accessKeyId: 'ROOT' })
    expect(await putPart(meta.db, partRow('u1', 2), writer())).toEqual({ ok: false, reason: 'no-such-bucket' })
    expect(await completeUpload(meta.db, 'u1', completed(), [1], writer())).toEqual({
      ok: false,
      reason: 'no-such-bucket',
    })
    expect(await createUpload(meta.db, uploadRow('b', 'k', 'u2'), writer())).toEqual({
      ok: false,
      reason: 'no-such-bucket',
    })
    expect(await getParts(meta.db, 'u1')).toEqual([])
  })

  it('listParts pages by part number', async () => {
    await upload('u1', 'k', 7)
    const seen: number[] = []
    let marker = 0
    for (let i = 0; i < 10; i++) {
      const page = await listParts(meta.db, 'u1', { partNumberMarker: marker, maxParts: 3 })
      seen.push(...page.parts.map((p) => p.partNumber))
      marker = page.nextPartNumberMarker
      if (!page.isTruncated) break
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect((await listParts(meta.db, 'u1', { maxParts: 7 })).isTruncated).toBe(false)
  })
})

describe('completeUpload', () => {
  it('replaces upload and parts with the object in one step; unused parts and the old object go to GC in it', async () => {
    await commitObject(meta.db, objectRow('b', 'k', { layout: { old: 1 } }), writer('b'))
    await upload('u1')
    const parts = await getParts(meta.db, 'u1')
    const result = await completeUpload(meta.db, 'u1', completed(), [parts[0]!, parts[2]!], writer())
    expect(result).toEqual({ ok: true })
    expect(await queued()).toEqual([
      [{ old: 1 }, 'overwritten'],
      [partRow('u1', 2).layout, 'part-unused'],
    ])
    expect(await getObject(meta.db, 'b', 'k')).toEqual({ ...completed(), ord: -1 })
    expect(await getUpload(meta.db, 'u1')).toBeUndefined()
    expect(await getParts(meta.db, 'u1')).toEqual([])
    // Completing twice: the second finds the upload gone and changes nothing.
    expect(await completeUpload(meta.db, 'u1', completed('k', { etag: '"other"' }), [1], writer())).toEqual({
      ok: false,
      reason: 'missing',
    })
    expect((await getObject(meta.db, 'b', 'k'))?.etag).toBe('"m-2"')
    expect(await queued()).toHaveLength(2)
  })

  it('a completion refused (condition, replaced part) queues nothing', async () => {
    await commitObject(meta.db, objectRow('b', 'k'), writer('b'))
    await upload('u1')
    expect((await completeUpload(meta.db, 'u1', completed(), [1], writer(), { ifNoneMatch: '*' })).ok).toBe(false)
    expect((await completeUpload(meta.db, 'u1', completed(), [1, 9], writer())).ok).toBe(false)
    expect(await queued()).toEqual([])
  })

  it('an upload of another key is missing', async () => {
    await upload('u1', 'k')
    expect(await completeUpload(meta.db, 'u1', completed('elsewhere'), [1], writer())).toEqual({
      ok: false,
      reason: 'missing',
    })
    expect(await getUpload(meta.db, 'u1')).toBeDefined()
  })

  it('a part replaced since the caller read it (or never uploaded) fails without changes', async () => {
    await upload('u1')
    const read = await getParts(meta.db, 'u1')
    await putPart(meta.db, partRow('u1', 2, { layout: { retried: true } }), writer())
    expect(await completeUpload(meta.db, 'u1', completed(), read, writer())).toEqual({
      ok: false,
      reason: 'invalid-part',
    })
    expect(await completeUpload(meta.db, 'u1', completed(), [1, 9], writer())).toEqual({
      ok: false,
      reason: 'invalid-part',
    })
    expect(await completeUpload(meta.db, 'u1', completed(), [], writer())).toEqual({
      ok: false,
      reason: 'invalid-part',
    })
    expect(await getObject(meta.db, 'b', 'k')).toBeUndefined()
    expect(await getParts(meta.db, 'u1')).toHaveLength(3)
  })

  it('honours If-None-Match and If-Match; a failed condition keeps the upload', async () => {
    await commitObject(meta.db, objectRow('b', 'k'), writer('b'))
    await upload('u1')
    expect(await completeUpload(meta.db, 'u1', completed(), [1], writer(), { ifNoneMatch: '*' })).toEqual({
      ok: false,
      reason: 'precondition',
    })
    expect(await completeUpload(meta.db, 'u1', completed(), [1], writer(), { ifMatch: '"stale"' })).toEqual({
      ok: false,
      reason: 'precondition',
    })
    expect(await getParts(meta.db, 'u1')).toHaveLength(3)
    const ok = await completeUpload(meta.db, 'u1', completed(), [1, 2], writer(), { ifMatch: '"e1"' })
    expect(ok.ok).toBe(true)
    expect((await getObject(meta.db, 'b', 'k'))?.etag).toBe('"m-2"')
  })

  it('racing completions of one upload: exactly one wins', async () => {
    await upload('u1')
    const results = await Promise.all([
      completeUpload(meta.db, 'u1', completed(), [1], writer()),
      completeUpload(meta.db, 'u1', completed(), [1, 2], writer()),
    ])
    expect(results.filter((r) => r.ok)).toHaveLength(1)
  })
})

describe('abortUpload', () => {
  it('removes everything and queues the parts for GC in the same transaction, once', async () => {
    await upload('u1', 'k', 2)
    expect(await abortUpload(meta.db, 'u1')).toBe(true)
    expect(await abortUpload(meta.db, 'u1')).toBe(false)
    expect(await getParts(meta.db, 'u1')).toEqual([])
    expect(await queued()).toEqual([
      [partRow('u1', 1).layout, 'aborted'],
      [partRow('u1', 2).layout, 'aborted'],
    ])
    expect(await putPart(meta.db, partRow('u1', 3), writer())).toEqual({ ok: false, reason: 'no-such-upload' })
  })
})

describe('listUploads', () => {
  const keys = ['a/1', 'a/1', 'a/2', 'b', 'b', 'b', 'c/d/e', 'c/x', 'é/1', 'z']
  beforeEach(async () => {
    for (const [i, key] of keys.entries())
      await createUpload(meta.db, uploadRow('b', key, `id${String(i).padStart(2, '0')}`), writer('b'))
  })

  /** Expected entries: "key id" per upload, or the common prefix, in (key, upload id) order. */
  function oracle(prefix: string, delimiter?: string): string[] {
    const out: string[] = []
    const rows = keys.map((k, i) => ({ k, id: `id${String(i).padStart(2, '0')}` }))
    rows.sort((x, y) => byteOrder(x.k, y.k) || byteOrder(x.id, y.id))
    for (const { k, id } of rows) {
      if (!k.startsWith(prefix)) continue
      const cp = delimiter ? commonPrefixOf(k, prefix, delimiter) : undefined
      const entry = cp ?? `${k} ${id}`
      if (out.at(-1) !== entry) out.push(entry)
    }
    return out
  }

  it('pages with key and upload-id markers, every upload exactly once', async () => {
    for (const delimiter of [undefined, '/']) {
      for (const prefix of ['', 'a/', 'c/']) {
        for (const maxUploads of [1, 2, 4, 1000]) {
          const seen: string[] = []
          let keyMarker: string | undefined
          let uploadIdMarker: string | undefined
          for (let i = 0; i < 100; i++) {
            const page = await listUploads(meta.db, {
              bucket: 'b',
              prefix,
              delimiter,
              keyMarker,
              uploadIdMarker,
              maxUploads,
            })
            seen.push(...[...page.uploads.map((u) => `${u.key} ${u.uploadId}`), ...page.commonPrefixes].sort(byteOrder))
            if (!page.isTruncated) break
            keyMarker = page.nextKeyMarker
            uploadIdMarker = page.nextUploadIdMarker
          }
          expect(seen, JSON.stringify({ delimiter, prefix, maxUploads })).toEqual(oracle(prefix, delimiter))
        }
      }
    }
  })

  it('a key marker alone skips every upload of that key', async () => {
    const page = await listUploads(meta.db, { bucket: 'b', prefix: '', keyMarker: 'b', maxUploads: 100 })
    expect(page.uploads.map((u) => u.key)).toEqual(keys.filter((k) => byteOrder(k, 'b') > 0).sort(byteOrder))
    expect(page.uploads.length).toBeGreaterThan(0)
  })
})
