/**
 * The Platform port (src/util/platform.ts) over node:crypto and node:zlib, which Node, Deno and Bun
 * all provide. Native CRC32 is feature-detected: zlib.crc32 exists on Node ≥ 20.15 / 22 only.
 */
import { createHash, createHmac } from 'node:crypto'
import * as zlib from 'node:zlib'
import type { DigestAlgorithm, Hasher, Platform } from '../util/platform.ts'

type Crc32 = (data: Uint8Array, value?: number) => number

/** A plain Uint8Array view: callers should not get Buffer semantics (slice, toString) by accident. */
const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

/** zlib.crc32 when the runtime has a working one; probed with the check value of "123456789". */
export function nativeCrc32(): Crc32 | undefined {
  const fn = (zlib as unknown as { crc32?: Crc32 }).crc32
  if (typeof fn !== 'function') return undefined
  try {
    // A stub that exists but computes something else would corrupt every checksum: verify it.
    return fn(new TextEncoder().encode('123456789'), 0) >>> 0 === 0xcbf43926 ? fn : undefined
  } catch {
    return undefined
  }
}

export function createPlatform(options: { nativeCrc32?: boolean } = {}): Platform {
  const crc = options.nativeCrc32 === false ? undefined : nativeCrc32()
  const platform: Platform = {
    createHasher(algorithm: DigestAlgorithm): Hasher {
      const h = createHash(algorithm)
      return {
        update: (data) => void h.update(data),
        digest: () => plain(h.digest()),
      }
    },
    hmacSha256: (key, data) => plain(createHmac('sha256', key).update(data).digest()),
  }
  if (crc) platform.crc32 = (data, previous) => crc(data, previous) >>> 0
  return platform
}
