import { createDecipheriv, createHash, createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createNodeAead } from '../runtime/aead-node.ts'
import { createPlatform } from '../runtime/platform.ts'
import { toBase64 } from '../util/bytes.ts'
import {
  BlobKind,
  blobInfo,
  CustomerKeyError,
  checkCustomerKey,
  generateKey,
  KeyUnwrapError,
  masterKeyFingerprint,
  openUserSecret,
  resealUserSecret,
  rewrapKmsKey,
  rewrapNamespaceKey,
  rewrapObjectKey,
  unwrapKmsKey,
  unwrapKmsObjectKey,
  wrapKmsKey,
  wrapKmsObjectKey,
  sseCKeyFingerprint,
  unwrapNamespaceKey,
  unwrapObjectKey,
  sealUserSecret,
  unwrapSseCObjectKey,
  wrapNamespaceKey,
  wrapObjectKey,
  wrapSseCObjectKey,
} from './keys.ts'

const seq = (from: number) => Uint8Array.from({ length: 32 }, (_, i) => from + i)
const master = seq(0x40)
const nsKey = seq(0x80)
const objKey = seq(0xc0)

// FORMAT golden blobs (wrapped once, frozen): they must keep unwrapping forever.
const GOLDEN_NS_BLOB = 'AQEAAAAB9RnivvyNIRMEByNW4kxqL2npohY/kmqcMeMxGcVRpitSU0UqINAchB/v6GNUziIODvwe8GG5ym4+g2ZY'
const GOLDEN_OBJ_BLOB = 'AQIAAAAB0cCDViPIhPW5R7ZR2P+fqVf9Z8ySmChruDBmKdrhVB7fCwbLoXObqZOcyBlR6yh7qX8oCnkJAHPtzPjZ'
const GOLDEN_SECRET_BLOB =
  'AQQAAAAA41KpzGrZ2iqP3v5JRS8gd9jUq/NiEcMJI/C1vDRXS0WpWttRTVDBhSBO7+4AZ16EevTZ+24XZNFaUhURWVy2MVbj10M='
const EXAMPLE_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
const GOLDEN_MASTER_PRINT = 'b12859f5f4ea6e3cd60d6aa13b2c0435ea1e3c442358cfdb0915bea49e371cf8'

