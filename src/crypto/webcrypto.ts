/**
 * The one choice point for WebCrypto: the runtime's `globalThis.crypto` when it has `subtle`,
 * else the pure-JS `@peculiar/webcrypto` polyfill. Every other crypto module asks here.
 */

let cached: Promise<Crypto> | undefined

/** The WebCrypto object to use; resolved once, then shared (no work at import time). */
export function getWebCrypto(): Promise<Crypto> {
  cached ??= pick()
  return cached
}

async function pick(): Promise<Crypto> {
  const native = (globalThis as { crypto?: Crypto }).crypto
  if (native && typeof native.subtle === 'object' && native.subtle !== null) return native
  // Loaded lazily so runtimes with a native WebCrypto never evaluate the polyfill.
  const { Crypto: Polyfill } = await import('@peculiar/webcrypto')
  return new Polyfill() as unknown as Crypto
}

/** Cryptographically random bytes from the chosen WebCrypto (getRandomValues caps a call at 64 KiB). */
export async function randomBytes(length: number): Promise<Uint8Array> {
  const wc = await getWebCrypto()
  const out = new Uint8Array(length)
  for (let off = 0; off < length; off += 65536) wc.getRandomValues(out.subarray(off, Math.min(length, off + 65536)))
  return out
}

/** HMAC-SHA256(key, data) through WebCrypto: key derivation and fingerprints (not on the per-byte path). */
export async function hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const wc = await getWebCrypto()
  const k = await wc.subtle.importKey('raw', key as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  return new Uint8Array(await wc.subtle.sign('HMAC', k, data as BufferSource))
}
