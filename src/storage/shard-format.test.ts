import { crc32 as zlibCrc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from '../util/bytes.ts'
import { checksumById } from './block-checksum.ts'
import {
  blockOffset,
  blockSeeds,
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
const nativeCrc = { crc32: (d: Uint8Array, p: number) => zlibCrc32(d, p) }

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

describe('shard format v2 (FORMAT golden): block checksums bound to the shard and stripe', () => {
  const V2 = { ...INPUT, checksum: 2 }
  const block = new TextEncoder().encode('123456789')
  const sumAt = (header: Uint8Array, stripe: number) => {
    const c = checksumById(2, nativeCrc)
    const out = new Uint8Array(4)
    c.write(block, out, blockSeeds(c, header)(stripe))
    return out
  }

  it('pins the header (version 2 with checksum id 2; otherwise v1 bytes) and the trailer', () => {
    // prettier-ignore
    const golden = [
      '43465348',
      '0200',
      '1f00', // magic, format version 2, header length 31
      '02',
      '00', // checksum id 2 (CRC32 bound to shard and stripe), reserved
      '0500',
      '0400',
      '0200',
      '00000400',
      '0500',
      '6f626a2d31', // index 5, k 4, m 2, block 262144, "obj-1"
      'da633fe3', // CRC32 of everything before
    ].join('')
    const header = encodeShardHeader(V2)
    expect(toHex(header)).toBe(golden)
    expect(parseShardHeader(header)).toEqual({ version: 2, ...V2 })
    expect(toHex(encodeTrailer(header, 1048577))).toBe('434653450100100000000000ea4071ee')
  })

  it('pins a block checksum: CRC32(header before its CRC ‖ u32le(stripe) ‖ block)', () => {
    const header = encodeShardHeader(V2)
    expect(toHex(sumAt(header, 0))).toBe('1aa8bd89')
    expect(toHex(sumAt(header, 7))).toBe('42aecef4')
    const stripe7 = Uint8Array.of(7, 0, 0, 0)
    const whole = new Uint8Array([...header.subarray(0, 27), ...stripe7, ...block])
    expect(new DataView(sumAt(header, 7).buffer).getUint32(0, true)).toBe(zlibCrc32(whole))
  })

  it('a block verifies only in its own write, shard index, geometry and stripe', () => {
    const c = checksumById(2, nativeCrc)
    const mine = sumAt(encodeShardHeader(V2), 3)
    const verifies = (h: Partial<typeof V2>, stripe = 3) =>
      c.check(block, mine, blockSeeds(c, encodeShardHeader({ ...V2, ...h }))(stripe))
    expect(verifies({})).toBe(true)
    expect(verifies({ id: 'obj-2' })).toBe(false) // another object's shard
    expect(verifies({ index: 4 })).toBe(false) // another index of the same write
    expect(verifies({ k: 3, m: 3 })).toBe(false)
    expect(verifies({ blockSize: 131072 })).toBe(false)
    expect(verifies({}, 2)).toBe(false) // another stripe of the same shard
    // v1 (checksum id 1) stays the plain CRC32 of the block: seeds are 0.
    const v1 = checksumById(1, nativeCrc)
    expect(blockSeeds(v1, encodeShardHeader(INPUT))(5)).toBe(0)
  })

  it('refuses a version that does not go with the checksum id, and unknown versions', () => {
    for (const [version, checksum] of [
      [1, 2],
      [2, 1],
      [3, 2],
    ]) {
      const h = encodeShardHeader(V2)
      const dv = new DataView(h.buffer)
      dv.setUint16(4, version!, true)
      dv.setUint8(8, checksum!)
      dv.setUint32(27, zlibCrc32(h.subarray(0, 27)), true)
      expect(() => parseShardHeader(h), `v${version} checksum ${checksum}`).toThrow(ShardFormatError)
    }
  })
})
