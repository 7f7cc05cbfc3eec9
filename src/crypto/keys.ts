/**
 * The D@RE key hierarchy (docs/architecture.md §5): key generation, wrapping, rotation,
 * fingerprints and the check of customer keys (SSE-C). Pure; uses WebCrypto (webcrypto.ts), util
 * bytes and the Platform's MD5.
 *
 * Scheme (FORMAT, version 1):
 *
 *   master        = 32 bytes from the key file (or the operator); never stored beside data
 *   fingerprint   = hex(HMAC-SHA256(master, "coffer/master-key-fingerprint/v1"))   → metadata;
 *                   compared at start so a wrong master key is refused before any data is read
 *
 *   nsKey         = random(32)                      per namespace, version v = 1, 2, … (rotation)
 *   nsBlob        = wrap(master, kind=1, v,   "coffer/ns-key/v1"     ‖ lp(ns) ‖ u32be(v),  nsKey)
 *   objKey        = random(32)                      per object version (or per multipart upload)
 *   objBlob       = wrap(nsKey,  kind=2, v,   "coffer/object-key/v1" ‖ lp(ns) ‖ lp(objectId), objKey)
 *   sseCBlob      = wrap(custKey, kind=3, 0,  "coffer/sse-c-object-key/v1" ‖ lp(ns) ‖ lp(objectId), objKey)
 *   sseCPrint     = hex(HMAC-SHA256(custKey, "coffer/sse-c-fingerprint/v1" ‖ lp(objectId)))
 *   packageKey    = HMAC-SHA256(objKey, label ‖ part ‖ objectId)  → package-format.ts (one per part)
 *   secretBlob    = seal(master, kind=4, 0,   "coffer/user-secret/v1" ‖ lp(accessKeyId), utf8(secret))
 *                   a user's S3 secret key at rest (SigV4 needs the secret itself: no hash will do)
 *   kmsKey        = random(32)                      per SSE-KMS key (service-managed key material)
 *   kmsBlob       = wrap(master, kind=5, 0,   "coffer/kms-key/v1" ‖ lp(ns) ‖ lp(keyId), kmsKey)
 *   kmsObjBlob    = wrap(kmsKey, kind=6, 0,   "coffer/kms-object-key/v1" ‖ lp(ns) ‖ lp(objectId)
 *                                             ‖ lp(keyId) ‖ lp(context), objKey)
 *                   context = the canonical JSON of the request's encryption context ('{}' when none):
 *                   an object's context cannot be swapped, nor its key moved to another KMS key
 *
 *   wrap(kek, kind, v, label, key):
 *     header = u8(1) ‖ u8(kind) ‖ u32be(v)                                          6 bytes
 *     nonce  = random(12)
 *     blob   = base64(header ‖ nonce ‖ AES-256-GCM(kek, nonce, header ‖ label, key) ‖ tag)  66 bytes
 *   seal(kek, kind, v, label, bytes): as wrap, for a payload of any length (1..1024 bytes)
 *     blob   = base64(header ‖ nonce ‖ AES-256-GCM(kek, nonce, header ‖ label, bytes) ‖ tag)   34 + len bytes
 *   lp(s)  = u16be(len(utf8(s))) ‖ utf8(s)          (length-prefixed: no field can fake another)
 *
 *   rotate master:   nsBlob'  = wrap(master', …, unwrap(master, nsBlob))    data untouched
 *                    secretBlob' = seal(master', …, open(master, secretBlob))
 *   rotate ns key:   objBlob' = wrap(nsKey',  …, unwrap(nsKey, objBlob))   data untouched
 *   delete ns:       forget nsBlob → every objKey under it is unrecoverable (crypto-erase)
 *   rotate master:   kmsBlob' = wrap(master', …, unwrap(master, kmsBlob)) too
 *   delete KMS key:  forget kmsBlob → every objKey under that KMS key is unrecoverable
 */
import { concatBytes, fromBase64, toBase64, toHex, utf8 } from '../util/bytes.ts'
import type { Platform } from '../util/platform.ts'
import type { Aead } from './aead.ts'
import { getWebCrypto, hmacSha256, randomBytes } from './webcrypto.ts'

