import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Meta } from '../db.ts'
import { openDb } from '../db.ts'
import { bucketIdOf, freshDb, objectRow, writer } from '../meta.testkit.ts'
import { deleteBucket, insertBucket } from './buckets.ts'
import { hasIntent, recordIntent } from './durability.ts'
import { takeGc } from './gc.ts'
import { createNamespace, createUser, deleteUser } from './identities.ts'
import {
  commitObject,
  deleteObject,
  deleteVersion,
  getObject,
  getVersion,
  parseEtagList,
  setVersionTags,
} from './objects.ts'

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
    expect(await commitObject(meta.db, row, writer('b'))).toEqual({ ok: true })
    const got = await getObject(meta.db, 'b', 'k')
    // The commit placed it: the key's first version, newest first in `ord` order.
    expect(got).toEqual({ ...row, ord: -1 })
    expect(got?.lastModified).toBeInstanceOf(Date)
  })

  it('clears the write intents it settles in the commit itself, and only when the row is committed', async () => {
    await recordIntent(meta.db, 'w1')
    await recordIntent(meta.db, 'w2')
    const refused = await commitObject(
      meta.db,
      objectRow('b', 'k'),
      writer('b'),
      { ifMatch: '"none"' },
      undefined,
      undefined,
      ['w1'],
    )
    expect(refused).toEqual({ ok: false, reason: 'precondition' })
    expect(await hasIntent(meta.db, 'w1')).toBe(true) // the data is still to be removed: its intent stays
    expect(await commitObject(meta.db, objectRow('b', 'k'), writer('b'), {}, undefined, undefined, ['w1'])).toEqual({
      ok: true,
    })
    expect(await hasIntent(meta.db, 'w1')).toBe(false)
    expect(await hasIntent(meta.db, 'w2')).toBe(true) // not this commit's
  })

  it('an overwrite queues the replaced layout for GC in the same commit; a refused one queues nothing', async () => {
    await commitObject(meta.db, objectRow('b', 'k', { layout: { v: 1 } }), writer('b'))
    expect(await takeGc(meta.db, 10)).toEqual([])
    expect(await commitObject(meta.db, objectRow('b', 'k', { layout: { v: 2 }, etag: '"e2"' }), writer('b'))).toEqual({
      ok: true,
    })
    expect((await getObject(meta.db, 'b', 'k'))?.layout).toEqual({ v: 2 })
    expect((await takeGc(meta.db, 10)).map((g) => g.layout)).toEqual([{ v: 1 }])
    const refused = await commitObject(meta.db, objectRow('b', 'k', { layout: { v: 3 } }), writer('b'), {
      ifMatch: '"other"',
    })
    expect(refused).toEqual({ ok: false, reason: 'precondition' })
    const queued = await meta.client.execute('select count(*) as n from gc_queue')
    expect(Number(queued.rows[0]?.n)).toBe(1)
    expect((await getObject(meta.db, 'b', 'k'))?.layout).toEqual({ v: 2 })
  })

  it('If-None-Match: * commits only a new key', async () => {
    expect(await commitObject(meta.db, objectRow('b', 'k'), writer('b'), { ifNoneMatch: '*' })).toEqual({ ok: true })
    expect(
      await commitObject(meta.db, objectRow('b', 'k', { layout: { v: 9 } }), writer('b'), { ifNoneMatch: '*' }),
    ).toEqual({
      ok: false,
      reason: 'precondition',
    })
    expect((await getObject(meta.db, 'b', 'k'))?.layout).toEqual(objectRow('b', 'k').layout)
  })

  it('If-Match commits only over the named ETag (quotes optional, lists and * accepted)', async () => {
    expect(await commitObject(meta.db, objectRow('b', 'k'), writer('b'), { ifMatch: '"e1"' })).toEqual({
      ok: false,
      reason: 'precondition',
    })
    await commitObject(meta.db, objectRow('b', 'k'), writer('b'))
    expect(
      await commitObject(meta.db, objectRow('b', 'k', { etag: '"e2"' }), writer('b'), { ifMatch: '"nope"' }),
    ).toEqual({
      ok: false,
      reason: 'precondition',
    })
    expect(
      (await commitObject(meta.db, objectRow('b', 'k', { etag: '"e2"' }), writer('b'), { ifMatch: 'e1' })).ok,
    ).toBe(true)
    expect(
      (await commitObject(meta.db, objectRow('b', 'k', { etag: '"e3"' }), writer('b'), { ifMatch: '"x", "e2"' })).ok,
    ).toBe(true)
    expect((await commitObject(meta.db, objectRow('b', 'k', { etag: '"e4"' }), writer('b'), { ifMatch: '*' })).ok).toBe(
      true,
    )
    expect((await getObject(meta.db, 'b', 'k'))?.etag).toBe('"e4"')
    expect(parseEtagList('W/"a", b')).toEqual(['"a"', '"b"'])
  })

  it('a commit into a bucket deleted meanwhile fails instead of leaving an orphan row', async () => {
    expect(await deleteBucket(meta.db, 'b', bucketIdOf('b'))).toBe('deleted')
    expect(await commitObject(meta.db, objectRow('b', 'k'), writer('b'))).toEqual({
      ok: false,
      reason: 'no-such-bucket',
    })
  })

  it('a bucket deleted and re-created under its name by another namespace: the old writer is refused everywhere', async () => {
    await createNamespace(meta.db, { name: 'other' })
    await createUser(meta.db, { accessKeyId: 'B', name: 'b', namespace: 'other', wrappedSecret: 'sealed' })
    expect(await deleteBucket(meta.db, 'b', bucketIdOf('b'))).toBe('deleted')
    await insertBucket(meta.db, {
      name: 'b',
      id: 'reborn',
      namespace: 'other',
      owner: 'B',
      region: 'us-east-1',
      createdAt: new Date(),
    })
    const owner = { bucket: 'b', bucketId: 'reborn', accessKeyId: 'B' }
    expect(await commitObject(meta.db, objectRow('b', 'k', { layout: { by: 'B' } }), owner)).toEqual({ ok: true })
    // The writer admitted to the first bucket (root of namespace default):
    expect(await commitObject(meta.db, objectRow('b', 'k', { layout: { by: 'A' } }), writer('b'))).toEqual({
      ok: false,
      reason: 'no-such-bucket',
    })
    expect(await deleteObject(meta.db, writer('b'), 'k')).toBe('no-such-bucket')
    expect((await getObject(meta.db, 'b', 'k'))?.layout).toEqual({ by: 'B' })
    expect(await takeGc(meta.db, 10)).toEqual([])
    // Knowing the new id is not enough: the root user is not in the bucket's namespace.
    const intruder = { bucket: 'b', bucketId: 'reborn', accessKeyId: 'ROOT' }
    expect(await commitObject(meta.db, objectRow('b', 'k', { layout: { by: 'A' } }), intruder)).toEqual({
      ok: false,
      reason: 'access-denied',
    })
    expect(await deleteObject(meta.db, intruder, 'k')).toBe('access-denied')
    expect((await getObject(meta.db, 'b', 'k'))?.layout).toEqual({ by: 'B' })
  })

  it('tags live on the version row: written by its commit, replaced with it, changed only through the writer gate', async () => {
    const tags = [{ key: 'a', value: '1' }]
    await commitObject(meta.db, objectRow('b', 'k', { tags }), writer('b'))
    expect((await getObject(meta.db, 'b', 'k'))?.tags).toEqual(tags)
    // Overwriting the 'null' version replaces the row, and its tags with it.
    await commitObject(meta.db, objectRow('b', 'k'), writer('b'))
    expect((await getObject(meta.db, 'b', 'k'))?.tags).toBeNull()
    expect(await setVersionTags(meta.db, writer('b'), 'k', 'null', tags)).toBe('set')
    expect((await getVersion(meta.db, 'b', 'k', 'null'))?.tags).toEqual(tags)
    expect(await setVersionTags(meta.db, writer('b'), 'k', 'v-none', tags)).toBe('missing')
    // A tagger admitted to the bucket before it was deleted and its name taken again changes nothing.
    await deleteObject(meta.db, writer('b'), 'k')
    expect(await deleteBucket(meta.db, 'b', bucketIdOf('b'))).toBe('deleted')
    await insertBucket(meta.db, {
      name: 'b',
      id: 'reborn',
      namespace: 'default',
      owner: 'ROOT',
      region: 'us-east-1',
      createdAt: new Date(),
    })
    await commitObject(meta.db, objectRow('b', 'k'), { bucket: 'b', bucketId: 'reborn', accessKeyId: 'ROOT' })
    expect(await setVersionTags(meta.db, writer('b'), 'k', 'null', tags)).toBe('no-such-bucket')
    expect((await getObject(meta.db, 'b', 'k'))?.tags).toBeNull()
  })

  it('lifecycle gates: a marker only over the version judged current, a removal only of the row judged', async () => {
    await commitObject(meta.db, objectRow('b', 'k', { layout: { gen: 1 } }), writer('b'))
    const judged = (await getObject(meta.db, 'b', 'k'))!
    // A write lands between the worker's read and its commit: a new 'null' version (another row).
    const later = new Date(1_700_000_001_000)
    await commitObject(meta.db, objectRow('b', 'k', { layout: { gen: 2 }, lastModified: later }), writer('b'))
    const marker = objectRow('b', 'k', { versionId: 'm1', deleteMarker: true, layout: null, size: 0, etag: '' })
    expect(await commitObject(meta.db, marker, writer('b'), { current: judged })).toEqual({
      ok: false,
      reason: 'precondition',
    })
    const removed = await deleteVersion(meta.db, writer('b'), 'k', 'null', 'lifecycle', Date.now(), undefined, judged)
    expect(removed.result).toBe('missing')
    expect((await getObject(meta.db, 'b', 'k'))?.layout).toEqual({ gen: 2 })
    // Against the row as it is now, both go through.
    const now = (await getObject(meta.db, 'b', 'k'))!
    expect(await commitObject(meta.db, marker, writer('b'), { current: now })).toEqual({ ok: true })
    expect(
      (await deleteVersion(meta.db, writer('b'), 'k', 'null', 'lifecycle', Date.now(), undefined, now)).result,
    ).toBe('deleted')
  })

  it('a writer whose user was deleted meanwhile is refused', async () => {
    await createUser(meta.db, { accessKeyId: 'U', name: 'u', namespace: 'default', wrappedSecret: 'sealed' })
    expect((await commitObject(meta.db, objectRow('b', 'k'), writer('b', 'U'))).ok).toBe(true)
    expect(await deleteUser(meta.db, 'U')).toBe(true)
    expect(await commitObject(meta.db, objectRow('b', 'k'), writer('b', 'U'))).toEqual({
      ok: false,
      reason: 'access-denied',
    })
  })

  it('concurrent If-None-Match commits: exactly one wins', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        commitObject(meta.db, objectRow('b', 'k', { layout: { i } }), writer('b'), { ifNoneMatch: '*' }),
      ),
    )
    expect(results.filter((r) => r.ok)).toHaveLength(1)
  })

  it('refuses keys with U+0000, which libSQL would read back cut short', async () => {
    await expect(commitObject(meta.db, objectRow('b', 'a\u0000b'), writer('b'))).rejects.toThrow(/U\+0000/)
    expect(await getObject(meta.db, 'b', 'a')).toBeUndefined()
  })

  it('delete removes the row and queues its layout for GC in one transaction, once', async () => {
    await commitObject(meta.db, objectRow('b', 'k'), writer('b'))
    expect(await deleteObject(meta.db, writer('b'), 'k', 'deleted', 1_000)).toBe('deleted')
    expect(await deleteObject(meta.db, writer('b'), 'k')).toBe('missing')
    const queued = await meta.client.execute('select layout, reason, enqueued_at from gc_queue')
    expect(queued.rows.map((r) => [JSON.parse(String(r.layout)), r.reason, r.enqueued_at])).toEqual([
      [objectRow('b', 'k').layout, 'deleted', 1_000],
    ])
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
      commitObject(a.db, objectRow('b', 'k', { layout: { from: 'a' } }), writer('b'), { ifNoneMatch: '*' }),
      commitObject(b.db, objectRow('b', 'k', { layout: { from: 'b' } }), writer('b'), { ifNoneMatch: '*' }),
    ])
    expect(results.filter((r) => r.ok)).toHaveLength(1)
    await a.close()
    await b.close()
  })
})
