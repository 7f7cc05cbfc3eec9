import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Meta } from '../db.ts'
import { byteOrder, freshDb, objectRow, writer } from '../meta.testkit.ts'
import type { ObjectRow } from '../rows.ts'
import { takeGc } from './gc.ts'
import { listObjects, listVersions } from './list.ts'
import { commonPrefixOf } from './seek.ts'
import { commitObject, deleteObject, deleteVersion, getObject, getVersion, newVersionId } from './objects.ts'

let meta: Meta
beforeEach(async () => {
  meta = await freshDb()
})
afterEach(async () => meta.close())

const version = (key: string, versionId: string, over: Partial<ObjectRow> = {}) =>
  objectRow('b', key, { versionId, layout: { v: `${key}@${versionId}` }, ...over })
const marker = (key: string, versionId: string) =>
  objectRow('b', key, { versionId, deleteMarker: true, layout: null, etag: '', size: 0 })
const gcLayouts = async () => (await takeGc(meta.db, 100)).map((g) => g.layout)
const listed = async (key?: string, vid?: string, max = 100) => {
  const page = await listVersions(meta.db, {
    bucket: 'b',
    prefix: '',
    keyMarker: key,
    versionIdMarker: vid,
    maxKeys: max,
  })
  if (page === 'bad-marker') throw new Error('bad marker')
  return page
}

