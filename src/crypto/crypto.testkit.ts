/**
 * Test-only helpers for the crypto suites: deterministic bytes, whole-buffer encrypt/decrypt over
 * the stream APIs, and a fixed set of package parameters. Never imported by production code.
 */
import { createWebCryptoAead, type Aead } from './aead.ts'
import { decryptRange } from './decrypt-stream.ts'
import { encryptStream, type PackageOptions } from './encrypt-stream.ts'
import { readAll, streamFromBytes } from '../util/streams.ts'

export const KiB = 1024
export const MiB = 1024 * KiB

/** Deterministic pseudo-random bytes (xorshift32), different per seed. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n)
  let x = (0x9e3779b9 ^ seed) >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

export function options(over: Partial<PackageOptions> = {}, aead: Aead = createWebCryptoAead()): PackageOptions {
  return {
    key: Uint8Array.from({ length: 32 }, (_, i) => i),
    prefix: Uint8Array.from([0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7]),
    objectId: 'golden-object',
    partNumber: 0,
    aead,
    ...over,
  }
}

export async function encryptAll(plain: Uint8Array, opts: PackageOptions, chunk = 7 * KiB + 3): Promise<Uint8Array> {
  return readAll(encryptStream(streamFromBytes(plain, chunk), opts), 1 << 30)
}

/** decryptRange over an in-memory ciphertext; `serve` may tamper with what a range read returns. */
export function decryptSlice(
  cipher: Uint8Array,
  plainSize: number,
  start: number,
  end: number,
  opts: PackageOptions,
  serve: (s: number, e: number) => Uint8Array = (s, e) => cipher.subarray(s, e),
  chunk = 50 * KiB + 1,
): Promise<Uint8Array> {
  return readAll(
    decryptRange((s, e) => streamFromBytes(serve(s, e), chunk), plainSize, start, end, opts),
    1 << 30,
  )
}
