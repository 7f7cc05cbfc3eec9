import { crc32 as zlibCrc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { CHECKSUM_CRC32, CHECKSUM_CRC32_BOUND, checksumById, crc32Js, createBlockChecksum } from './block-checksum.ts'

describe('block checksum (CRC32)', () => {
  it('JS CRC32 matches the standard check value and zlib on odd lengths and offsets', () => {
    expect(crc32Js(new TextEncoder().encode('123456789'))).toBe(0xcbf43926) // the published CRC-32 check
    const buf = new Uint8Array(100_003)
    crypto.getRandomValues(buf.subarray(0, 65536))
    crypto.getRandomValues(buf.subarray(65536))
    for (const [a, b] of [
      [0, 0],
      [0, 1],
      [1, 9],
      [3, 100_003],
      [7, 65_543],
    ] as const) {
      expect(crc32Js(buf.subarray(a, b))).toBe(zlibCrc32(buf.subarray(a, b)))
    }
    expect(crc32Js(buf.subarray(5000), crc32Js(buf.subarray(0, 5000)))).toBe(zlibCrc32(buf))
  })

  it('native and JS paths write the same 4 little-endian bytes and detect a flipped bit', () => {
    const native = createBlockChecksum({ crc32: (d, p) => zlibCrc32(d, p) })
    const js = createBlockChecksum()
    expect(native.id).toBe(CHECKSUM_CRC32_BOUND) // what new shards are written with
    expect(native.name).toMatch(/native/)
    expect(js.name).toMatch(/js/)
    const block = crypto.getRandomValues(new Uint8Array(4096))
    const a = new Uint8Array(4)
    const b = new Uint8Array(4)
    native.write(block, a)
    js.write(block, b)
    expect(a).toEqual(b)
    expect(new DataView(a.buffer).getUint32(0, true)).toBe(zlibCrc32(block))
    block[1000]! ^= 0x08
    expect(js.check(block, a)).toBe(false)
    expect(() => checksumById(99)).toThrow(/unknown block checksum/)
  })

  it('a seeded checksum continues the CRC32 from the seed; only the same seed verifies it', () => {
    const bound = checksumById(CHECKSUM_CRC32_BOUND, { crc32: (d, p) => zlibCrc32(d, p) })
    const plain = checksumById(CHECKSUM_CRC32)
    expect([bound.bound, plain.bound]).toEqual([true, false])
    const block = crypto.getRandomValues(new Uint8Array(1000))
    const prefix = crypto.getRandomValues(new Uint8Array(30))
    const seed = zlibCrc32(prefix)
    const sum = new Uint8Array(4)
    bound.write(block, sum, seed)
    // The CRC32 of prefix ‖ block: the seed stands for everything before the block.
    expect(new DataView(sum.buffer).getUint32(0, true)).toBe(zlibCrc32(Buffer.concat([prefix, block])))
    expect(bound.check(block, sum, seed)).toBe(true)
    expect(bound.check(block, sum, (seed ^ 1) >>> 0)).toBe(false)
    expect(bound.check(block, sum)).toBe(false)
    // Unseeded, both ids compute the plain CRC32 of the block.
    plain.write(block, sum)
    expect(new DataView(sum.buffer).getUint32(0, true)).toBe(zlibCrc32(block))
  })
})
