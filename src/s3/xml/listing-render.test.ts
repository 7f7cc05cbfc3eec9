// The listing documents are written through compiled records (write.ts `record`), a fast
// escape path and an arithmetic ISO timestamp: each must give byte for byte what the nested
// el() calls, the regex escape and toISOString gave before. The reference below is the previous
// writer, kept here as the oracle with one change: the ETags of entries are element text with
// their quotes as they are (escapeText), everything else as before.
import { describe, expect, it } from 'vitest'
import {
  type ListedObject,
  type ListedVersion,
  listObjectsV1Xml,
  listObjectsV2Xml,
  listVersionsXml,
  type Owner,
  urlEncodeListing,
} from './documents.ts'
import {
  type Content,
  el,
  elWithAttrs,
  escapeText,
  escapeXml,
  isoTimestamp,
  Markup,
  optEl,
  S3_XMLNS,
  xmlDocument,
} from './write.ts'

// ---- the previous writer (oracle) ----

const OLD_NEEDS_ESCAPE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the oracle's own character set
  /[&<>"'\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
const OLD_NAMED: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }
const oldEscape = (v: string) =>
  v.replace(OLD_NEEDS_ESCAPE, (ch) => OLD_NAMED[ch] ?? `&#x${ch.charCodeAt(0).toString(16).toUpperCase()};`)
/** The same without the quotes: element text, where `"` and `'` are plain characters. */
const oldTextEscape = (v: string) =>
  v.replace(OLD_NEEDS_ESCAPE, (ch) =>
    ch === '"' || ch === "'" ? ch : (OLD_NAMED[ch] ?? `&#x${ch.charCodeAt(0).toString(16).toUpperCase()};`),
  )
/** An entry's `<ETag>`: the only element written with raw quotes. */
const etagEl = (etag: string) => new Markup(`<ETag>${oldTextEscape(etag)}</ETag>`)

const oldRoot = (name: string, ...content: Content[]) => xmlDocument(elWithAttrs(name, { xmlns: S3_XMLNS }, ...content))
const oldOwner = (o: Owner): Markup => el('Owner', el('ID', o.id), optEl('DisplayName', o.displayName))
const oldIso = (d: Date) => d.toISOString()
const oldCommonPrefixes = (ps: readonly string[]) => ps.map((p) => el('CommonPrefixes', el('Prefix', p)))
const oldContents = (o: ListedObject): Markup =>
  el(
    'Contents',
    el('Key', o.key),
    el('LastModified', oldIso(o.lastModified)),
    etagEl(o.etag),
    optEl('ChecksumAlgorithm', o.checksumAlgorithm),
    optEl('ChecksumType', o.checksumType),
    el('Size', o.size),
    o.owner ? oldOwner(o.owner) : null,
    el('StorageClass', o.storageClass ?? 'STANDARD'),
  )

function oldV2(i: Parameters<typeof listObjectsV2Xml>[0]): string {
  return oldRoot(
    'ListBucketResult',
    el('Name', i.name),
    el('Prefix', i.prefix),
    optEl('ContinuationToken', i.continuationToken),
    optEl('NextContinuationToken', i.nextContinuationToken),
    optEl('StartAfter', i.startAfter),
    el('KeyCount', i.keyCount ?? i.contents.length + i.commonPrefixes.length),
    el('MaxKeys', i.maxKeys),
    optEl('Delimiter', i.delimiter),
    optEl('EncodingType', i.encodingType),
    el('IsTruncated', i.isTruncated),
    i.contents.map(oldContents),
    oldCommonPrefixes(i.commonPrefixes),
  )
}

function oldV1(i: Parameters<typeof listObjectsV1Xml>[0]): string {
  const nextMarker = i.delimiter !== undefined && i.isTruncated ? i.nextMarker : undefined
  return oldRoot(
    'ListBucketResult',
    el('Name', i.name),
    el('Prefix', i.prefix),
    el('Marker', i.marker),
    optEl('NextMarker', nextMarker),
    el('MaxKeys', i.maxKeys),
    optEl('Delimiter', i.delimiter),
    optEl('EncodingType', i.encodingType),
    el('IsTruncated', i.isTruncated),
    i.contents.map(oldContents),
    oldCommonPrefixes(i.commonPrefixes),
  )
}

const oldVersion = (v: ListedVersion, o: Owner): Markup =>
  v.deleteMarker
    ? el(
        'DeleteMarker',
        el('Key', v.key),
        el('VersionId', v.versionId),
        el('IsLatest', v.isLatest),
        el('LastModified', oldIso(v.lastModified)),
        oldOwner(o),
      )
    : el(
        'Version',
        el('Key', v.key),
        el('VersionId', v.versionId),
        el('IsLatest', v.isLatest),
        el('LastModified', oldIso(v.lastModified)),
        etagEl(v.etag ?? ''),
        optEl('ChecksumAlgorithm', v.checksumAlgorithm),
        optEl('ChecksumType', v.checksumType),
        el('Size', v.size ?? 0),
        el('StorageClass', 'STANDARD'),
        oldOwner(o),
      )