describe('key blobs v1', () => {
  it('golden blobs unwrap, and the layout in keys.ts decodes them with node:crypto alone', async () => {
    expect(await unwrapNamespaceKey(master, 'default', 1, GOLDEN_NS_BLOB)).toEqual(nsKey)
    expect(await unwrapObjectKey(nsKey, 'default', 'obj-1', GOLDEN_OBJ_BLOB)).toEqual(objKey)
    const b = Buffer.from(GOLDEN_NS_BLOB, 'base64')
    expect(b.length).toBe(66)
    const head = b.subarray(0, 6)
    const d = createDecipheriv('aes-256-gcm', master, b.subarray(6, 18))
    d.setAAD(
      Buffer.concat([
        head,
        Buffer.from('coffer/ns-key/v1'),
        Buffer.from([0, 7]),
        Buffer.from('default'),
        Buffer.from([0, 0, 0, 1]),
      ]),
    )
    d.setAuthTag(b.subarray(b.length - 16))
    expect(new Uint8Array(Buffer.concat([d.update(b.subarray(18, b.length - 16)), d.final()]))).toEqual(nsKey)
    expect(blobInfo(GOLDEN_OBJ_BLOB)).toEqual({ kind: BlobKind.ObjectKey, keyVersion: 1 })
  })

  it('round-trips with fresh random nonces (two wraps differ)', async () => {
    const k = await generateKey()
    expect(k.length).toBe(32)
    const a = await wrapNamespaceKey(master, 'tenant-a', 3, k)
    const b = await wrapNamespaceKey(master, 'tenant-a', 3, k)
    expect(a).not.toBe(b)
    expect(await unwrapNamespaceKey(master, 'tenant-a', 3, a)).toEqual(k)
    expect(blobInfo(a)).toEqual({ kind: BlobKind.NamespaceKey, keyVersion: 3 })
    const o = await wrapObjectKey(k, 'tenant-a', 'v-123', objKey, 3)
    expect(await unwrapObjectKey(k, 'tenant-a', 'v-123', o)).toEqual(objKey)
  })

  it('the wrong key, a swapped blob, another name/version/kind or a damaged blob → KeyUnwrapError', async () => {
    const wrongMaster = seq(0x41)
    const nsBlobB = await wrapNamespaceKey(master, 'other', 1, seq(1))
    const cases: (() => Promise<unknown>)[] = [
      () => unwrapNamespaceKey(wrongMaster, 'default', 1, GOLDEN_NS_BLOB),
      () => unwrapNamespaceKey(master, 'other', 1, GOLDEN_NS_BLOB), // blob of "default" presented for "other"
      () => unwrapNamespaceKey(master, 'default', 1, nsBlobB), // blob of "other" swapped into "default"
      () => unwrapNamespaceKey(master, 'default', 2, GOLDEN_NS_BLOB),
      () => unwrapObjectKey(nsKey, 'default', 'obj-2', GOLDEN_OBJ_BLOB),
      () => unwrapObjectKey(nsKey, 'other', 'obj-1', GOLDEN_OBJ_BLOB),
      () => unwrapObjectKey(seq(0x81), 'default', 'obj-1', GOLDEN_OBJ_BLOB),
      () => unwrapObjectKey(master, 'default', 'obj-1', GOLDEN_NS_BLOB), // kind mismatch
      () => unwrapNamespaceKey(master, 'default', 1, `${GOLDEN_NS_BLOB.slice(0, -4)}AAAA`),
      () => unwrapNamespaceKey(master, 'default', 1, 'not a blob'),
      () =>
        unwrapNamespaceKey(
          master,
          'default',
          1,
          toBase64(Buffer.from(GOLDEN_NS_BLOB, 'base64').map((x, i) => (i === 5 ? x ^ 1 : x))),
        ), // header (version) edited
    ]
    for (const c of cases) await expect(c()).rejects.toBeInstanceOf(KeyUnwrapError)
    await expect(unwrapNamespaceKey(wrongMaster, 'default', 1, GOLDEN_NS_BLOB)).rejects.toThrow(/wrong wrapping key/)
  })

  it('object keys wrapped and unwrapped through the node Aead port are the same blobs as through WebCrypto', async () => {
    const aead = createNodeAead()
    expect(await unwrapObjectKey(nsKey, 'default', 'obj-1', GOLDEN_OBJ_BLOB, aead)).toEqual(objKey)
    const viaAead = await wrapObjectKey(nsKey, 'tenant-a', 'v-9', objKey, 2, aead)
    expect(blobInfo(viaAead)).toEqual({ kind: BlobKind.ObjectKey, keyVersion: 2 })
    expect(await unwrapObjectKey(nsKey, 'tenant-a', 'v-9', viaAead)).toEqual(objKey) // WebCrypto opens it
    const viaWebCrypto = await wrapObjectKey(nsKey, 'tenant-a', 'v-9', objKey, 2)
    expect(await unwrapObjectKey(nsKey, 'tenant-a', 'v-9', viaWebCrypto, aead)).toEqual(objKey)
    for (const c of [
      () => unwrapObjectKey(seq(0x81), 'default', 'obj-1', GOLDEN_OBJ_BLOB, aead),
      () => unwrapObjectKey(nsKey, 'default', 'obj-2', GOLDEN_OBJ_BLOB, aead),
      () => unwrapObjectKey(nsKey, 'default', 'obj-1', `${GOLDEN_OBJ_BLOB.slice(0, -4)}AAAA`, aead),
    ])
      await expect(c()).rejects.toBeInstanceOf(KeyUnwrapError)
  })

  it('rejects keys that are not 32 bytes', async () => {
    await expect(wrapNamespaceKey(new Uint8Array(16), 'x', 1, nsKey)).rejects.toThrow(RangeError)
    await expect(wrapObjectKey(nsKey, 'x', 'o', new Uint8Array(31))).rejects.toThrow(RangeError)
  })
})

describe('rotation', () => {
  it('master rotation re-wraps namespace keys; namespace rotation re-wraps object keys; keys themselves unchanged', async () => {
    const newMaster = await generateKey()
    const nsBlob2 = await rewrapNamespaceKey(master, newMaster, 'default', 1, GOLDEN_NS_BLOB)
    expect(await unwrapNamespaceKey(newMaster, 'default', 1, nsBlob2)).toEqual(nsKey)
    await expect(unwrapNamespaceKey(master, 'default', 1, nsBlob2)).rejects.toBeInstanceOf(KeyUnwrapError)

    const nsKey2 = await generateKey()
    const objBlob2 = await rewrapObjectKey(nsKey, nsKey2, 'default', 'obj-1', GOLDEN_OBJ_BLOB, 2)
    expect(blobInfo(objBlob2).keyVersion).toBe(2)
    expect(await unwrapObjectKey(nsKey2, 'default', 'obj-1', objBlob2)).toEqual(objKey)
    await expect(unwrapObjectKey(nsKey, 'default', 'obj-1', objBlob2)).rejects.toBeInstanceOf(KeyUnwrapError)
    await expect(rewrapNamespaceKey(seq(9), newMaster, 'default', 1, GOLDEN_NS_BLOB)).rejects.toBeInstanceOf(
      KeyUnwrapError,
    )
  })
})

