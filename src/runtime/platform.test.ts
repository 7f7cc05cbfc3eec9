import { describe, expect, it } from 'vitest'
import { createHash, createHmac } from 'node:crypto'
import { createPlatform, nativeCrc32 } from './platform.ts'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const enc = (s: string) => new TextEncoder().encode(s)

describe('node platform', () => {
  const p = createPlatform()

  it.each(['md5', 'sha1', 'sha256'] as const)('%s hashes incrementally like one-shot node:crypto', (alg) => {
    const h = p.createHasher(alg)
    h.update(enc('hello '))
    h.update(enc('world'))
    const d = h.digest()
    expect(Object.getPrototypeOf(d)).toBe(Uint8Array.prototype)
    expect(hex(d)).toBe(createHash(alg).update('hello world').digest('hex'))
  })

  it('hmacSha256 accepts string and byte keys', () => {
    const want = createHmac('sha256', 'key').update('data').digest('hex')
    expect(hex(p.hmacSha256('key', 'data'))).toBe(want)
    expect(hex(p.hmacSha256(enc('key'), enc('data')))).toBe(want)
  })

  it('crc32 is present exactly when zlib has a correct one, and chains', () => {
    expect(typeof p.crc32 === 'function').toBe(nativeCrc32() !== undefined)
    if (!p.crc32) return
    expect(p.crc32(enc('123456789'), 0)).toBe(0xcbf43926)
    expect(p.crc32(enc('6789'), p.crc32(enc('12345'), 0))).toBe(0xcbf43926)
  })

  it('nativeCrc32: false leaves crc32 out', () => {
    expect(createPlatform({ nativeCrc32: false }).crc32).toBeUndefined()
  })
})