// FORMAT: DO NOT CHANGE; a new value is a new BLOB_VERSION with its own golden test.
export const KEY_BYTES = 32
export const BLOB_VERSION = 1
export const BLOB_NONCE_BYTES = 12
export const BLOB_HEADER_BYTES = 6
export const BLOB_BYTES = BLOB_HEADER_BYTES + BLOB_NONCE_BYTES + KEY_BYTES + 16
export const BlobKind = {
  NamespaceKey: 1,
  ObjectKey: 2,
  SseCObjectKey: 3,
  UserSecret: 4,
  KmsKey: 5,
  KmsObjectKey: 6,
} as const
export type BlobKind = (typeof BlobKind)[keyof typeof BlobKind]
const LABEL_NS = 'coffer/ns-key/v1'
const LABEL_OBJECT = 'coffer/object-key/v1'
const LABEL_SSE_C_OBJECT = 'coffer/sse-c-object-key/v1'
const LABEL_MASTER_PRINT = 'coffer/master-key-fingerprint/v1'
const LABEL_SSE_C_PRINT = 'coffer/sse-c-fingerprint/v1'
const LABEL_USER_SECRET = 'coffer/user-secret/v1'
const LABEL_KMS_KEY = 'coffer/kms-key/v1'
const LABEL_KMS_OBJECT = 'coffer/kms-object-key/v1'
/** Longest payload seal() takes: far above any S3 secret (the CLI allows 128 characters). */
export const MAX_SEALED_BYTES = 1024
// FORMAT: end of fenced constants.

/** A wrapped key could not be opened: wrong wrapping key, a blob moved elsewhere, or a damaged blob. */
export class KeyUnwrapError extends Error {
  override readonly name = 'KeyUnwrapError'
}

/** A fresh random 256-bit key (master, namespace or object key). */
export const generateKey = (): Promise<Uint8Array> => randomBytes(KEY_BYTES)

/** Accepts only a 32-byte key; used on every key argument so a short key never reaches AES. */
export function checkKey(key: Uint8Array, what = 'key'): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES)
    throw new RangeError(`${what} must be ${KEY_BYTES} bytes`)
}

function lp(s: string): Uint8Array {
  const b = utf8(s)
  if (b.length > 0xffff) throw new RangeError('name too long for a key label')
  return concatBytes([new Uint8Array([b.length >> 8, b.length & 0xff]), b])
}

const u32 = (n: number): Uint8Array => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`key version must be a u32, got ${n}`)
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n)
  return b
}

const header = (kind: BlobKind, version: number): Uint8Array =>
  concatBytes([new Uint8Array([BLOB_VERSION, kind]), u32(version)])

async function aesKey(raw: Uint8Array): Promise<CryptoKey> {
  const wc = await getWebCrypto()
  return wc.subtle.importKey('raw', raw as BufferSource, 'AES-GCM', false, ['encrypt', 'decrypt'])
}

/**
 * AES-256-GCM of one blob (ciphertext ‖ 16-byte tag, as WebCrypto lays it out). With `aead` (the
 * runtime's synchronous node:crypto port) instead of WebCrypto: per GET and PUT of an encrypted
 * object the WebCrypto importKey + promise-job round trip was about a tenth of the request thread
 * (docs/architecture.md §8). Both give the same bytes (keys.test.ts checks them against each other).
 */
async function gcm(
  op: 'seal' | 'open',
  kek: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  input: Uint8Array,
  aead?: Aead,
): Promise<Uint8Array> {
  if (aead) {
    const key = await aead.importKey(kek)
    return op === 'seal' ? aead.seal(key, nonce, aad, input) : aead.open(key, nonce, aad, input)
  }
  const wc = await getWebCrypto()
  const params = { name: 'AES-GCM', iv: nonce as BufferSource, additionalData: aad as BufferSource }
  const out =
    op === 'seal'
      ? await wc.subtle.encrypt(params, await aesKey(kek), input as BufferSource)
      : await wc.subtle.decrypt(params, await aesKey(kek), input as BufferSource)
  return new Uint8Array(out)
}

async function wrap(
  kek: Uint8Array,
  kind: BlobKind,
  version: number,
  label: Uint8Array,
  key: Uint8Array,
  aead?: Aead,
): Promise<string> {
  checkKey(key, 'wrapped key')
  return seal(kek, kind, version, label, key, aead)
}