describe('versions', () => {
  it('a new version keeps the older ones and queues nothing for GC; the newest is current', async () => {
    await commitObject(meta.db, version('k', 'null'), writer())
    await commitObject(meta.db, version('k', 'v1'), writer())
    await commitObject(meta.db, version('k', 'v2'), writer())
    expect(await gcLayouts()).toEqual([])
    expect((await getObject(meta.db, 'b', 'k'))?.versionId).toBe('v2')
    expect((await getVersion(meta.db, 'b', 'k', 'null'))?.layout).toEqual({ v: 'k@null' })
    const page = await listed()
    expect(page.versions.map((v) => [v.versionId, v.latest])).toEqual([
      ['v2', true],
      ['v1', false],
      ['null', false],
    ])
  })

  it("a 'null' write replaces only the null version, queuing its data, and becomes the newest", async () => {
    await commitObject(meta.db, version('k', 'null'), writer())
    await commitObject(meta.db, version('k', 'v1'), writer())
    await commitObject(meta.db, version('k', 'null', { layout: { v: 'second null' } }), writer())
    expect(await gcLayouts()).toEqual([{ v: 'k@null' }])
    expect((await listed()).versions.map((v) => [v.versionId, v.latest])).toEqual([
      ['null', true],
      ['v1', false],
    ])
  })

  it('a delete marker hides the key from GET and ListObjects; removing it undeletes', async () => {
    await commitObject(meta.db, version('k', 'v1'), writer())
    await commitObject(meta.db, marker('k', 'm1'), writer())
    expect((await getObject(meta.db, 'b', 'k'))?.deleteMarker).toBe(true)
    expect((await listObjects(meta.db, { bucket: 'b', prefix: '', maxKeys: 10 })).objects).toEqual([])
    expect(await deleteVersion(meta.db, writer(), 'k', 'm1')).toEqual({ result: 'deleted', deleteMarker: true })
    expect(await gcLayouts()).toEqual([])
    expect((await getObject(meta.db, 'b', 'k'))?.versionId).toBe('v1')
    expect((await listObjects(meta.db, { bucket: 'b', prefix: '', maxKeys: 10 })).objects.map((o) => o.key)).toEqual([
      'k',
    ])
  })

  it('deleting a version queues its data in the same transaction and promotes the next newest', async () => {
    await commitObject(meta.db, version('k', 'v1'), writer())
    await commitObject(meta.db, version('k', 'v2'), writer())
    expect(await deleteVersion(meta.db, writer(), 'k', 'v2')).toEqual({ result: 'deleted', deleteMarker: false })
    expect(await gcLayouts()).toEqual([{ v: 'k@v2' }])
    expect((await getObject(meta.db, 'b', 'k'))?.versionId).toBe('v1')
    expect(await deleteVersion(meta.db, writer(), 'k', 'nope')).toEqual({ result: 'missing' })
    // A non-current version goes without touching the current one.
    await commitObject(meta.db, version('k', 'v3'), writer())
    await deleteVersion(meta.db, writer(), 'k', 'v1')
    expect((await getObject(meta.db, 'b', 'k'))?.versionId).toBe('v3')
  })

  it('conditions act on the current object: a delete marker is no object', async () => {
    await commitObject(meta.db, version('k', 'v1', { etag: '"a"' }), writer())
    await commitObject(meta.db, marker('k', 'm1'), writer())
    expect(await commitObject(meta.db, version('k', 'v2'), writer(), { ifMatch: '"a"' })).toEqual({
      ok: false,
      reason: 'precondition',
    })
    expect(await commitObject(meta.db, version('k', 'v2'), writer(), { ifNoneMatch: '*' })).toEqual({ ok: true })
    expect(await commitObject(meta.db, version('k', 'v3'), writer(), { ifNoneMatch: '*' })).toEqual({
      ok: false,
      reason: 'precondition',
    })
    expect(await commitObject(meta.db, version('k', 'v3'), writer(), { ifNoneMatch: '"e1"' })).toEqual({
      ok: false,
      reason: 'precondition',
    })
    expect(await commitObject(meta.db, version('k', 'v3'), writer(), { ifNoneMatch: '"other"' })).toEqual({ ok: true })
  })

  it('pages by key-marker and version-id-marker through many versions of many keys', async () => {
    const expected: string[] = []
    for (const key of ['a', 'b/1', 'b/2', 'c']) {
      const ids: string[] = []
      for (let i = 0; i < 5; i++) {
        const id = `${key}-${i}`
        ids.unshift(id)
        await commitObject(meta.db, i === 3 ? marker(key, id) : version(key, id), writer())
      }
      expected.push(...ids)
    }
    const seen: string[] = []
    let km: string | undefined
    let vm: string | undefined
    for (let pages = 0; pages < 20; pages++) {
      const page = await listed(km, vm, 3)
      seen.push(...page.versions.map((v) => v.versionId))
      if (!page.isTruncated) break
      km = page.nextKeyMarker
      vm = page.nextVersionIdMarker
    }
    expect(seen).toEqual(expected)
    expect(
      await listVersions(meta.db, { bucket: 'b', prefix: '', keyMarker: 'a', versionIdMarker: 'zz', maxKeys: 3 }),
    ).toBe('bad-marker')
    // A marker before the prefix lists the prefix from its start, and is still checked.
    const under = await listVersions(meta.db, { bucket: 'b', prefix: 'b/', keyMarker: 'a', maxKeys: 100 })
    if (under === 'bad-marker') throw new Error('bad marker')
    expect(under.versions.map((v) => v.key)).toEqual([...Array(5).fill('b/1'), ...Array(5).fill('b/2')])
    const fromVersion = await listVersions(meta.db, {
      bucket: 'b',
      prefix: 'b/',
      keyMarker: 'a',
      versionIdMarker: 'a-2',
      maxKeys: 100,
    })
    expect(fromVersion !== 'bad-marker' && fromVersion.versions.length).toBe(10)
    expect(
      await listVersions(meta.db, { bucket: 'b', prefix: 'b/', keyMarker: 'a', versionIdMarker: 'zz', maxKeys: 3 }),
    ).toBe('bad-marker')
    // A key marker alone skips every version of that key.
    expect((await listed('b/2')).versions[0]?.versionId).toBe('c-4')
    // A delimiter rolls every version under a prefix into one common prefix.
    const rolled = await listVersions(meta.db, { bucket: 'b', prefix: '', delimiter: '/', maxKeys: 100 })
    if (rolled === 'bad-marker') throw new Error('bad marker')
    expect(rolled.commonPrefixes).toEqual(['b/'])
    expect(rolled.versions.map((v) => v.key)).toEqual([...Array(5).fill('a'), ...Array(5).fill('c')])
  })

  it('pages with a delimiter through versions and common prefixes, one entry at a time', async () => {
    // Several versions per key, multi-byte delimiter, U+10FFFF right after a common prefix, a key
    // equal to the prefix: paging by nextKeyMarker/nextVersionIdMarker must see every version of
    // a key that does not roll up, and each common prefix once.
    const keys = ['p', 'p→a', 'p→\u{10ffff}', 'p\u{10ffff}→x', 'p\u{10ffff}y', 'pé', 'pé→1', 'pé→2', 'q→']
    const expected: string[] = []
    for (const key of keys) {
      for (let i = 0; i < 3; i++) await commitObject(meta.db, version(key, `${key}#${i}`), writer())
    }
    const prefix = 'p'
    for (const key of [...keys].sort(byteOrder)) {
      if (!key.startsWith(prefix)) continue
      const cp = commonPrefixOf(key, prefix, '→')
      if (cp !== undefined) {
        if (expected.at(-1) !== `cp:${cp}`) expected.push(`cp:${cp}`)
      } else expected.push(...[2, 1, 0].map((i) => `${key}#${i}`))
    }
    for (const maxKeys of [1, 2, 1000]) {
      const seen: string[] = []
      let km: string | undefined
      let vm: string | undefined
      for (let pages = 0; pages < 100; pages++) {
        const page = await listVersions(meta.db, {
          bucket: 'b',
          prefix,
          delimiter: '→',
          keyMarker: km,
          versionIdMarker: vm,
          maxKeys,
        })
        if (page === 'bad-marker') throw new Error('bad marker')
        const entries = [
          ...page.versions.map((v) => ({ key: v.key, e: v.versionId })),
          ...page.commonPrefixes.map((cp) => ({ key: cp, e: `cp:${cp}` })),
        ]
        expect(entries.length).toBeLessThanOrEqual(maxKeys)
        // Keys and prefixes come separately in a page; merged they are in byte order.
        seen.push(...entries.sort((a, b) => byteOrder(a.key, b.key)).map((x) => x.e))
        if (!page.isTruncated) break
        km = page.nextKeyMarker
        vm = page.nextVersionIdMarker
      }
      expect(seen, `maxKeys ${maxKeys}`).toEqual(expected)
    }
  })

  it('removing a key for good (namespace deletion) queues the data of every version', async () => {
    await commitObject(meta.db, version('k', 'v1'), writer())
    await commitObject(meta.db, marker('k', 'm1'), writer())
    await commitObject(meta.db, version('k', 'v2'), writer())
    expect(await deleteObject(meta.db, writer(), 'k')).toBe('deleted')
    expect((await gcLayouts()).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([
      { v: 'k@v1' },
      { v: 'k@v2' },
    ])
    expect((await listed()).versions).toEqual([])
  })

  it('version ids are unique, 32 hex digits, and sort by time', () => {
    const a = newVersionId(1_000)
    const b = newVersionId(2_000)
    expect(a).toMatch(/^[0-9a-f]{32}$/)
    expect(a < b).toBe(true)
    expect(newVersionId(1_000)).not.toBe(a)
  })
})

describe('listed version columns', () => {
  it('a versions page reads the checksum column within the page JSON, with or without a delimiter', async () => {
    const checksum = { algorithm: 'CRC32C', type: 'COMPOSITE', value: 'q&<"', partCount: 2 } as const
    await commitObject(meta.db, objectRow('b', 'd/k', { checksum }), writer('b'))
    await commitObject(meta.db, objectRow('b', 'e'), writer('b'))
    for (const delimiter of [undefined, '/']) {
      const page = await listVersions(meta.db, { bucket: 'b', prefix: '', delimiter, maxKeys: 10 })
      if (page === 'bad-marker') throw new Error('bad marker')
      const byKey = Object.fromEntries(page.versions.map((v) => [v.key, v.checksum]))
      expect(byKey).toEqual(delimiter ? { e: null } : { 'd/k': checksum, e: null })
    }
    const under = await listVersions(meta.db, { bucket: 'b', prefix: 'd/', delimiter: '/', maxKeys: 10 })
    if (under === 'bad-marker') throw new Error('bad marker')
    expect(under.versions.map((v) => v.checksum)).toEqual([checksum])
  })
})
