/**
 * The AEAD port (src/crypto/aead.ts) over node:crypto's synchronous AES-256-GCM, which Node, Deno
 * and Bun all provide; measured faster than crypto.subtle per package (bench/crypto.ts, "Aead seal/open").
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, type KeyObject } from 'node:crypto'
import { type Aead, AEAD_TAG_BYTES, checkAeadArgs } from '../crypto/aead.ts'

/** A plain Uint8Array view, so callers never get Buffer semantics by accident. */
const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

/** The last 16 bytes of the pieces: a view when one piece holds them, else a 16-byte copy. */
function tagOf(pieces: readonly Uint8Array[], total: number): Uint8Array {
  const last = pieces[pieces.length - 1]!
  if (last.length >= AEAD_TAG_BYTES) return last.subarray(last.length - AEAD_TAG_BYTES)
  const tag = new Uint8Array(AEAD_TAG_BYTES)
  let at = total - AEAD_TAG_BYTES
  let filled = 0
  for (const p of pieces) {
    if (at >= p.length) {
      at -= p.length
      continue
    }
    const part = p.subarray(at, Math.min(p.length, at + AEAD_TAG_BYTES - filled))
    tag.set(part, filled)
    filled += part.length
    at = 0
  }
  return tag
}

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
    sealPieces(key, nonce, aad, pieces) {
      checkAeadArgs(undefined, nonce)
      const cipher = createCipheriv('aes-256-gcm', key as KeyObject, nonce, { authTagLength: AEAD_TAG_BYTES })
      cipher.setAAD(aad)
      // GCM enciphers as a stream: each piece gives that many ciphertext bytes, in order.
      const out: Uint8Array[] = []
      for (const p of pieces) if (p.length > 0) out.push(plain(cipher.update(p)))
      const tail = cipher.final()
      if (tail.length > 0) out.push(plain(tail))
      out.push(plain(cipher.getAuthTag()))
      return out
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
    hmacSha256: (key, data) => plain(createHmac('sha256', key).update(data).digest()),
    openPieces(key, nonce, aad, pieces) {
      checkAeadArgs(undefined, nonce)
      let total = 0
      for (const p of pieces) total += p.length
      if (total < AEAD_TAG_BYTES) throw new Error('sealed package shorter than its tag')
      const decipher = createDecipheriv('aes-256-gcm', key as KeyObject, nonce, { authTagLength: AEAD_TAG_BYTES })
      decipher.setAAD(aad)
      decipher.setAuthTag(tagOf(pieces, total))
      // GCM deciphers as a stream: each piece's ciphertext gives that many plaintext bytes, with
      // no join of the pieces. None of them leaves here before final() has checked the tag.
      const out: Uint8Array[] = []
      let left = total - AEAD_TAG_BYTES
      for (const p of pieces) {
        if (left === 0) break
        const body = p.length <= left ? p : p.subarray(0, left)
        left -= body.length
        if (body.length > 0) out.push(plain(decipher.update(body)))
      }
      const tail = decipher.final() // throws "Unsupported state or unable to authenticate data"
      if (tail.length > 0) out.push(plain(tail))
      return out
    },
  }
}
