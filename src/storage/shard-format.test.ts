import { crc32 as zlibCrc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from '../util/bytes.ts'
import {
  blockOffset,
  encodeShardHeader,
  encodeTrailer,
  headerLength,
  parseShardHeader,
  parseTrailer,
  shardFileLength,
  ShardFormatError,
  shardName,
  spanLength,
  trailerOffset,
} from './shard-format.ts'

const INPUT = { checksum: 1, index: 5, k: 4, m: 2, blockSize: 262144, id: 'obj-1' }

describe('shard format v1 (FORMAT golden)', () => {
  it('pins the header bytes', () => {
    // prettier-ignore
    const golden = [
      '43465348', // magic "CFSH"
      '0100', // format version 1
      '1f00', // header length 31 = 26 + 5
      '01',
      '00', // checksum algorithm 1 (CRC32), reserved
      '0500', // shard index 5
      '0400',
      '0200', // k = 4, m = 2
      '00000400', // block size 262144
      '0500', // id length 5
      '6f626a2d31', // "obj-1"
      '4edc8c36', // CRC32 of everything before, little-endian
    ].join('')
    const header = encodeShardHeader(INPUT)
    expect(toHex(header)).toBe(golden)
    // The pinned CRC is the plain IEEE CRC32 of the preceding bytes (not a private variant).
    expect(new DataView(header.buffer).getUint32(27, true)).toBe(zlibCrc32(header.subarray(0, 27)))
    expect(header.length).toBe(headerLength('obj-1'))
  })

  it('pins the trailer bytes, chained to the header CRC', () => {
    const header = encodeShardHeader(INPUT)
    const trailer = encodeTrailer(header, 1048577)
    expect(toHex(trailer)).toBe(['43465345', '0100100000000000', '80478a76'].join(''))
    const headerCrc = new DataView(header.buffer).getUint32(27, true)
    expect(new DataView(trailer.buffer).getUint32(12, true)).toBe(zlibCrc32(trailer.subarray(0, 12), headerCrc))
    expect(parseTrailer(header, trailer)).toBe(1048577)
    // A trailer from another shard's header does not verify.
    expect(() => parseTrailer(encodeShardHeader({ ...INPUT, index: 4 }), trailer)).toThrow(ShardFormatError)
  })

  it('round-trips and rejects damage', () => {
    const header = encodeShardHeader(INPUT)
    expect(parseShardHeader(header)).toEqual({ version: 1, ...INPUT })
    const withTail = new Uint8Array(header.length + 10)
    withTail.set(header)
    expect(parseShardHeader(withTail).id).toBe('obj-1')
    for (let i = 0; i < header.length; i++) {
      const bad = header.slice()
      bad[i]! ^= 0x01
      expect(() => parseShardHeader(bad), `byte ${i}`).toThrow(ShardFormatError)
    }
    expect(() => parseShardHeader(header.subarray(0, 20))).toThrow(ShardFormatError)
    expect(() => parseShardHeader(fromHex('00'.repeat(40))!)).toThrow(/bad magic/)
  })

  it('locates blocks from the geometry alone', () => {
    const g = { k: 4, m: 2, blockSize: 100, size: 401 } // stripes: 400 bytes, then 1 byte (block length 1)
    const o = { headerLength: 31, checksumSize: 4 }
    expect(blockOffset(g, o, 0)).toBe(31)
    expect(blockOffset(g, o, 1)).toBe(31 + 104)
    expect(spanLength(g, o, 0, 1)).toBe(104 + 1 + 4)
    expect(trailerOffset(g, o)).toBe(31 + 104 + 5)
    expect(shardFileLength(g, o)).toBe(31 + 104 + 5 + 16)
    expect(shardFileLength({ ...g, size: 0 }, o)).toBe(31 + 16)
    expect(shardName('obj-1', 5)).toBe('obj-1.5')
  })
})
