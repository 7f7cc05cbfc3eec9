import { describe, expect, it } from 'vitest'
import { parseDataLayout } from '../storage/index.ts'
import { parseEncryptionRecord } from './encryption.ts'
import { CorruptMetadataError } from './errors.ts'
import { parseSegmentCrypto, parseStoredData } from './stored-data.ts'

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