/** wrap() for a payload of any length up to MAX_SEALED_BYTES (the same layout, a longer body). */
async function seal(
  kek: Uint8Array,
  kind: BlobKind,
  version: number,
  label: Uint8Array,
  key: Uint8Array,
  aead?: Aead,
): Promise<string> {
  checkKey(kek, 'wrapping key')
  if (key.length < 1 || key.length > MAX_SEALED_BYTES)
    throw new RangeError(`a sealed payload is 1..${MAX_SEALED_BYTES} bytes`)
  const head = header(kind, version)
  const nonce = await randomBytes(BLOB_NONCE_BYTES)
  const aad = concatBytes([head, label])
  const sealed = await gcm('seal', kek, nonce, aad, key, aead)
  return toBase64(concatBytes([head, nonce, sealed]))
}

/** The header of a blob, unauthenticated (authentication happens in unwrap). */
export function blobInfo(blob: string): { kind: BlobKind; keyVersion: number } {
  const b = fromBase64(blob)
  if (!b || b.length !== BLOB_BYTES || b[0] !== BLOB_VERSION)
    throw new KeyUnwrapError('wrapped key blob is malformed or of an unknown version')
  return { kind: b[1] as BlobKind, keyVersion: new DataView(b.buffer, b.byteOffset).getUint32(2) }
}

async function unwrap(
  kek: Uint8Array,
  kind: BlobKind,
  label: Uint8Array,
  blob: string,
  what: string,
  aead?: Aead,
): Promise<{ key: Uint8Array; keyVersion: number }> {
  return open(kek, kind, label, blob, what, blobInfo(blob), aead)
}

/** The header of a sealed blob of any length (unauthenticated, as blobInfo). */
function sealedInfo(blob: string): { kind: BlobKind; keyVersion: number } {
  const b = fromBase64(blob)
  const min = BLOB_HEADER_BYTES + BLOB_NONCE_BYTES + 1 + 16
  if (!b || b.length < min || b.length > min - 1 + MAX_SEALED_BYTES || b[0] !== BLOB_VERSION)
    throw new KeyUnwrapError('sealed blob is malformed or of an unknown version')
  return { kind: b[1] as BlobKind, keyVersion: new DataView(b.buffer, b.byteOffset).getUint32(2) }
}

async function open(
  kek: Uint8Array,
  kind: BlobKind,
  label: Uint8Array,
  blob: string,
  what: string,
  info: { kind: BlobKind; keyVersion: number },
  aead?: Aead,
): Promise<{ key: Uint8Array; keyVersion: number }> {
  checkKey(kek, 'unwrapping key')
  if (info.kind !== kind)
    throw new KeyUnwrapError(`${what}: the blob holds another kind of key (${info.kind}, expected ${kind})`)
  const b = fromBase64(blob)!
  const head = b.subarray(0, BLOB_HEADER_BYTES)
  const nonce = b.subarray(BLOB_HEADER_BYTES, BLOB_HEADER_BYTES + BLOB_NONCE_BYTES)
  try {
    const aad = concatBytes([head, label])
    const key = await gcm('open', kek, nonce, aad, b.subarray(BLOB_HEADER_BYTES + BLOB_NONCE_BYTES), aead)
    return { key, keyVersion: info.keyVersion }
  } catch {
    throw new KeyUnwrapError(
      `${what}: cannot unwrap — wrong wrapping key, or the blob belongs to another namespace, object or version`,
    )
  }
}

const nsLabel = (ns: string, version: number) => concatBytes([utf8(LABEL_NS), lp(ns), u32(version)])
const objLabel = (base: string, ns: string, objectId: string) => concatBytes([utf8(base), lp(ns), lp(objectId)])

/** Wraps namespace key `nsKey` (version `version`, from 1) under the master key. */
export const wrapNamespaceKey = (master: Uint8Array, ns: string, version: number, nsKey: Uint8Array): Promise<string> =>
  wrap(master, BlobKind.NamespaceKey, version, nsLabel(ns, version), nsKey)

/** Throws KeyUnwrapError on the wrong master key or a blob of another namespace or version. */
export async function unwrapNamespaceKey(
  master: Uint8Array,
  ns: string,
  version: number,
  blob: string,
): Promise<Uint8Array> {
  return (
    await unwrap(
      master,
      BlobKind.NamespaceKey,
      nsLabel(ns, version),
      blob,
      `namespace key of ${JSON.stringify(ns)} v${version}`,
    )
  ).key
}

/**
 * Wraps an object key under namespace key version `nsKeyVersion` (recorded, authenticated, in the
 * blob so a reader knows which namespace key opens it while a rotation is half done).
 */
