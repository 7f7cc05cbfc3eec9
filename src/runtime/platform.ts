/**
 * The Platform port (src/util/platform.ts) over node:crypto, node:zlib and a hash worker pool, which
 * Node, Deno and Bun all provide. Native CRC32 is feature-detected: zlib.crc32 is Node ≥ 20.15 / 22.
 */
import { createHash, createHmac } from 'node:crypto'
import * as zlib from 'node:zlib'
import type { DigestAlgorithm, Hasher, Platform } from '../util/platform.ts'
import { createHashPool } from './hash-pool.ts'

/** The runtime's Platform; close() ends its hash workers (the server's stop path calls it). */
export interface RuntimePlatform extends Platform {
  close(): Promise<void>
}

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

/**
 * `hashWorkers` > 0 adds offloadDigest over that many worker threads (default 0: the CLI tools,
 * storage nodes and tests that only sign or hash small things never start a thread).
 */
export function createPlatform(options: { nativeCrc32?: boolean; hashWorkers?: number } = {}): RuntimePlatform {
  const crc = options.nativeCrc32 === false ? undefined : nativeCrc32()
  const pool = options.hashWorkers ? createHashPool({ size: options.hashWorkers }) : undefined
  const platform: RuntimePlatform = {
    createHasher(algorithm: DigestAlgorithm): Hasher {
      const h = createHash(algorithm)
      return {
        update: (data) => void h.update(data),
        digest: () => plain(h.digest()),
      }
    },
    hmacSha256: (key, data) => plain(createHmac('sha256', key).update(data).digest()),
    close: async () => {
      await pool?.close()
    },
  }
  if (pool) platform.offloadDigest = (algorithms) => pool.digest(algorithms)
  if (crc) platform.crc32 = (data, previous) => crc(data, previous) >>> 0
  return platform
}
