/**
 * The few primitives that Web APIs lack (incremental MD5/SHA, synchronous HMAC) as a port.
 * Each runtime adapter implements it (src/runtime/platform.ts); everything else only sees this type.
 */

import type { ChecksumAlgorithm } from './checksum-algorithms.ts'

export type DigestAlgorithm = 'md5' | 'sha1' | 'sha256'

/** What an offloaded digest can compute: MD5 (the ETag) and every S3 checksum algorithm. */
export type OffloadAlgorithm = 'md5' | ChecksumAlgorithm

/** An incremental hash: feed bytes, then take the raw digest once. */
export interface Hasher {
  update(data: Uint8Array): void
  digest(): Uint8Array
}

export interface Platform {
  createHasher(algorithm: DigestAlgorithm): Hasher
  /** HMAC-SHA256, synchronous: SigV4 derives keys and signs every streaming chunk with it. */
  hmacSha256(key: Uint8Array | string, data: Uint8Array | string): Uint8Array
  /** Native incremental CRC32 (IEEE), when the runtime has one (zlib.crc32). */
  crc32?(data: Uint8Array, previous: number): number
  /**
   * Digests computed off the request thread (a worker pool), when the runtime has one. Returns
   * undefined when it cannot take the job now (pool closed or empty): compute on this thread then.
   */
  offloadDigest?(algorithms: readonly OffloadAlgorithm[]): AsyncDigest | undefined
}

/**
 * One body's digests computed elsewhere. Bytes are copied at update(), so the caller may pass the
 * chunk on at once; the copies in flight are bounded, and update() returns a promise only when
 * that bound is reached (await it before the next update). Every wait is bounded: a worker that
 * dies or stops answering rejects the pending promise instead of hanging.
 */
export interface AsyncDigest {
  update(chunk: Uint8Array): Promise<void> | undefined
  /** Raw digests in the order of the algorithms asked for. Call once, after the last update. */
  digest(): Promise<Uint8Array[]>
  /** Drops the job (body aborted or failed); idempotent, and harmless after digest(). */
  abort(): void
}