function oldVersions(i: Parameters<typeof listVersionsXml>[0]): string {
  return oldRoot(
    'ListVersionsResult',
    el('Name', i.name),
    el('Prefix', i.prefix),
    el('KeyMarker', i.keyMarker),
    el('VersionIdMarker', i.versionIdMarker),
    optEl('NextKeyMarker', i.isTruncated ? i.nextKeyMarker : undefined),
    optEl('NextVersionIdMarker', i.isTruncated ? i.nextVersionIdMarker : undefined),
    el('MaxKeys', i.maxKeys),
    optEl('Delimiter', i.delimiter),
    optEl('EncodingType', i.encodingType),
    el('IsTruncated', i.isTruncated),
    i.versions.map((v) => oldVersion(v, i.owner)),
    oldCommonPrefixes(i.commonPrefixes),
  )
}

// ---- awkward input ----

/** Every C0 control, the markup characters, CR/CRLF, non-characters, lone and paired surrogates, non-ASCII. */
const AWKWARD_KEYS = [
  'plain/key.txt',
  `a&b<c>d"e'f`,
  '&amp;already',
  ']]>',
  ...Array.from({ length: 32 }, (_, c) => `ctl${String.fromCharCode(c)}end`),
  'crlf\r\nand\rcr',
  'tab\tlf\n',
  '\u007F\u0080\u009F',
  'non\uFFFEchar\uFFFF',
  'lone\uD800high',
  'lone\uDC00low',
  'end\uD83D',
  '\uDE00start',
  'pair😀and🎉',
  'ü – 日本語 ∑ ✓',
  'quux ab/foo+1/',
  '"quoted"',
  "'apos'",
  '',
]
/** Well-formed UTF-16 only: encodeURIComponent (encoding-type=url) refuses lone surrogates. */
const wellFormed = (s: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s)

const DATES = [
  new Date(0),
  new Date(Date.UTC(2025, 0, 1)),
  new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 7)),
  new Date(Date.UTC(2026, 11, 31, 23, 59, 59, 999)),
  new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 999)),
  new Date(Date.UTC(2000, 1, 29, 12)),
  new Date(Date.UTC(2100, 2, 1)),
  new Date(-62167219200000), // 0000-01-01
  new Date(253402300799999), // 9999-12-31T23:59:59.999Z
  new Date(253402300800000), // +010000-01-01: toISOString's extended form
  new Date(-62167219200001), // -000001-12-31
]

const OWNERS: Owner[] = [{ id: 'owner-id', displayName: 'alice' }, { id: 'a&b<"id">' }, { id: '', displayName: `it's` }]

function objectsFor(keys: readonly string[], owner?: Owner): ListedObject[] {
  return keys.map((key, n) => ({
    key,
    lastModified: DATES[n % DATES.length]!,
    etag: n % 3 === 0 ? '"d41d8cd98f00b204e9800998ecf8427e"' : n % 3 === 1 ? `"0123456789abcdef-${n}"` : `"${key}"`,
    size: n % 4 === 0 ? 2n ** 60n + BigInt(n) : n * 1000,
    storageClass: n % 5 === 0 ? undefined : 'STANDARD',
    checksumAlgorithm: n % 2 === 0 ? 'CRC32' : n % 3 === 0 ? 'SHA256' : undefined,
    checksumType: n % 2 === 0 ? 'FULL_OBJECT' : n % 3 === 0 ? 'COMPOSITE' : undefined,
    owner,
  }))
}

