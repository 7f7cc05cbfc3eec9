/**
 * Test-only Platform over node:crypto and node:zlib, for the unit tests of src/s3/auth and src/util.
 * Never imported by production code (the runtime adapters own the real one).
 */
import { createHash, createHmac } from 'node:crypto'
import zlib from 'node:zlib'
import type { Platform } from './platform.ts'

export function createTestPlatform(options: { nativeCrc32?: boolean } = {}): Platform {
  const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32
  return {
    createHasher(algorithm) {
      const h = createHash(algorithm)
      return {
        update: (d) => {
          h.update(d)
        },
        digest: () => new Uint8Array(h.digest()),
      }
    },
    hmacSha256: (key, data) => new Uint8Array(createHmac('sha256', key).update(data).digest()),
    ...(options.nativeCrc32 !== false && native ? { crc32: (d: Uint8Array, prev: number) => native(d, prev) } : {}),
  }
}
