import { describe, expect, it } from 'vitest'
import { createNodeAead } from '../runtime/aead-node.ts'
import { type Aead, createWebCryptoAead } from './aead.ts'
import { pattern } from './crypto.testkit.ts'

// NIST SP 800-38D / McGrew–Viega GCM test case 16 (AES-256, 60-byte plaintext, 20-byte AAD).
const TC16 = {
  key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
  iv: 'cafebabefacedbaddecaf888',
  aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
  pt: 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
  ct: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
  tag: '76fc6ece0f4e1768cddf8853bb2d551b',
}
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'))

const impls: Aead[] = [createWebCryptoAead(), createNodeAead()]

for (const aead of impls) {
  describe(`Aead port: ${aead.name}`, () => {
    it('matches the NIST AES-256-GCM vector', async () => {
      const key = await aead.importKey(hex(TC16.key))
      const sealed = await aead.seal(key, hex(TC16.iv), hex(TC16.aad), hex(TC16.pt))
      expect(Buffer.from(sealed).toString('hex')).toBe(TC16.ct + TC16.tag)
      expect(Buffer.from(await aead.open(key, hex(TC16.iv), hex(TC16.aad), sealed)).toString('hex')).toBe(TC16.pt)
    })

    it('throws on any change to ciphertext, tag, nonce or associated data, and on the wrong key', async () => {
      const key = await aead.importKey(pattern(32))
      const nonce = pattern(12, 2)
      const aad = pattern(16, 3)
      const sealed = await aead.seal(key, nonce, aad, pattern(1000, 4))
      const flip = (b: Uint8Array, i: number) => b.map((x, j) => (j === i ? x ^ 1 : x))
      const attempts = [
        () => aead.open(key, nonce, aad, flip(sealed, 10)),
        () => aead.open(key, nonce, aad, flip(sealed, sealed.length - 1)),
        () => aead.open(key, flip(nonce, 11), aad, sealed),
        () => aead.open(key, nonce, flip(aad, 0), sealed),
        () => aead.open(key, nonce, aad, sealed.subarray(0, sealed.length - 1)),
        async () => aead.open(await aead.importKey(pattern(32, 9)), nonce, aad, sealed),
      ]
      for (const a of attempts) await expect((async () => a())()).rejects.toThrow()
    })

    it('seals empty payloads (the empty final package) and refuses bad key or nonce sizes', async () => {
      const key = await aead.importKey(pattern(32))
      const sealed = await aead.seal(key, pattern(12), new Uint8Array(0), new Uint8Array(0))
      expect(sealed.length).toBe(16)
      expect((await aead.open(key, pattern(12), new Uint8Array(0), sealed)).length).toBe(0)
      await expect(aead.importKey(pattern(16))).rejects.toThrow(RangeError)
      await expect((async () => aead.seal(key, pattern(8), new Uint8Array(0), new Uint8Array(1)))()).rejects.toThrow(
        RangeError,
      )
    })
  })
}

it('both implementations produce identical packages', async () => {
  const [a, b] = impls as [Aead, Aead]
  const raw = pattern(32, 11)
  for (const n of [1, 4096, 65536]) {
    const args = [pattern(12, n), pattern(30, n + 1), pattern(n, n + 2)] as const
    expect(await a.seal(await a.importKey(raw), ...args)).toEqual(await b.seal(await b.importKey(raw), ...args))
  }
})