describe('listing documents are byte-equal to the previous writer', () => {
  for (const url of [false, true]) {
    const encode = url ? urlEncodeListing : (s: string) => s
    const keys = (url ? AWKWARD_KEYS.filter(wellFormed) : AWKWARD_KEYS).map(encode)
    const label = url ? 'encoding-type=url' : 'raw keys'

    it(`ListObjectsV2, ${label}, with and without fetch-owner, prefixes and delimiters`, () => {
      for (const owner of [undefined, ...OWNERS]) {
        const input = {
          name: 'bucket',
          prefix: encode('p&<'),
          delimiter: encode('/'),
          maxKeys: 1000,
          encodingType: url ? ('url' as const) : undefined,
          isTruncated: true,
          continuationToken: 'tok',
          nextContinuationToken: 'next',
          startAfter: encode(`s"a'`),
          contents: objectsFor(keys, owner),
          commonPrefixes: keys.map((k) => `${k}/`),
        }
        expect(listObjectsV2Xml(input)).toBe(oldV2(input))
        const bare = { ...input, delimiter: undefined, startAfter: undefined, continuationToken: undefined }
        expect(listObjectsV2Xml(bare)).toBe(oldV2(bare))
      }
    })

    it(`ListObjects (v1), ${label}`, () => {
      for (const owner of OWNERS) {
        const input = {
          name: 'bucket',
          prefix: encode('ctl\u0001'),
          marker: encode('m&'),
          nextMarker: encode('n<'),
          delimiter: encode('\u0002'),
          maxKeys: 7,
          encodingType: url ? ('url' as const) : undefined,
          isTruncated: true,
          contents: objectsFor(keys, owner).map((o) => ({ ...o, owner })),
          commonPrefixes: keys,
        }
        expect(listObjectsV1Xml(input)).toBe(oldV1(input))
        expect(listObjectsV1Xml({ ...input, delimiter: undefined })).toBe(oldV1({ ...input, delimiter: undefined }))
      }
    })

    it(`ListObjectVersions, ${label}, versions and delete markers`, () => {
      for (const owner of OWNERS) {
        const input = {
          name: 'bucket',
          prefix: encode('p'),
          keyMarker: encode('k"'),
          versionIdMarker: 'v&',
          nextKeyMarker: encode('nk<'),
          nextVersionIdMarker: 'nv>',
          delimiter: encode('/'),
          maxKeys: 1000,
          encodingType: url ? ('url' as const) : undefined,
          isTruncated: true,
          owner,
          versions: keys.map(
            (key, n): ListedVersion => ({
              key,
              versionId: n % 4 === 0 ? 'null' : `v${n}&<`,
              isLatest: n % 2 === 0,
              deleteMarker: n % 3 === 0,
              lastModified: DATES[n % DATES.length]!,
              ...(n % 3 === 0 ? {} : { etag: n % 2 ? `"etag${n}"` : `'${key}"`, size: n }),
              ...(n % 2 === 0 ? { checksumAlgorithm: 'CRC64NVME' as const, checksumType: 'FULL_OBJECT' as const } : {}),
            }),
          ),
          commonPrefixes: keys,
        }
        expect(listVersionsXml(input)).toBe(oldVersions(input))
        const empty = { ...input, versions: [], commonPrefixes: [], isTruncated: false }
        expect(listVersionsXml(empty)).toBe(oldVersions(empty))
      }
    })
  }
})

describe('fast paths of the writer against their definitions', () => {
  it('escapeXml equals the regex replace for every character class, alone and mixed', () => {
    const pieces = [
      'a',
      '&',
      '<',
      '>',
      '"',
      "'",
      '\r',
      '\n',
      '\t',
      '\u0000',
      '\u001F',
      '\uFFFE',
      '\uD800',
      '\uDC00',
      '😀',
      'é',
    ]
    for (const a of pieces)
      for (const b of pieces)
        for (const c of pieces) {
          const s = `${a}${b}x${c}`
          expect(escapeXml(s)).toBe(oldEscape(s))
        }
    for (const s of AWKWARD_KEYS) expect(escapeXml(s)).toBe(oldEscape(s))
  })

  it('escapeText is escapeXml with the quotes left as they are', () => {
    const pieces = ['a', '&', '<', '>', '"', "'", '\r', '\u0000', '\u001F', '\uFFFF', '\uD800', '\uDC00', '😀']
    for (const a of pieces)
      for (const b of pieces)
        for (const c of pieces) {
          const s = `${a}${b}x${c}`
          expect(escapeText(s)).toBe(oldTextEscape(s))
        }
    expect(escapeText('"d41d8cd98f00b204e9800998ecf8427e-2"')).toBe('"d41d8cd98f00b204e9800998ecf8427e-2"')
    expect(escapeText(`"a&b'<c>"`)).toBe(`"a&amp;b'&lt;c&gt;"`)
  })

  it('isoTimestamp equals toISOString at the edges and across ±10,000 years', () => {
    for (const d of DATES) expect(isoTimestamp(d)).toBe(d.toISOString())
    // A deterministic walk over every month and leap rule: 20,000 steps of a prime number of ms.
    const step = 15_778_463_017 // ~ half a year, prime-ish so hours, ms and days all vary
    for (let i = -10_000; i < 10_000; i++) {
      const d = new Date(Date.UTC(2000, 0, 1) + i * step)
      expect(isoTimestamp(d)).toBe(d.toISOString())
    }
    for (let day = 0; day < 3 * 366; day++) {
      const d = new Date(Date.UTC(1999, 11, 1) + day * 86_400_000 + 86_399_999)
      expect(isoTimestamp(d)).toBe(d.toISOString())
    }
    expect(() => isoTimestamp(new Date(Number.NaN))).toThrow(RangeError)
  })
})