describe('fingerprints', () => {
  it('master fingerprint is HMAC-SHA256(master, label): stable, and differs for a wrong key', async () => {
    expect(await masterKeyFingerprint(master)).toBe(GOLDEN_MASTER_PRINT)
    expect(createHmac('sha256', master).update('coffer/master-key-fingerprint/v1').digest('hex')).toBe(
      GOLDEN_MASTER_PRINT,
    )
    expect(await masterKeyFingerprint(seq(0x41))).not.toBe(GOLDEN_MASTER_PRINT)
  })

  it('SSE-C fingerprint depends on the key and the object, never equals the key or its MD5', async () => {
    const f = await sseCKeyFingerprint(objKey, 'obj-1')
    expect(f).toMatch(/^[0-9a-f]{64}$/)
    expect(await sseCKeyFingerprint(objKey, 'obj-1')).toBe(f)
    expect(await sseCKeyFingerprint(objKey, 'obj-2')).not.toBe(f)
    expect(await sseCKeyFingerprint(seq(0xc1), 'obj-1')).not.toBe(f)
    expect(f).not.toContain(Buffer.from(objKey).toString('hex').slice(0, 16))
  })

  it('SSE-C object-key wrapping needs the customer key', async () => {
    const blob = await wrapSseCObjectKey(nsKey, 'default', 'obj-1', objKey)
    expect(await unwrapSseCObjectKey(nsKey, 'default', 'obj-1', blob)).toEqual(objKey)
    await expect(unwrapSseCObjectKey(seq(1), 'default', 'obj-1', blob)).rejects.toBeInstanceOf(KeyUnwrapError)
    await expect(unwrapObjectKey(nsKey, 'default', 'obj-1', blob)).rejects.toBeInstanceOf(KeyUnwrapError) // kind differs
  })
})

describe('checkCustomerKey', () => {
  const platform = createPlatform()
  const key = seq(7)
  const md5 = new Uint8Array(createHash('md5').update(key).digest())
  const problem = (k: Uint8Array, d: Uint8Array | undefined) => {
    try {
      checkCustomerKey(k, d, platform)
    } catch (e) {
      expect(e).toBeInstanceOf(CustomerKeyError)
      return (e as CustomerKeyError).problem
    }
    return 'accepted'
  }

  it('accepts a 32-byte key with its MD5', () => {
    expect(problem(key, md5)).toBe('accepted')
  })

  it('refuses a short or long key before looking at the digest, then a missing or wrong digest', () => {
    expect(problem(key.subarray(0, 16), md5)).toBe('length')
    expect(problem(new Uint8Array(33), undefined)).toBe('length')
    expect(problem(key, undefined)).toBe('digest-missing')
    expect(problem(key, new Uint8Array(createHash('md5').update('x').digest()))).toBe('digest-mismatch')
    expect(problem(key, md5.subarray(0, 8))).toBe('digest-mismatch')
    expect(problem(key, new Uint8Array())).toBe('digest-mismatch')
  })
})

describe('user secret blobs v1 (kind 4)', () => {
  it('the golden blob opens, and decodes with node:crypto alone by the layout in keys.ts', async () => {
    expect(await openUserSecret(master, 'AKIDEXAMPLE', GOLDEN_SECRET_BLOB)).toBe(EXAMPLE_SECRET)
    const b = Buffer.from(GOLDEN_SECRET_BLOB, 'base64')
    expect(b.length).toBe(6 + 12 + EXAMPLE_SECRET.length + 16)
    expect([...b.subarray(0, 6)]).toEqual([1, BlobKind.UserSecret, 0, 0, 0, 0])
    const d = createDecipheriv('aes-256-gcm', master, b.subarray(6, 18))
    d.setAAD(
      Buffer.concat([
        b.subarray(0, 6),
        Buffer.from('coffer/user-secret/v1'),
        Buffer.from([0, 11]),
        Buffer.from('AKIDEXAMPLE'),
      ]),
    )
    d.setAuthTag(b.subarray(b.length - 16))
    expect(Buffer.concat([d.update(b.subarray(18, b.length - 16)), d.final()]).toString()).toBe(EXAMPLE_SECRET)
  })

  it('round-trips; the blob never holds the secret; resealing under a new master works', async () => {
    const a = await sealUserSecret(master, 'AK1', 'a-secret-of-forty-characters-0123456789')
    expect(a).not.toBe(await sealUserSecret(master, 'AK1', 'a-secret-of-forty-characters-0123456789'))
    expect(Buffer.from(a, 'base64').includes(Buffer.from('a-secret'))).toBe(false)
    const next = seq(0x10)
    const b = await resealUserSecret(master, next, 'AK1', a)
    expect(await openUserSecret(next, 'AK1', b)).toBe('a-secret-of-forty-characters-0123456789')
    await expect(openUserSecret(master, 'AK1', b)).rejects.toThrow(KeyUnwrapError)
  })

  it('another access key, the wrong master, another kind or a damaged blob → KeyUnwrapError', async () => {
    const damaged = Buffer.from(GOLDEN_SECRET_BLOB, 'base64')
    damaged[20]! ^= 1
    const cases = [
      () => openUserSecret(master, 'AKIDOTHER', GOLDEN_SECRET_BLOB),
      () => openUserSecret(seq(0x41), 'AKIDEXAMPLE', GOLDEN_SECRET_BLOB),
      () => openUserSecret(master, 'AKIDEXAMPLE', GOLDEN_NS_BLOB),
      () => openUserSecret(master, 'AKIDEXAMPLE', damaged.toString('base64')),
      () => openUserSecret(master, 'AKIDEXAMPLE', 'AQQ='),
    ]
    for (const c of cases) await expect(c()).rejects.toThrow(KeyUnwrapError)
    await expect(sealUserSecret(master, 'AK', '')).rejects.toThrow(RangeError)
  })
})

