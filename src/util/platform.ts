/**
 * The few primitives that Web APIs lack (incremental MD5/SHA, synchronous HMAC) as a port.
 * Each runtime adapter implements it (src/runtime/platform.ts); everything else only sees this type.
 */

export type DigestAlgorithm = 'md5' | 'sha1' | 'sha256'

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
}
