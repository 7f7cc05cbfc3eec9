import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Meta } from '../db.ts'
import { byteOrder, freshDb, objectRow, writer } from '../meta.testkit.ts'
import { listObjects, type ListObjectsInput } from './list.ts'
import { commitObject } from './objects.ts'
import { commonPrefixOf } from './seek.ts'

let meta: Meta
beforeEach(async () => {
  meta = await freshDb(':memory:', ['b', 'other'])
})
afterEach(async () => meta.close())

const put = async (keys: string[], bucket = 'b') => {
  for (const k of keys) await commitObject(meta.db, objectRow(bucket, k), writer(bucket))
}

/** What S3 lists: keys under the prefix after the marker, in byte order, rolled up. */
function oracle(keys: string[], prefix: string, delimiter?: string, startAfter?: string): string[] {
  const out: string[] = []
  for (const k of [...keys].sort(byteOrder)) {
    if (!k.startsWith(prefix) || (startAfter !== undefined && byteOrder(k, startAfter) <= 0)) continue
    const cp = delimiter ? commonPrefixOf(k, prefix, delimiter) : undefined
    const entry = cp ?? k
    if (entry !== startAfter && out.at(-1) !== entry) out.push(entry)
  }
  return out
}

/** Pages through with nextMarker until the end (bounded), returning every entry seen in order. */
async function listAll(input: Omit<ListObjectsInput, 'bucket'>, bound = 10_000): Promise<string[]> {
  const seen: string[] = []
  let startAfter = input.startAfter
  for (let i = 0; i < bound; i++) {
    const page = await listObjects(meta.db, { ...input, bucket: 'b', startAfter })
    // Within a page S3 returns keys and prefixes separately; merged they are in byte order.
    seen.push(...[...page.objects.map((o) => o.key), ...page.commonPrefixes].sort(byteOrder))
    expect(page.objects.length + page.commonPrefixes.length).toBeLessThanOrEqual(input.maxKeys)
    if (!page.isTruncated) return seen
    expect(page.nextMarker).toBeDefined()
    startAfter = page.nextMarker
  }
  throw new Error('listing did not end')
}

