/**
 * The AEAD port (src/crypto/aead.ts) over node:crypto's synchronous AES-256-GCM, which Node, Deno
 * and Bun all provide; measured faster than crypto.subtle per package (bench/crypto.ts, "Aead seal/open").
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto'
import { type Aead, AEAD_TAG_BYTES, checkAeadArgs } from '../crypto/aead.ts'

/** A plain Uint8Array view, so callers never get Buffer semantics by accident. */
const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

export function createNodeAead(): Aead {
  return {
    name: 'node',
    async importKey(raw) {
      checkAeadArgs(raw, new Uint8Array(12))
      return createSecretKey(raw)
    },
    seal(key, nonce, aad, plaintext) {
      checkAeadArgs(undefined, nonce)
      const cipher = createCipheriv('aes-256-gcm', key as KeyObject, nonce, { authTagLength: AEAD_TAG_BYTES })
      cipher.setAAD(aad)
      // One output buffer: ciphertext then tag (GCM's final() yields nothing for a stream cipher).
      const out = Buffer.allocUnsafe(plaintext.length + AEAD_TAG_BYTES)
      const body = cipher.update(plaintext)
      const tail = cipher.final()
      out.set(body, 0)
      out.set(tail, body.length)
      out.set(cipher.getAuthTag(), body.length + tail.length)
      return plain(out)
    },
    open(key, nonce, aad, sealed) {
      checkAeadArgs(undefined, nonce)
      if (sealed.length < AEAD_TAG_BYTES) throw new Error('sealed package shorter than its tag')
      const n = sealed.length - AEAD_TAG_BYTES
      const decipher = createDecipheriv('aes-256-gcm', key as KeyObject, nonce, { authTagLength: AEAD_TAG_BYTES })
      decipher.setAAD(aad)
      decipher.setAuthTag(sealed.subarray(n))
      const body = decipher.update(sealed.subarray(0, n))
      const tail = decipher.final() // throws "Unsupported state or unable to authenticate data"
      if (tail.length === 0) return plain(body)
      const out = new Uint8Array(body.length + tail.length)
      out.set(body, 0)
      out.set(tail, body.length)
      return out
    },
  }
}
