import { describe, expect, it } from 'vitest'
import { type Aead, type AeadKey, createWebCryptoAead } from '../crypto/aead.ts'
import { decryptSlice, encryptAll, options, pattern } from '../crypto/crypto.testkit.ts'
import { cipherLength, PACKAGE_PAYLOAD, packageContext } from '../crypto/package-format.ts'
import { createNodeAead } from './aead-node.ts'

// The node:crypto AEAD must be a drop-in for the WebCrypto one: same bytes out for the same
// inputs, each opens what the other sealed, and it refuses every tampered package. (Throughput
// lives in bench/crypto.ts.)
const node = createNodeAead()
const web = createWebCryptoAead()
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')

// McGrew–Viega GCM test cases 13–15 (AES-256; no AAD); case 16, with AAD, is in src/crypto/aead.test.ts.
const K15 = 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308'
const P15 =
  'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255'
const VECTORS = [
  {
    name: 'case 13 (empty)',
    key: '00'.repeat(32),
    iv: '00'.repeat(12),
    pt: '',
    sealed: '530f8afbc74536b9a963b4f1c4cb738b',
  },
  {
    name: 'case 14 (one block)',
    key: '00'.repeat(32),
    iv: '00'.repeat(12),
    pt: '00'.repeat(16),
    sealed: 'cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919',
  },
  {
    name: 'case 15 (four blocks)',
    key: K15,
    iv: 'cafebabefacedbaddecaf888',
    pt: P15,
    sealed:
      '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad' +
      'b094dac5d93471bdec1a502270e3cc6c',
  },
]

const keys = async (raw: Uint8Array): Promise<[AeadKey, AeadKey]> => [
  await node.importKey(raw),
  await web.importKey(raw),
]
const rejects = (a: Aead, key: AeadKey, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array) =>
  expect((async () => a.open(key, nonce, aad, sealed))()).rejects.toThrow()

