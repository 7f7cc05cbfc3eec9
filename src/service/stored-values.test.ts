import { describe, expect, it } from 'vitest'
import { parseDataLayout } from '../storage/index.ts'
import { parseEncryptionRecord } from './encryption.ts'
import { CorruptMetadataError } from './errors.ts'
import { checkInline, inlineCrc32, inlineIdsOf, layoutsOf, parseSegmentCrypto, parseStoredData } from './stored-data.ts'

// What the service stores as opaque JSON in metadata is checked once when a row enters the
// service: a damaged value is a clear internal error, never a half-typed object used further.

const layout = {
  v: 1,
  scheme: 'rs',
  id: 'w1',
  size: 10,
  k: 2,
  m: 1,
  blockSize: 4096,
  checksum: 1,
  stores: ['a', 'b', 'c'],
}
const record = { v: 1, mode: 'sse-s3', ns: 'default', nsKeyVersion: 1, objectId: 'o1', wrappedKey: 'AAAA' }

describe('stored values entering the service', () => {
  it('accept what the service writes', () => {
    expect(parseDataLayout(layout)).toBe(layout)
    const data = {
      v: 1,
      segments: [
        { size: 10, layout },
        { size: 4, layout, crypto: { prefix: 'AAAA', partNumber: 2 } },
      ],
    }
    expect(parseStoredData(data, 'object b/k')).toEqual(data)
    expect(parseSegmentCrypto({ prefix: 'AAAA', partNumber: 0 }, 'part 1')).toEqual({ prefix: 'AAAA', partNumber: 0 })
    expect(parseSegmentCrypto(null, 'part 1')).toBeUndefined()
    expect(parseEncryptionRecord(record, 'object b/k')).toBe(record)
    expect(parseEncryptionRecord({ ...record, mode: 'sse-c', nsKeyVersion: 0, sseCFingerprint: 'f' }, 'x')?.mode).toBe(
      'sse-c',
    )
    expect(parseEncryptionRecord(null, 'object b/k')).toBeUndefined()
  })

  it.each([
    ['a layout with too few stores', { ...layout, stores: ['a', 'b'] }],
    ['a layout of another scheme', { ...layout, scheme: 'mirror' }],
    ['a layout with a negative size', { ...layout, size: -1 }],
    ['a string', 'w1'],
  ])('refuse %s', (_what, bad) => {
    expect(() => parseDataLayout(bad)).toThrow(/layout is malformed/)
    expect(() => parseStoredData({ v: 1, segments: [{ size: 1, layout: bad }] }, 'object b/k')).toThrow(
      CorruptMetadataError,
    )
  })

  it('refuse malformed data, segment parameters and encryption records, naming the row', () => {
    expect(() => parseStoredData({ v: 2, segments: [] }, 'object b/k')).toThrow('object b/k')
    expect(() => parseStoredData({ v: 1, segments: [{ size: 1, layout, crypto: { prefix: 7 } }] }, 'o')).toThrow(
      CorruptMetadataError,
    )
    expect(() => parseSegmentCrypto({ partNumber: 1 }, 'part 1 of upload u')).toThrow('part 1 of upload u')
    for (const bad of [
      { ...record, mode: 'sse-kms' },
      { ...record, wrappedKey: 3 },
      { ...record, v: undefined },
      'x',
    ]) {
      expect(() => parseEncryptionRecord(bad, 'object b/k')).toThrow(CorruptMetadataError)
    }
    // The message never shows the value: it holds a wrapped key.
    expect(() => parseEncryptionRecord({ ...record, mode: 'x' }, 'object b/k')).not.toThrow(/AAAA/)
  })
})

describe('inline segments (docs/architecture.md §2, inline objects)', () => {
  const bytes = new TextEncoder().encode('hello, inline')
  const platform = {}
  const ref = { id: 'w9', crc32: inlineCrc32(platform, bytes), length: bytes.length }

  it('parse beside shard segments; only shard segments have layouts, only inline ones ids', () => {
    const data = { v: 1, segments: [{ size: bytes.length, inline: ref }] }
    expect(parseStoredData(data, 'object b/k')).toEqual(data)
    expect(layoutsOf(parseStoredData(data, 'o'))).toEqual([])
    expect(inlineIdsOf(parseStoredData(data, 'o'))).toEqual(['w9'])
    const mixed = parseStoredData(
      {
        v: 1,
        segments: [
          { size: 10, layout },
          { size: 1, inline: ref },
        ],
      },
      'o',
    )
    expect(layoutsOf(mixed)).toEqual([layout])
    expect(inlineIdsOf(mixed)).toEqual(['w9'])
  })

  it.each([
    ['both a layout and inline bytes', { size: 1, layout, inline: ref }],
    ['an inline ref without a checksum', { size: 1, inline: { id: 'w9', length: 1 } }],
    ['a checksum past 32 bits', { size: 1, inline: { ...ref, crc32: 2 ** 32 } }],
    ['a negative length', { size: 1, inline: { ...ref, length: -1 } }],
  ])('refuse a segment with %s', (_what, seg) => {
    expect(() => parseStoredData({ v: 1, segments: [seg] }, 'object b/k')).toThrow(CorruptMetadataError)
  })

  it('check the bytes read back: the CRC32 of zlib, and any difference is an error', () => {
    expect(inlineCrc32(platform, new TextEncoder().encode('123456789'))).toBe(0xcbf43926) // the CRC32 check value
    expect(checkInline(platform, ref, bytes, 'o')).toBe(bytes)
    const flipped = bytes.slice()
    flipped[3]! ^= 1
    expect(() => checkInline(platform, ref, flipped, 'object b/k')).toThrow(/fail their checksum/)
    expect(() => checkInline(platform, ref, bytes.subarray(1), 'o')).toThrow(CorruptMetadataError)
    expect(() => checkInline(platform, ref, undefined, 'object b/k')).toThrow(/missing from the metadata/)
  })
})