export const wrapObjectKey = (
  nsKey: Uint8Array,
  ns: string,
  objectId: string,
  objKey: Uint8Array,
  nsKeyVersion = 1,
  aead?: Aead,
): Promise<string> => wrap(nsKey, BlobKind.ObjectKey, nsKeyVersion, objLabel(LABEL_OBJECT, ns, objectId), objKey, aead)

/**
 * Throws KeyUnwrapError on the wrong namespace key or a blob of another namespace or object.
 * `aead`: decrypt with that port instead of WebCrypto (same blob; the request path passes one).
 */
export async function unwrapObjectKey(
  nsKey: Uint8Array,
  ns: string,
  objectId: string,
  blob: string,
  aead?: Aead,
): Promise<Uint8Array> {
  return (
    await unwrap(
      nsKey,
      BlobKind.ObjectKey,
      objLabel(LABEL_OBJECT, ns, objectId),
      blob,
      `object key of ${JSON.stringify(objectId)}`,
      aead,
    )
  ).key
}

/** SSE-C: the object key wrapped by the customer's key instead of the namespace key. */
export const wrapSseCObjectKey = (
  customerKey: Uint8Array,
  ns: string,
  objectId: string,
  objKey: Uint8Array,
): Promise<string> => wrap(customerKey, BlobKind.SseCObjectKey, 0, objLabel(LABEL_SSE_C_OBJECT, ns, objectId), objKey)

export async function unwrapSseCObjectKey(
  customerKey: Uint8Array,
  ns: string,
  objectId: string,
  blob: string,
): Promise<Uint8Array> {
  return (
    await unwrap(
      customerKey,
      BlobKind.SseCObjectKey,
      objLabel(LABEL_SSE_C_OBJECT, ns, objectId),
      blob,
      `SSE-C object key of ${JSON.stringify(objectId)}`,
    )
  ).key
}

const secretLabel = (accessKeyId: string) => concatBytes([utf8(LABEL_USER_SECRET), lp(accessKeyId)])

/** A user's secret access key sealed by the master key, bound to its access key id. */
export const sealUserSecret = (master: Uint8Array, accessKeyId: string, secret: string): Promise<string> =>
  seal(master, BlobKind.UserSecret, 0, secretLabel(accessKeyId), utf8(secret))

/** Throws KeyUnwrapError on the wrong master key or a blob of another access key. */
export async function openUserSecret(master: Uint8Array, accessKeyId: string, blob: string): Promise<string> {
  const what = `secret of access key ${JSON.stringify(accessKeyId)}`
  const { key } = await open(master, BlobKind.UserSecret, secretLabel(accessKeyId), blob, what, sealedInfo(blob))
  return new TextDecoder().decode(key)
}

/** Master-key rotation step for one user: same secret, new sealing. */
export async function resealUserSecret(
  oldMaster: Uint8Array,
  newMaster: Uint8Array,
  accessKeyId: string,
  blob: string,
): Promise<string> {
  return sealUserSecret(newMaster, accessKeyId, await openUserSecret(oldMaster, accessKeyId, blob))
}

/** Master-key rotation step for one namespace: same namespace key, new wrapping. */
export async function rewrapNamespaceKey(
  oldMaster: Uint8Array,
  newMaster: Uint8Array,
  ns: string,
  version: number,
  blob: string,
): Promise<string> {
  return wrapNamespaceKey(newMaster, ns, version, await unwrapNamespaceKey(oldMaster, ns, version, blob))
}

/** Namespace-key rotation step for one object: same object key (data untouched), new wrapping. */
export async function rewrapObjectKey(
  oldNsKey: Uint8Array,
  newNsKey: Uint8Array,
  ns: string,
  objectId: string,
  blob: string,
  newNsKeyVersion: number,
): Promise<string> {
  return wrapObjectKey(newNsKey, ns, objectId, await unwrapObjectKey(oldNsKey, ns, objectId, blob), newNsKeyVersion)
}

const kmsLabel = (ns: string, keyId: string) => concatBytes([utf8(LABEL_KMS_KEY), lp(ns), lp(keyId)])
const kmsObjLabel = (ns: string, objectId: string, keyId: string, context: string) =>
  concatBytes([utf8(LABEL_KMS_OBJECT), lp(ns), lp(objectId), lp(keyId), lp(context)])

