/**
 * Raw AES-256-GCM seal/open of one buffer, via node:crypto and via crypto.subtle: the baselines
 * the D@RE package figures are compared with. Also run alone (aes-child.ts) under other malloc settings.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomFillSync, webcrypto } from 'node:crypto'

export interface RawAes {
  sealNode: () => void
  openNode: () => void
  sealSubtle: () => Promise<unknown>
  openSubtle: () => Promise<unknown>
}

export async function rawAes(size: number): Promise<RawAes> {
  const keyBytes = randomFillSync(new Uint8Array(32))
  const key = createSecretKey(keyBytes)
  const iv = randomFillSync(new Uint8Array(12))
  const aad = new Uint8Array(32)
  const plain = randomFillSync(new Uint8Array(size))
  const sealNode = () => {
    const c = createCipheriv('aes-256-gcm', key, iv)
    c.setAAD(aad)
    const body = c.update(plain)
    c.final()
    return { body, tag: c.getAuthTag() }
  }
  const sealed = sealNode()
  const subtleKey = await webcrypto.subtle.importKey('raw', keyBytes, { name: 'AES-GCM' }, false, [
    'encrypt',
    'decrypt',
  ])
  const params = { name: 'AES-GCM', iv, additionalData: aad, tagLength: 128 }
  const subtleSealed = await webcrypto.subtle.encrypt(params, subtleKey, plain)
  return {
    sealNode: () => void sealNode(),
    openNode: () => {
      const d = createDecipheriv('aes-256-gcm', key, iv)
      d.setAAD(aad)
      d.setAuthTag(sealed.tag)
      d.update(sealed.body)
      d.final()
    },
    sealSubtle: () => webcrypto.subtle.encrypt(params, subtleKey, plain),
    openSubtle: () => webcrypto.subtle.decrypt(params, subtleKey, subtleSealed),
  }
}