describe('SSE-KMS blobs v1 (kinds 5 and 6)', () => {
  const kmsKey = seq(0x20)
  const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab'
  // FORMAT golden blobs: a KMS key under master, an object key under it with context {"a":"1"}.
  const GOLDEN_KMS_KEY = 'AQUAAAAAwP3RMQP7Oa/GXnq9GP+wDunFc/kYEVqNkjtYBruDby5jjyXWq5aSORPD3vUHxFsh322PIT7j3+qBt0l6'
  const GOLDEN_KMS_OBJ = 'AQYAAAAA2tFLCfFqjAO2i/YJTiU+nXOPzjS+SFJ6AnDNoeHFYKIhu9hAkvcESRxmqVBJIbWhobnTKL6MgDg9JLUQ'

  it('the golden blobs unwrap', async () => {
    expect(await unwrapKmsKey(master, 'default', KEY_ID, GOLDEN_KMS_KEY)).toEqual(kmsKey)
    expect(await unwrapKmsObjectKey(kmsKey, 'default', 'obj-1', KEY_ID, '{"a":"1"}', GOLDEN_KMS_OBJ)).toEqual(objKey)
    expect(blobInfo(GOLDEN_KMS_OBJ).kind).toBe(BlobKind.KmsObjectKey)
  })

  it('an object key is bound to its namespace, object, KMS key id and context: none can be swapped', async () => {
    const wrong = [
      () => unwrapKmsObjectKey(kmsKey, 'other', 'obj-1', KEY_ID, '{"a":"1"}', GOLDEN_KMS_OBJ),
      () => unwrapKmsObjectKey(kmsKey, 'default', 'obj-2', KEY_ID, '{"a":"1"}', GOLDEN_KMS_OBJ),
      () => unwrapKmsObjectKey(kmsKey, 'default', 'obj-1', KEY_ID.replace('1234', '4321'), '{"a":"1"}', GOLDEN_KMS_OBJ),
      () => unwrapKmsObjectKey(kmsKey, 'default', 'obj-1', KEY_ID, '{"a":"2"}', GOLDEN_KMS_OBJ),
      () => unwrapKmsObjectKey(kmsKey, 'default', 'obj-1', KEY_ID, '{}', GOLDEN_KMS_OBJ),
      () => unwrapKmsObjectKey(seq(0x21), 'default', 'obj-1', KEY_ID, '{"a":"1"}', GOLDEN_KMS_OBJ),
      () => unwrapKmsKey(master, 'other', KEY_ID, GOLDEN_KMS_KEY),
      // A KMS-key blob is no namespace key, and the other way round.
      () => unwrapNamespaceKey(master, 'default', 0, GOLDEN_KMS_KEY),
      () => unwrapKmsKey(master, 'default', KEY_ID, GOLDEN_NS_BLOB),
    ]
    for (const p of wrong) await expect(p()).rejects.toBeInstanceOf(KeyUnwrapError)
  })

  it('master rotation re-wraps the KMS key; the object keys under it are untouched', async () => {
    const next = await generateKey()
    const blob = await rewrapKmsKey(master, next, 'default', KEY_ID, GOLDEN_KMS_KEY)
    expect(await unwrapKmsKey(next, 'default', KEY_ID, blob)).toEqual(kmsKey)
    await expect(unwrapKmsKey(master, 'default', KEY_ID, blob)).rejects.toBeInstanceOf(KeyUnwrapError)
    const fresh = await wrapKmsObjectKey(kmsKey, 'ns', 'o', KEY_ID, '{}', objKey)
    expect(await unwrapKmsObjectKey(kmsKey, 'ns', 'o', KEY_ID, '{}', fresh)).toEqual(objKey)
    expect(await wrapKmsKey(next, 'ns', KEY_ID, kmsKey)).not.toBe(await wrapKmsKey(next, 'ns', KEY_ID, kmsKey))
  })
})