/** SSE-KMS: key material of KMS key `keyId` of namespace `ns`, wrapped by the master key. */
export const wrapKmsKey = (master: Uint8Array, ns: string, keyId: string, kmsKey: Uint8Array): Promise<string> =>
  wrap(master, BlobKind.KmsKey, 0, kmsLabel(ns, keyId), kmsKey)

/** Throws KeyUnwrapError on the wrong master key or a blob of another namespace or key id. */
export async function unwrapKmsKey(master: Uint8Array, ns: string, keyId: string, blob: string): Promise<Uint8Array> {
  return (await unwrap(master, BlobKind.KmsKey, kmsLabel(ns, keyId), blob, `KMS key ${JSON.stringify(keyId)}`)).key
}

/** Master-key rotation step for one KMS key: same key material, new wrapping. */
export async function rewrapKmsKey(
  oldMaster: Uint8Array,
  newMaster: Uint8Array,
  ns: string,
  keyId: string,
  blob: string,
): Promise<string> {
  return wrapKmsKey(newMaster, ns, keyId, await unwrapKmsKey(oldMaster, ns, keyId, blob))
}

/**
 * SSE-KMS: an object key wrapped by a KMS key, bound to the object, the KMS key id and the
 * object's encryption context (canonical JSON), so none of them can be swapped.
 */
export const wrapKmsObjectKey = (
  kmsKey: Uint8Array,
  ns: string,
  objectId: string,
  keyId: string,
  context: string,
  objKey: Uint8Array,
): Promise<string> => wrap(kmsKey, BlobKind.KmsObjectKey, 0, kmsObjLabel(ns, objectId, keyId, context), objKey)

export async function unwrapKmsObjectKey(
  kmsKey: Uint8Array,
  ns: string,
  objectId: string,
  keyId: string,
  context: string,
  blob: string,
): Promise<Uint8Array> {
  return (
    await unwrap(
      kmsKey,
      BlobKind.KmsObjectKey,
      kmsObjLabel(ns, objectId, keyId, context),
      blob,
      `SSE-KMS object key of ${JSON.stringify(objectId)}`,
    )
  ).key
}

/** A public, non-reversible identifier of the master key: store it, compare it at start. */
export async function masterKeyFingerprint(master: Uint8Array): Promise<string> {
  checkKey(master, 'master key')
  return toHex(await hmacSha256(master, utf8(LABEL_MASTER_PRINT)))
}

/** Fingerprint of an SSE-C customer key for one object: lets HEAD/GET check the key without data. */
export async function sseCKeyFingerprint(customerKey: Uint8Array, objectId: string): Promise<string> {
  checkKey(customerKey, 'SSE-C key')
  return toHex(await hmacSha256(customerKey, concatBytes([utf8(LABEL_SSE_C_PRINT), lp(objectId)])))
}

/** Compares two fingerprints in constant time. */
export function fingerprintsEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0)
  return diff === 0
}

// --- customer keys (SSE-C) ------------------------------------------------------------------

/** Why a customer-supplied key was refused (see checkCustomerKey). */
export type CustomerKeyProblem = 'length' | 'digest-missing' | 'digest-mismatch'

/** A customer-supplied key that must not be used; `problem` says why. */
export class CustomerKeyError extends Error {
  override readonly name = 'CustomerKeyError'
  constructor(
    readonly problem: CustomerKeyProblem,
    message: string,
  ) {
    super(message)
  }
}

/**
 * A key sent by a customer is used only if it is a 256-bit key and arrives with the MD5 digest
 * its sender computed, which must match (compared in constant time): a key damaged on the way
 * would otherwise encrypt data that its owner can never read again.
 */
export function checkCustomerKey(
  key: Uint8Array,
  md5: Uint8Array | undefined,
  platform: Pick<Platform, 'createHasher'>,
): void {
  if (key.length !== KEY_BYTES) throw new CustomerKeyError('length', `a customer key must be ${KEY_BYTES} bytes`)
  if (md5 === undefined) throw new CustomerKeyError('digest-missing', 'a customer key must come with its MD5 digest')
  const hasher = platform.createHasher('md5')
  hasher.update(key)
  if (!fingerprintsEqual(toHex(hasher.digest()), toHex(md5)))
    throw new CustomerKeyError('digest-mismatch', 'the MD5 digest sent does not match the customer key')
}