describe('listObjects', () => {
  const keys = [
    'a',
    'a/1',
    'a/2',
    'a/b/c',
    'ab',
    'b/x',
    'b/y/z',
    'c',
    'photos/2024/jan.jpg',
    'photos/2024/feb.jpg',
    'photos/2025/mar.jpg',
    'photos/top.jpg',
  ]

  it('prefix, delimiter and startAfter select what S3 would', async () => {
    await put(keys)
    await put(['a/other-bucket'], 'other')
    const cases: [string, string | undefined, string | undefined][] = [
      ['', undefined, undefined],
      ['', '/', undefined],
      ['a', '/', undefined],
      ['a/', '/', undefined],
      ['photos/', '/', undefined],
      ['photos/2024/', '/', undefined],
      ['', '/', 'a/'],
      ['', '/', 'a/1'],
      ['p', undefined, 'photos/2024/jan.jpg'],
      ['zzz', '/', undefined],
    ]
    for (const [prefix, delimiter, startAfter] of cases) {
      const page = await listObjects(meta.db, { bucket: 'b', prefix, delimiter, startAfter, maxKeys: 1000 })
      const got = [...page.objects.map((o) => o.key), ...page.commonPrefixes].sort(byteOrder)
      expect(got, JSON.stringify({ prefix, delimiter, startAfter })).toEqual(
        oracle(keys, prefix, delimiter, startAfter),
      )
      expect(page.isTruncated).toBe(false)
    }
  })

  it('orders unicode keys by UTF-8 bytes, not UTF-16 code units', async () => {
    const unicode = ['z', 'é', '\uffff', '\u{1f600}', '\ufb00', '中文/x', 'A', '\u{10ffff}', 'ü/1', '\ud7ff', '\ue000']
    await put(unicode)
    const page = await listObjects(meta.db, { bucket: 'b', prefix: '', maxKeys: 100 })
    const listed = page.objects.map((o) => o.key)
    expect(listed).toEqual([...unicode].sort(byteOrder))
    // The two orders really differ here: an astral char sorts after U+FFFF in bytes, before it in UTF-16.
    expect(listed).not.toEqual([...unicode].sort())
  })

  it('a prefix ending right below the surrogates or at U+10FFFF bounds correctly', async () => {
    await put(['\ud7ff', '\ud7ffx', '\ue000', 'q\u{10ffff}', 'q\u{10ffff}\u{10ffff}', 'r'])
    const under = async (prefix: string) =>
      (await listObjects(meta.db, { bucket: 'b', prefix, maxKeys: 100 })).objects.map((o) => o.key)
    expect(await under('\ud7ff')).toEqual(['\ud7ff', '\ud7ffx'])
    expect(await under('q\u{10ffff}')).toEqual(['q\u{10ffff}', 'q\u{10ffff}\u{10ffff}'])
  })

  it('rolls up past multi-byte delimiters, high code points and keys equal to the prefix', async () => {
    // The seek past a common prefix is `key > cp || x'ff'` inside SQLite: every key under cp
    // (whatever code point follows it, up to U+10FFFF's F4 8F BF BF) must sort below that bound,
    // and the next prefix's keys above it.
    const odd = [
      'p',
      'p→',
      'p→a',
      'p→a→b',
      'p→\u{10ffff}',
      'p→\u{10ffff}→x',
      'p\u{10ffff}',
      'p\u{10ffff}→',
      'p\u{10ffff}→\u{10ffff}',
      'p\u{10ffff}\u{10ffff}',
      'p\uffff→1',
      'p\uffff→2',
      'p\u{1f600}→',
      'p\u{1f600}→\u{1f600}',
      'pé→1',
      'pé→2',
      'pé',
      'q',
      'q\u{1f600}\u{1f600}x',
      'q\u{1f600}\u{1f600}y',
      'q\u{1f600}\u{1f601}',
      '\u{10ffff}→z',
    ]
    await put(odd)
    const cases: [string, string, string | undefined][] = [
      ['', '→', undefined],
      ['p', '→', undefined],
      ['p→', '→', undefined],
      ['p\u{10ffff}', '→', undefined],
      ['p\u{10ffff}→', '→', undefined],
      ['\u{10ffff}', '→', undefined],
      ['', '\u{1f600}\u{1f600}', undefined],
      ['q', '\u{1f600}', undefined],
      ['', 'p', undefined],
      ['p', 'p', undefined],
      ['', '→', 'p→'], // a marker that is a common prefix: not repeated, its keys skipped
      ['', '→', 'p→a'], // a marker that is a key under a common prefix
      ['p', '→', 'p\uffff→'],
      ['p', '→', 'p'], // a marker equal to the prefix, and a key equal to it
      ['pé', '→', 'a'], // a marker before the prefix
    ]
    for (const [prefix, delimiter, startAfter] of cases) {
      const want = oracle(odd, prefix, delimiter, startAfter)
      const page = await listObjects(meta.db, { bucket: 'b', prefix, delimiter, startAfter, maxKeys: 1000 })
      const got = [...page.objects.map((o) => o.key), ...page.commonPrefixes].sort(byteOrder)
      expect(got, JSON.stringify({ prefix, delimiter, startAfter })).toEqual(want)
      // And the same one entry per page, continuing from each nextMarker.
      expect(await listAll({ prefix, delimiter, startAfter, maxKeys: 1 })).toEqual(want)
    }
  })

  it('maxKeys counts common prefixes; 0 gives an empty untruncated page', async () => {
    await put(keys)
    const page = await listObjects(meta.db, { bucket: 'b', prefix: '', delimiter: '/', maxKeys: 3 })
    expect([...page.objects.map((o) => o.key), ...page.commonPrefixes].sort(byteOrder)).toEqual(
      oracle(keys, '', '/').slice(0, 3),
    )
    expect(page.isTruncated).toBe(true)
    expect(page.nextMarker).toBe(oracle(keys, '', '/')[2])
    expect(await listObjects(meta.db, { bucket: 'b', prefix: '', maxKeys: 0 })).toEqual({
      objects: [],
      commonPrefixes: [],
      isTruncated: false,
    })
  })

  it('a page ending exactly at the last entry is not truncated', async () => {
    await put(['a', 'b/1', 'b/2'])
    const page = await listObjects(meta.db, { bucket: 'b', prefix: '', delimiter: '/', maxKeys: 2 })
    expect(page.isTruncated).toBe(false)
    expect(page.nextMarker).toBeUndefined()
  })

  it('paging with nextMarker yields every entry exactly once', async () => {
    // Deterministic pseudo-random tree: depths 1–4, shared and unique prefixes, some unicode.
    let seed = 42
    // 32-bit LCG (Math.imul keeps it exact); the generation loop below is bounded anyway.
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
      return (seed >>> 16) % n
    }
    const parts = ['a', 'b', 'ab', 'é', 'z-', '\u{1f600}', 'x.y']
    const all = new Set<string>()
    for (let i = 0; i < 10_000 && all.size < 300; i++)
      all.add(Array.from({ length: 1 + rand(4) }, () => parts[rand(parts.length)]).join('/') + (rand(3) ? '' : '/'))
    const list = [...all]
    expect(list.length).toBe(300)
    await put(list)
    for (const delimiter of [undefined, '/', 'b']) {
      for (const prefix of ['', 'a/', 'é']) {
        for (const maxKeys of [1, 2, 7, 1000]) {
          const seen = await listAll({ prefix, delimiter, maxKeys })
          expect(seen, JSON.stringify({ delimiter, prefix, maxKeys })).toEqual(oracle(list, prefix, delimiter))
        }
      }
    }
  })
})

describe('listed columns', () => {
  it('a page shows each row size, ETag, last-modified and checksum (read as JSON within the page), with or without a delimiter', async () => {
    const checksum = { algorithm: 'CRC64NVME', type: 'FULL_OBJECT', value: 'AAAAAAAAAAA=' } as const
    const composite = { algorithm: 'SHA256', type: 'COMPOSITE', value: 'x"y\\z', partCount: 3 } as const
    await commitObject(meta.db, objectRow('b', 'a/1', { checksum, size: 7 }), writer('b'))
    await commitObject(meta.db, objectRow('b', 'a/2', { checksum: composite, etag: '"e2-3"' }), writer('b'))
    await commitObject(meta.db, objectRow('b', 'c', { lastModified: new Date(1_700_000_000_123) }), writer('b'))
    const want = [
      { key: 'a/1', size: 7, etag: '"e1"', lastModified: new Date(1_700_000_000_000), checksum },
      { key: 'a/2', size: 3, etag: '"e2-3"', lastModified: new Date(1_700_000_000_000), checksum: composite },
      { key: 'c', size: 3, etag: '"e1"', lastModified: new Date(1_700_000_000_123), checksum: null },
    ]
    expect((await listObjects(meta.db, { bucket: 'b', prefix: '', maxKeys: 10 })).objects).toEqual(want)
    const rolled = await listObjects(meta.db, { bucket: 'b', prefix: 'a/', delimiter: '/', maxKeys: 10 })
    expect(rolled.objects).toEqual(want.slice(0, 2))
    const mixed = await listObjects(meta.db, { bucket: 'b', prefix: '', delimiter: '/', maxKeys: 10 })
    expect(mixed).toMatchObject({ objects: want.slice(2), commonPrefixes: ['a/'] })
  })
})