describe('node:crypto AEAD', () => {
  it.each(VECTORS)('matches the published AES-256-GCM answer: $name', async (v) => {
    const [nk] = await keys(hex(v.key))
    const sealed = await node.seal(nk, hex(v.iv), new Uint8Array(0), hex(v.pt))
    expect(toHex(sealed)).toBe(v.sealed)
    expect(toHex(await node.open(nk, hex(v.iv), new Uint8Array(0), sealed))).toBe(v.pt)
  })

  it('seals byte-identically to WebCrypto, and each opens what the other sealed (lengths around blocks and packages)', async () => {
    const lengths = [0, 1, 15, 16, 17, 255, 4096, PACKAGE_PAYLOAD - 1, PACKAGE_PAYLOAD, PACKAGE_PAYLOAD + 1, 200_003]
    for (const [i, n] of lengths.entries()) {
      const [nk, wk] = await keys(pattern(32, 100 + i))
      const nonce = pattern(12, 200 + i)
      const aad = pattern(i * 7, 300 + i) // 0..70 bytes of associated data
      const plain = pattern(n, 400 + i)
      const a = await node.seal(nk, nonce, aad, plain)
      const b = await web.seal(wk, nonce, aad, plain)
      expect(a.length, `length ${n}`).toBe(n + 16)
      expect(toHex(a) === toHex(b), `length ${n}: node and WebCrypto differ`).toBe(true)
      expect(toHex(await web.open(wk, nonce, aad, a)) === toHex(plain), `length ${n}: WebCrypto opens node's`).toBe(
        true,
      )
      expect(toHex(await node.open(nk, nonce, aad, b)) === toHex(plain), `length ${n}: node opens WebCrypto's`).toBe(
        true,
      )
    }
  })

  it('reads only its views: inputs inside larger buffers, outputs plain Uint8Arrays of their own', async () => {
    const [nk, wk] = await keys(pattern(32, 5))
    const backing = pattern(10_000, 6)
    const nonce = backing.subarray(100, 112)
    const aad = backing.subarray(200, 233)
    const plain = backing.subarray(1_001, 6_002)
    const sealed = await node.seal(nk, nonce, aad, plain)
    expect(Object.getPrototypeOf(sealed)).toBe(Uint8Array.prototype) // never a Buffer
    expect(toHex(sealed)).toBe(toHex(await web.seal(wk, nonce.slice(), aad.slice(), plain.slice())))
    const copy = new Uint8Array(sealed.length + 50)
    copy.set(sealed, 25)
    const opened = await node.open(nk, nonce, aad, copy.subarray(25, 25 + sealed.length))
    expect(Object.getPrototypeOf(opened)).toBe(Uint8Array.prototype)
    expect(toHex(opened)).toBe(toHex(plain))
    expect(opened.buffer).not.toBe(copy.buffer)
  })

  it('refuses every single-bit change to the sealed bytes, as WebCrypto does', async () => {
    const [nk, wk] = await keys(pattern(32, 7))
    const nonce = pattern(12, 8)
    const aad = pattern(20, 9)
    const sealed = await node.seal(nk, nonce, aad, pattern(24, 10)) // 24 bytes of ciphertext, 16 of tag
    for (let byte = 0; byte < sealed.length; byte++) {
      for (const bit of [0, 7]) {
        const bad = sealed.slice()
        bad[byte]! ^= 1 << bit
        await rejects(node, nk, nonce, aad, bad)
        await rejects(web, wk, nonce, aad, bad)
      }
    }
    // Cut or extended: a different tag position, so it cannot authenticate either.
    await rejects(node, nk, nonce, aad, sealed.subarray(0, sealed.length - 1))
    await rejects(node, nk, nonce, aad, Uint8Array.of(...sealed, 0))
    await rejects(node, nk, nonce, aad, sealed.subarray(0, 15)) // shorter than a tag
  })

  it('opens a package given in pieces (split anywhere, tag split too) and refuses any bit changed in any piece', async () => {
    const [nk] = await keys(pattern(32, 11))
    const nonce = pattern(12, 12)
    const aad = pattern(20, 13)
    const plaintext = pattern(40, 14)
    const sealed = await node.seal(nk, nonce, aad, plaintext) // 40 bytes of ciphertext, 16 of tag
    const split = (b: Uint8Array, cuts: number[]) =>
      [0, ...cuts].map((from, i) => b.subarray(from, i < cuts.length ? cuts[i] : b.length))
    const join = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p)))
    // Every single cut, and cuts that put the tag's bytes in two or three pieces.
    const cutSets = [...Array.from({ length: sealed.length - 1 }, (_, i) => [i + 1]), [10, 45], [41, 47, 50], [0, 56]]
    for (const cuts of cutSets) {
      const opened = await node.openPieces!(nk, nonce, aad, split(sealed, cuts))
      expect(join(opened).equals(Buffer.from(plaintext))).toBe(true)
      for (const byte of [0, 20, 39, 40, 47, 55]) {
        const bad = sealed.slice()
        bad[byte]! ^= 0x10
        await expect((async () => node.openPieces!(nk, nonce, aad, split(bad, cuts)))()).rejects.toThrow()
      }
    }
    await expect((async () => node.openPieces!(nk, nonce, aad, split(sealed.subarray(0, 15), [7])))()).rejects.toThrow()
  })

  it('computes HMAC-SHA256 as WebCrypto does (the package key derivation uses it)', async () => {
    const key = pattern(32, 3)
    const data = pattern(100, 9)
    const wk = await crypto.subtle.importKey('raw', key as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
    ])
    const expected = new Uint8Array(await crypto.subtle.sign('HMAC', wk, data as BufferSource))
    const got = node.hmacSha256!(key, data)
    expect(got).toEqual(expected)
    expect(Object.getPrototypeOf(got)).toBe(Uint8Array.prototype)
  })

  it('binds the nonce, the associated data and the key', async () => {
    const [nk] = await keys(pattern(32, 11))
    const nonce = pattern(12, 12)
    const aad = pattern(20, 13)
    const sealed = await node.seal(nk, nonce, aad, pattern(100, 14))
    for (const i of [0, 11])
      await rejects(
        node,
        nk,
        nonce.map((x, j) => (j === i ? x ^ 0x80 : x)),
        aad,
        sealed,
      )
    for (const i of [0, 19])
      await rejects(
        node,
        nk,
        nonce,
        aad.map((x, j) => (j === i ? x ^ 1 : x)),
        sealed,
      )
    await rejects(node, nk, nonce, aad.subarray(0, 19), sealed)
    await rejects(node, nk, nonce, new Uint8Array(0), sealed)
    await rejects(node, await node.importKey(pattern(32, 15)), nonce, aad, sealed)
  })

  it("binds a package to its place through the format's nonce and AAD (index, final flag, part, object)", async () => {
    const params = { key: pattern(32, 16), prefix: pattern(8, 17), objectId: 'victim', partNumber: 3 }
    const at = (p: typeof params, index: number, final: boolean) => {
      const c = packageContext(p)
      c.at(index, final)
      return { nonce: c.nonce.slice(), aad: c.aad.slice() }
    }
    const [nk] = await keys(params.key)
    const here = at(params, 5, false)
    const sealed = await node.seal(nk, here.nonce, here.aad, pattern(1000, 18))
    expect((await node.open(nk, here.nonce, here.aad, sealed)).length).toBe(1000)
    for (const elsewhere of [
      at(params, 6, false), // reordered
      at(params, 5, true), // passed off as the last package (truncation)
      at({ ...params, partNumber: 4 }, 5, false), // moved to another part
      at({ ...params, objectId: 'victin' }, 5, false), // moved to another object
    ])
      await rejects(node, nk, elsewhere.nonce, elsewhere.aad, sealed)
  })

  it('refuses malformed keys and nonces before touching data', async () => {
    await expect(node.importKey(pattern(31))).rejects.toThrow(RangeError)
    await expect(node.importKey(pattern(33))).rejects.toThrow(RangeError)
    const nk = await node.importKey(pattern(32))
    expect(() => node.seal(nk, pattern(11), new Uint8Array(0), pattern(5))).toThrow(RangeError)
    expect(() => node.open(nk, pattern(16), new Uint8Array(0), pattern(40))).toThrow(RangeError)
  })

  it('seals a package given in pieces (split anywhere, empty pieces too) to the bytes seal gives', async () => {
    const [nk] = await keys(pattern(32, 21))
    const nonce = pattern(12, 22)
    const aad = pattern(20, 23)
    const join = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p)))
    for (const size of [0, 1, 15, 16, 17, 40, 1000]) {
      const plaintext = pattern(size, size + 1)
      const whole = Buffer.from(await node.seal(nk, nonce, aad, plaintext))
      const cutSets = [
        [],
        [0],
        [size],
        ...Array.from({ length: Math.min(size, 20) }, (_, i) => [i, size - i].sort((a, b) => a - b)),
      ]
      for (const cuts of cutSets) {
        const pieces = [0, ...cuts].map((from, i) => plaintext.subarray(from, i < cuts.length ? cuts[i] : size))
        const sealed = node.sealPieces!(nk, nonce, aad, pieces)
        expect(join(sealed).equals(whole)).toBe(true)
        for (const p of sealed) expect(p).not.toBeInstanceOf(Buffer)
      }
    }
  })

  it('package streams sealed with it are the same bytes as with WebCrypto, and decrypt with either', async () => {
    const size = 3 * PACKAGE_PAYLOAD + 4321
    const plain = pattern(size, 19)
    const viaNode = await encryptAll(plain, options({ objectId: 'cross', partNumber: 2 }, node))
    const viaWeb = await encryptAll(plain, options({ objectId: 'cross', partNumber: 2 }, web))
    expect(viaNode.length).toBe(cipherLength(size))
    expect(toHex(viaNode) === toHex(viaWeb)).toBe(true)
    const mid = [PACKAGE_PAYLOAD - 10, 2 * PACKAGE_PAYLOAD + 10] as const
    const back = await decryptSlice(viaWeb, size, ...mid, options({ objectId: 'cross', partNumber: 2 }, node))
    expect(toHex(back) === toHex(plain.subarray(...mid))).toBe(true)
  })
})
