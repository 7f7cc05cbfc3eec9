import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Meta } from '../db.ts'
import { NoSuchUploadError } from '../errors.ts'
import { byteOrder, freshDb, objectRow, partRow, uploadRow } from '../meta.testkit.ts'
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
  expect(await createUpload(meta.db, uploadRow('b', key, id))).toBe('created')
  for (let i = 1; i <= n; i++) await putPart(meta.db, partRow(id, i))
}

const completed = (key = 'k', over = {}) =>
  objectRow('b', key, { etag: '"m-2"', layout: { segments: 'p1+p2' }, ...over })

describe('parts', () => {
  it('a replaced part returns the old layout', async () => {
    await upload('u1', 'k', 1)
    expect(await putPart(meta.db, partRow('u1', 1, { layout: { again: true } }))).toEqual(partRow('u1', 1).layout)
    expect(await putPart(meta.db, partRow('u1', 2))).toBeUndefined()
    expect((await getParts(meta.db, 'u1')).map((p) => [p.partNumber, p.layout])).toEqual([
      [1, { again: true }],
      [2, partRow('u1', 2).layout],
    ])
  })

  it('a part for an upload that is gone is refused', async () => {
    await expect(putPart(meta.db, partRow('nope', 1))).rejects.toBeInstanceOf(NoSuchUploadError)
    expect(await getParts(meta.db, 'nope')).toEqual([])
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
  it('replaces upload and parts with the object in one step; unused parts and the old object go to the caller', async () => {
    await commitObject(meta.db, objectRow('b', 'k', { layout: { old: 1 } }))
    await upload('u1')
    const parts = await getParts(meta.db, 'u1')
    const result = await completeUpload(meta.db, 'u1', completed(), [parts[0]!, parts[2]!])
    expect(result).toEqual({ ok: true, replaced: { old: 1 }, unusedParts: [partRow('u1', 2).layout] })
    expect(await getObject(meta.db, 'b', 'k')).toEqual(completed())
    expect(await getUpload(meta.db, 'u1')).toBeUndefined()
    expect(await getParts(meta.db, 'u1')).toEqual([])
    // Completing twice: the second finds the upload gone and changes nothing.
    expect(await completeUpload(meta.db, 'u1', completed('k', { etag: '"other"' }), [1])).toEqual({
      ok: false,
      reason: 'missing',
    })
    expect((await getObject(meta.db, 'b', 'k'))?.etag).toBe('"m-2"')
  })

  it('an upload of another key is missing', async () => {
    await upload('u1', 'k')
    expect(await completeUpload(meta.db, 'u1', completed('elsewhere'), [1])).toEqual({ ok: false, reason: 'missing' })
    expect(await getUpload(meta.db, 'u1')).toBeDefined()
  })

  it('a part replaced since the caller read it (or never uploaded) fails without changes', async () => {
    await upload('u1')
    const read = await getParts(meta.db, 'u1')
    await putPart(meta.db, partRow('u1', 2, { layout: { retried: true } }))
    expect(await completeUpload(meta.db, 'u1', completed(), read)).toEqual({ ok: false, reason: 'invalid-part' })
    expect(await completeUpload(meta.db, 'u1', completed(), [1, 9])).toEqual({ ok: false, reason: 'invalid-part' })
    expect(await completeUpload(meta.db, 'u1', completed(), [])).toEqual({ ok: false, reason: 'invalid-part' })
    expect(await getObject(meta.db, 'b', 'k')).toBeUndefined()
    expect(await getParts(meta.db, 'u1')).toHaveLength(3)
  })

  it('honours If-None-Match and If-Match; a failed condition keeps the upload', async () => {
    await commitObject(meta.db, objectRow('b', 'k'))
    await upload('u1')
    expect(await completeUpload(meta.db, 'u1', completed(), [1], { ifNoneMatch: '*' })).toEqual({
      ok: false,
      reason: 'precondition',
    })
    expect(await completeUpload(meta.db, 'u1', completed(), [1], { ifMatch: '"stale"' })).toEqual({
      ok: false,
      reason: 'precondition',
    })
    expect(await getParts(meta.db, 'u1')).toHaveLength(3)
    const ok = await completeUpload(meta.db, 'u1', completed(), [1, 2], { ifMatch: '"e1"' })
    expect(ok.ok).toBe(true)
    expect((await getObject(meta.db, 'b', 'k'))?.etag).toBe('"m-2"')
  })

  it('racing completions of one upload: exactly one wins', async () => {
    await upload('u1')
    const results = await Promise.all([
      completeUpload(meta.db, 'u1', completed(), [1]),
      completeUpload(meta.db, 'u1', completed(), [1, 2]),
    ])
    expect(results.filter((r) => r.ok)).toHaveLength(1)
  })
})

describe('abortUpload', () => {
  it('returns the parts once and removes everything', async () => {
    await upload('u1', 'k', 2)
    expect(await abortUpload(meta.db, 'u1')).toEqual([partRow('u1', 1).layout, partRow('u1', 2).layout])
    expect(await abortUpload(meta.db, 'u1')).toBeUndefined()
    expect(await getParts(meta.db, 'u1')).toEqual([])
    await expect(putPart(meta.db, partRow('u1', 3))).rejects.toBeInstanceOf(NoSuchUploadError)
  })
})

describe('listUploads', () => {
  const keys = ['a/1', 'a/1', 'a/2', 'b', 'b', 'b', 'c/d/e', 'c/x', 'é/1', 'z']
  beforeEach(async () => {
    for (const [i, key] of keys.entries())
      await createUpload(meta.db, uploadRow('b', key, `id${String(i).padStart(2, '0')}`))
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
