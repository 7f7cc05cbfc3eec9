import { createCipheriv, createHash, createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { toHex, utf8 } from '../util/bytes.ts'
import {
  cipherLength,
  derivePackageKey,
  PACKAGE_PAYLOAD,
  PACKAGE_SIZE,
  packageContext,
  packageCount,
  plainLength,
} from './package-format.ts'
import { encryptAll, options } from './crypto.testkit.ts'

// FORMAT golden vectors: fixed key 00..1f, prefix a0..a7, object id "golden-object".
// If one of these changes, stored data became unreadable: bump FORMAT_VERSION instead.
const GOLDEN = {
  packageKeyPart0: '65edccd20ef9731c50d9d607c3c0256531baca668abc5b425e51b18992e6f111',
  packageKeyPart7: '6e43d41008b87c31890091658cf6b9eb5c0517fb4e2732090d8d192bab7a3ff2',
  hello: '5f55fc0152e83f2de49e7e3fd44f458faa30d1bbc4a2ff0b4430636348', // "hello, coffer", part 0
  empty: 'ad1ed188736c55f8e63d9935300c2efb', // empty plaintext, part 3
  big: {
    // 65537 bytes (i*31+7)&255, part 2: one full package and a final 1-byte package
    length: 65569,
    sha256: 'f6db9152b4df6515b8c4dcf6e754ce2c218e0c69665f00227ec427f73c1087b6',
    head: '03d48e3f14e840b6eba5be1963ea7ebc',
    tail: '6db76a45c122b8c5b34358d49a1085c23b',
  },
}

const bigPlain = () => Uint8Array.from({ length: 65537 }, (_, i) => (i * 31 + 7) & 0xff)

/** The spec of package-format.ts's header, rebuilt from node:crypto alone (no code under test). */
function reference(plain: Uint8Array, partNumber: number): Uint8Array {
  const o = options()
  const part = Buffer.alloc(4)
  part.writeUInt32BE(partNumber)
  const idLen = Buffer.alloc(2)
  idLen.writeUInt16BE(Buffer.byteLength(o.objectId))
  const pkgKey = createHmac('sha256', o.key)
    .update(Buffer.concat([Buffer.from('coffer/package-key/v1'), part, idLen, Buffer.from(o.objectId)]))
    .digest()
  const n = Math.max(1, Math.ceil(plain.length / PACKAGE_PAYLOAD))
  const out: Buffer[] = []
  for (let i = 0; i < n; i++) {
    const idx = Buffer.alloc(4)
    idx.writeUInt32BE(i)
    const id = Buffer.from(o.objectId)
    const len = Buffer.alloc(2)
    len.writeUInt16BE(id.length)
    const aad = Buffer.concat([Buffer.from([1, i === n - 1 ? 1 : 0]), part, idx, len, id])
    const c = createCipheriv('aes-256-gcm', pkgKey, Buffer.concat([o.prefix, idx]))
    c.setAAD(aad)
    out.push(c.update(plain.subarray(i * PACKAGE_PAYLOAD, (i + 1) * PACKAGE_PAYLOAD)), c.final(), c.getAuthTag())
  }
  return new Uint8Array(Buffer.concat(out))
}

describe('package format v1 golden vectors', () => {
  it('derives the per-part package key', async () => {
    const { key } = options()
    expect(toHex(await derivePackageKey(key, 0, 'golden-object'))).toBe(GOLDEN.packageKeyPart0)
    expect(toHex(await derivePackageKey(key, 7, 'golden-object'))).toBe(GOLDEN.packageKeyPart7)
  })

  it('derives the same key through a synchronous HMAC (Aead.hmacSha256) as through WebCrypto', async () => {
    const { key } = options()
    const hmac = (k: Uint8Array, d: Uint8Array) => new Uint8Array(createHmac('sha256', k).update(d).digest())
    expect(toHex(await derivePackageKey(key, 0, 'golden-object', hmac))).toBe(GOLDEN.packageKeyPart0)
    expect(toHex(await derivePackageKey(key, 7, 'golden-object', hmac))).toBe(GOLDEN.packageKeyPart7)
  })

  it('produces the recorded ciphertexts, and the spec rebuilt independently agrees', async () => {
    const hello = await encryptAll(utf8('hello, coffer'), options({ partNumber: 0 }))
    expect(toHex(hello)).toBe(GOLDEN.hello)
    expect(toHex(reference(utf8('hello, coffer'), 0))).toBe(GOLDEN.hello)

    const empty = await encryptAll(new Uint8Array(0), options({ partNumber: 3 }))
    expect(toHex(empty)).toBe(GOLDEN.empty)
    expect(toHex(reference(new Uint8Array(0), 3))).toBe(GOLDEN.empty)

    for (const c of [await encryptAll(bigPlain(), options({ partNumber: 2 })), reference(bigPlain(), 2)]) {
      expect(c.length).toBe(GOLDEN.big.length)
      expect(createHash('sha256').update(c).digest('hex')).toBe(GOLDEN.big.sha256)
      expect(toHex(c.subarray(0, 16))).toBe(GOLDEN.big.head)
      expect(toHex(c.subarray(c.length - 17))).toBe(GOLDEN.big.tail)
    }
  })

  it('lays out nonce and associated data as specified', () => {
    const ctx = packageContext(options({ partNumber: 0x01020304, objectId: 'ab' }))
    ctx.at(0x0a0b0c0d, true)
    expect(toHex(ctx.nonce)).toBe('a0a1a2a3a4a5a6a70a0b0c0d')
    expect(toHex(ctx.aad)).toBe('0101' + '01020304' + '0a0b0c0d' + '0002' + '6162')
    ctx.at(1, false)
    expect(toHex(ctx.aad.subarray(0, 2))).toBe('0100')
  })
})

describe('length arithmetic', () => {
  it('cipherLength is plain + 16 per package, at least one package', () => {
    const P = PACKAGE_PAYLOAD
    const cases: [number, number][] = [
      [0, 16],
      [1, 17],
      [P - 1, P + 15],
      [P, P + 16],
      [P + 1, P + 33],
      [3 * P + 5, 3 * P + 5 + 64],
    ]
    for (const [plain, cipher] of cases) {
      expect(cipherLength(plain)).toBe(cipher)
      expect(plainLength(cipher)).toBe(plain)
    }
    expect(packageCount(0)).toBe(1)
    expect(packageCount(5 * 1024 ** 4)).toBe((5 * 1024 ** 4) / P)
  })

  it('plainLength inverts cipherLength and rejects impossible lengths', () => {
    for (let plain = 0; plain < 3 * PACKAGE_SIZE; plain += 4099) expect(plainLength(cipherLength(plain))).toBe(plain)
    for (const bad of [0, 15, PACKAGE_SIZE + 1, PACKAGE_SIZE + 16, 2 * PACKAGE_SIZE + 7, -1, 1.5])
      expect(plainLength(bad)).toBeUndefined()
  })

  it('refuses malformed parameters before any work', () => {
    expect(() => packageContext(options({ key: new Uint8Array(16) }))).toThrow(RangeError)
    expect(() => packageContext(options({ prefix: new Uint8Array(12) }))).toThrow(RangeError)
    expect(() => packageContext(options({ objectId: '' }))).toThrow(RangeError)
    expect(() => packageContext(options({ partNumber: -1 }))).toThrow(RangeError)
    expect(() => cipherLength(-1)).toThrow(RangeError)
  })
})
