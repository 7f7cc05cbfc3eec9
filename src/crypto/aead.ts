/**
 * The AEAD port: AES-256-GCM seal/open of one package with a 96-bit nonce, associated data and a
 * 16-byte tag appended. A WebCrypto implementation lives here; src/runtime/aead-node.ts is faster.
 */
import { getWebCrypto } from './webcrypto.ts'

/** An imported key, opaque to callers (a CryptoKey, a node KeyObject, ...). */
export type AeadKey = object

/** AES-256-GCM, 96-bit nonce, 128-bit tag appended to the ciphertext. */
export interface Aead {
  /** A short name for logs and benchmarks ("webcrypto", "node"). */
  readonly name: string
  importKey(raw: Uint8Array): Promise<AeadKey>
  /** Returns ciphertext ‖ tag (plaintext.length + 16 bytes). */
  seal(key: AeadKey, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> | Uint8Array
  /**
   * Returns the plaintext; throws (any error) when authentication fails. The plaintext (here and
   * from openPieces) is memory of its own, never a view of `sealed`: the read path gives the
   * ciphertext's buffers back for reuse once a package is open (src/util/byte-pool.ts).
   */
  open(key: AeadKey, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Promise<Uint8Array> | Uint8Array
  /**
   * Like open, for sealed bytes that arrive in pieces (a package that straddles two storage
   * blocks): their concatenation is the sealed package. Returns the plaintext in pieces, and only
   * once the whole package has authenticated: nothing of it before. Optional: without it, the
   * caller joins the pieces (a copy) and calls open.
   */
  openPieces?(
    key: AeadKey,
    nonce: Uint8Array,
    aad: Uint8Array,
    pieces: readonly Uint8Array[],
  ): Promise<Uint8Array[]> | Uint8Array[]
  /**
   * Like seal, for plaintext that arrives in pieces (a package that straddles network chunks):
   * returns ciphertext ‖ tag in pieces (their concatenation is what seal returns), with no join
   * of the input and none of the output. Optional: without it, the caller joins the pieces (a
   * copy) and calls seal.
   */
  sealPieces?(key: AeadKey, nonce: Uint8Array, aad: Uint8Array, pieces: readonly Uint8Array[]): Uint8Array[]
  /**
   * HMAC-SHA256 on this thread, for the package key each stream derives (derivePackageKey).
   * Optional: without it the derivation goes through WebCrypto, whose importKey + sign round
   * trip was about a tenth of a 4 KiB GET's CPU (docs/architecture.md §8).
   */
  hmacSha256?(key: Uint8Array, data: Uint8Array): Uint8Array
}

export const AEAD_KEY_BYTES = 32
export const AEAD_NONCE_BYTES = 12
export const AEAD_TAG_BYTES = 16

export function checkAeadArgs(key: Uint8Array | undefined, nonce: Uint8Array): void {
  if (key && key.length !== AEAD_KEY_BYTES)
    throw new RangeError(`AES-256-GCM needs a ${AEAD_KEY_BYTES}-byte key, got ${key.length}`)
  if (nonce.length !== AEAD_NONCE_BYTES)
    throw new RangeError(`AES-256-GCM needs a ${AEAD_NONCE_BYTES}-byte nonce, got ${nonce.length}`)
}

/** The portable implementation: async, runs wherever getWebCrypto() does. */
export function createWebCryptoAead(): Aead {
  const params = (nonce: Uint8Array, aad: Uint8Array): AesGcmParams => ({
    name: 'AES-GCM',
    iv: nonce as BufferSource,
    additionalData: aad as BufferSource,
    tagLength: AEAD_TAG_BYTES * 8,
  })
  return {
    name: 'webcrypto',
    async importKey(raw) {
      checkAeadArgs(raw, new Uint8Array(AEAD_NONCE_BYTES))
      const wc = await getWebCrypto()
      return wc.subtle.importKey('raw', raw as BufferSource, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt'])
    },
    async seal(key, nonce, aad, plaintext) {
      checkAeadArgs(undefined, nonce)
      const wc = await getWebCrypto()
      return new Uint8Array(await wc.subtle.encrypt(params(nonce, aad), key as CryptoKey, plaintext as BufferSource))
    },
    async open(key, nonce, aad, sealed) {
      checkAeadArgs(undefined, nonce)
      if (sealed.length < AEAD_TAG_BYTES) throw new Error('sealed package shorter than its tag')
      const wc = await getWebCrypto()
      return new Uint8Array(await wc.subtle.decrypt(params(nonce, aad), key as CryptoKey, sealed as BufferSource))
    },
  }
}
