import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Meta } from '../db.ts'
import { openDb } from '../db.ts'
import { freshDb, objectRow } from '../meta.testkit.ts'
import { deleteBucket } from './buckets.ts'
import { commitObject, deleteObject, getObject, parseEtagList, updateObjectMetadata } from './objects.ts'

let meta: Meta
beforeEach(async () => {
  meta = await freshDb()
})
afterEach(async () => meta.close())

describe('objects', () => {
  it('round-trips a row: JSON columns parsed, times as Date', async () => {
    const row = objectRow('b', 'k', {
      checksum: { algorithm: 'CRC32', type: 'COMPOSITE', value: 'AAAAAA==-2', partCount: 2 },
      parts: [
        { partNumber: 1, size: 5, etag: '"a"' },
        { partNumber: 2, size: 1, etag: '"b"', checksum: { algorithm: 'CRC32', type: 'FULL_OBJECT', value: 'AQID' } },
      ],
      encryption: { wrapped: 'abc', v: 1 },
    })
    expect(await commitObject(meta.db, row)).toEqual({ ok: true })
    const got = await getObject(meta.db, 'b', 'k')
    expect(got).toEqual(row)
    expect(got?.lastModified).toBeInstanceOf(Date)
  })

  it('an overwrite returns the replaced layout', async () => {
    await commitObject(meta.db, objectRow('b', 'k', { layout: { v: 1 } }))
    expect(await commitObject(meta.db, objectRow('b', 'k', { layout: { v: 2 }, etag: '"e2"' }))).toEqual({
      ok: true,
      replaced: { v: 1 },
    })
    expect((await getObject(meta.db, 'b', 'k'))?.layout).toEqual({ v: 2 })
  })

  it('If-None-Match: * commits only a new key', async () => {
    expect(await commitObject(meta.db, objectRow('b', 'k'), { ifNoneMatch: '*' })).toEqual({ ok: true })
    expect(await commitObject(meta.db, objectRow('b', 'k', { layout: { v: 9 } }), { ifNoneMatch: '*' })).toEqual({
      ok: false,
      reason: 'precondition',
    })
    expect((await getObject(meta.db, 'b', 'k'))?.layout).toEqual(objectRow('b', 'k').layout)
  })

  it('If-Match commits only over the named ETag (quotes optional, lists and * accepted)', async () => {
    expect(await commitObject(meta.db, objectRow('b', 'k'), { ifMatch: '"e1"' })).toEqual({
      ok: false,
      reason: 'precondition',
    })
    await commitObject(meta.db, objectRow('b', 'k'))
    expect(await commitObject(meta.db, objectRow('b', 'k', { etag: '"e2"' }), { ifMatch: '"nope"' })).toEqual({
      ok: false,
      reason: 'precondition',
    })
    expect((await commitObject(meta.db, objectRow('b', 'k', { etag: '"e2"' }), { ifMatch: 'e1' })).ok).toBe(true)
    expect((await commitObject(meta.db, objectRow('b', 'k', { etag: '"e3"' }), { ifMatch: '"x", "e2"' })).ok).toBe(true)
    expect((await commitObject(meta.db, objectRow('b', 'k', { etag: '"e4"' }), { ifMatch: '*' })).ok).toBe(true)
    expect((await getObject(meta.db, 'b', 'k'))?.etag).toBe('"e4"')
    expect(parseEtagList('W/"a", b')).toEqual(['"a"', '"b"'])
  })

  it('a commit into a bucket deleted meanwhile fails instead of leaving an orphan row', async () => {
    expect(await deleteBucket(meta.db, 'b')).toBe('deleted')
    expect(await commitObject(meta.db, objectRow('b', 'k'))).toEqual({ ok: false, reason: 'no-such-bucket' })
  })

  it('concurrent If-None-Match commits: exactly one wins', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        commitObject(meta.db, objectRow('b', 'k', { layout: { i } }), { ifNoneMatch: '*' }),
      ),
    )
    expect(results.filter((r) => r.ok)).toHaveLength(1)
  })

  it('refuses keys with U+0000, which libSQL would read back cut short', async () => {
    await expect(commitObject(meta.db, objectRow('b', 'a\u0000b'))).rejects.toThrow(/U\+0000/)
    expect(await getObject(meta.db, 'b', 'a')).toBeUndefined()
  })

  it('delete returns the removed row once', async () => {
    await commitObject(meta.db, objectRow('b', 'k'))
    expect((await deleteObject(meta.db, 'b', 'k'))?.layout).toEqual(objectRow('b', 'k').layout)
    expect(await deleteObject(meta.db, 'b', 'k')).toBeUndefined()
  })

  it('metadata replace keeps the bytes and ETag; a stale ETag changes nothing', async () => {
    await commitObject(meta.db, objectRow('b', 'k'))
    const when = new Date(1_800_000_000_000)
    const updated = await updateObjectMetadata(
      meta.db,
      'b',
      'k',
      { contentType: 'image/png', userMeta: { a: 'b' }, headers: {}, lastModified: when },
      '"e1"',
    )
    expect(updated).toMatchObject({
      contentType: 'image/png',
      userMeta: { a: 'b' },
      etag: '"e1"',
      layout: objectRow('b', 'k').layout,
      lastModified: when,
    })
    expect(await updateObjectMetadata(meta.db, 'b', 'k', { contentType: 'x/y' }, '"old"')).toBeUndefined()
    expect(await updateObjectMetadata(meta.db, 'b', 'missing', { contentType: 'x/y' })).toBeUndefined()
  })
})

describe('objects on a shared file (two gateways, one database file)', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-meta-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('racing conditional commits through two clients: exactly one wins', async () => {
    const url = `file:${join(dir, 'meta.db')}`
    const a = await freshDb(url)
    const b = await openDb(url)
    const results = await Promise.all([
      commitObject(a.db, objectRow('b', 'k', { layout: { from: 'a' } }), { ifNoneMatch: '*' }),
      commitObject(b.db, objectRow('b', 'k', { layout: { from: 'b' } }), { ifNoneMatch: '*' }),
    ])
    expect(results.filter((r) => r.ok)).toHaveLength(1)
    await a.close()
    await b.close()
  })
})
