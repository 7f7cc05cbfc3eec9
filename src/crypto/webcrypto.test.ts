import { afterEach, describe, expect, it, vi } from 'vitest'
import { createWebCryptoAead } from './aead.ts'
import { pattern } from './crypto.testkit.ts'

afterEach(() => {
  vi.unstubAllGlobals()
  vi.resetModules()
})

describe('getWebCrypto choice point', () => {
  it('uses the runtime WebCrypto when it has subtle', async () => {
    const { getWebCrypto } = await import('./webcrypto.ts')
    expect(await getWebCrypto()).toBe(globalThis.crypto)
  })

  it('falls back to @peculiar/webcrypto when the runtime has none, and the AEAD still interoperates', async () => {
    const native = createWebCryptoAead()
    const nativeKey = await native.importKey(pattern(32, 5))
    const nonce = pattern(12, 6)
    const aad = pattern(20, 7)
    const plain = pattern(70_000, 8)
    const sealed = await native.seal(nativeKey, nonce, aad, plain)

    vi.stubGlobal('crypto', undefined)
    vi.resetModules()
    const wc = await import('./webcrypto.ts')
    const { createWebCryptoAead: fresh } = await import('./aead.ts')
    const picked = await wc.getWebCrypto()
    expect(picked).not.toBe(undefined)
    expect(picked.constructor.name).toBe('Crypto')
    expect(typeof picked.subtle.encrypt).toBe('function')
    const poly = fresh()
    const polyKey = await poly.importKey(pattern(32, 5))
    expect(await poly.seal(polyKey, nonce, aad, plain)).toEqual(sealed)
    expect(await poly.open(polyKey, nonce, aad, sealed)).toEqual(plain)
    expect((await wc.randomBytes(100_000)).length).toBe(100_000)
  })
})
