/**
 * FORMAT: the D@RE package format (docs/architecture.md §2.3, after minio/sio DARE): constants, the per-part
 * package key, nonces, associated data and length arithmetic. Pure; uses util bytes and WebCrypto.
 *
 * Spec (version 1). Inputs: objectKey (32 random bytes), prefix (8 random bytes per write),
 * objectId (UTF-8, ≤ 1024 bytes), partNumber (u32; 0 for a single PUT).
 *
 *   packageKey   = HMAC-SHA256(objectKey, "coffer/package-key/v1" ‖ u32be(partNumber)
 *                               ‖ u16be(len(objectId)) ‖ objectId)
 *   plaintext    → packages of PACKAGE_PAYLOAD bytes; the last one may be shorter (or empty:
 *                  an empty plaintext is one empty final package, so a cut to zero is caught)
 *   nonce(i)     = prefix ‖ u32be(i)                                   (12 bytes)
 *   aad(i)       = u8(FORMAT_VERSION) ‖ u8(final ? 1 : 0) ‖ u32be(partNumber) ‖ u32be(i)
 *                  ‖ u16be(len(objectId)) ‖ objectId                  (12 + len bytes)
 *   package(i)   = AES-256-GCM(packageKey, nonce(i), aad(i), payload(i)) ‖ tag(16)
 *   ciphertext   = package(0) ‖ package(1) ‖ … ‖ package(n-1)   (no headers: all is derivable)
 *
 * So ciphertext length = plain + 16 × max(1, ceil(plain / 65536)), and package i starts at
 * i × 65552. Reordering breaks nonce/aad(i), swapping objects or parts breaks aad (and the key),
 * dropping trailing packages leaves no package whose aad carries the final flag.
 */
import { concatBytes, utf8 } from '../util/bytes.ts'
import { hmacSha256, randomBytes } from './webcrypto.ts'

// FORMAT: DO NOT CHANGE these values; a new value is a new FORMAT_VERSION with its own golden test.
export const FORMAT_VERSION = 1
export const PACKAGE_PAYLOAD = 64 * 1024
export const PACKAGE_TAG = 16
export const PACKAGE_SIZE = PACKAGE_PAYLOAD + PACKAGE_TAG
export const PREFIX_BYTES = 8
export const OBJECT_KEY_BYTES = 32
export const MAX_OBJECT_ID_BYTES = 1024
/** The counter is 32 bits: 2^32 packages × 64 KiB = 256 TiB per part, far above S3's 5 TiB object. */
export const MAX_PACKAGES = 2 ** 32
const PACKAGE_KEY_LABEL = 'coffer/package-key/v1'
const FINAL_FLAG = 1
// FORMAT: end of fenced constants.

/** What binds a ciphertext to its place: the object key, the write's prefix, the object id and part. */
export interface PackageParams {
  /** The 32-byte object key (unwrapped), not the derived package key. */
  key: Uint8Array
  /** 8 random bytes chosen per write (per PUT or per UploadPart), stored beside the layout. */
  prefix: Uint8Array
  /** The id the key is bound to (object version id, or the upload id for multipart). */
  objectId: string
  /** 0 for a single PUT, 1..10000 for a multipart part. */
  partNumber: number
}

/** A fresh random nonce prefix: draw one per write (each PutObject, each UploadPart). */
export const generatePrefix = (): Promise<Uint8Array> => randomBytes(PREFIX_BYTES)

/** Number of packages for a plaintext of `plainLength` bytes (at least 1). */
export function packageCount(plainLength: number): number {
  checkLength(plainLength)
  return Math.max(1, Math.ceil(plainLength / PACKAGE_PAYLOAD))
}

/** Ciphertext length: a pure function of the plaintext length. */
export function cipherLength(plainLength: number): number {
  return plainLength + PACKAGE_TAG * packageCount(plainLength)
}

/** The inverse of cipherLength; undefined when no plaintext length produces `cipher` bytes. */
export function plainLength(cipher: number): number | undefined {
  if (!Number.isSafeInteger(cipher) || cipher < PACKAGE_TAG) return undefined
  if (cipher === PACKAGE_TAG) return 0 // the one empty final package
  const full = Math.floor(cipher / PACKAGE_SIZE)
  const rest = cipher - full * PACKAGE_SIZE
  if (rest === 0) return full * PACKAGE_PAYLOAD
  if (rest <= PACKAGE_TAG) return undefined // a trailing piece must carry a tag and ≥ 1 byte (or be the only, empty package)
  return full * PACKAGE_PAYLOAD + rest - PACKAGE_TAG
}

/** Plaintext bytes in package `index` of an object of `plainLength` bytes. */
export function packagePayloadLength(plainLength: number, index: number): number {
  const count = packageCount(plainLength)
  if (!Number.isInteger(index) || index < 0 || index >= count)
    throw new RangeError(`package ${index} out of 0..${count - 1}`)
  return index < count - 1 ? PACKAGE_PAYLOAD : plainLength - (count - 1) * PACKAGE_PAYLOAD
}

export function checkParams(p: PackageParams): void {
  if (!(p.key instanceof Uint8Array) || p.key.length !== OBJECT_KEY_BYTES)
    throw new RangeError(`object key must be ${OBJECT_KEY_BYTES} bytes`)
  if (!(p.prefix instanceof Uint8Array) || p.prefix.length !== PREFIX_BYTES)
    throw new RangeError(`nonce prefix must be ${PREFIX_BYTES} bytes`)
  if (!Number.isInteger(p.partNumber) || p.partNumber < 0 || p.partNumber > 0xffffffff)
    throw new RangeError(`part number must be a u32, got ${p.partNumber}`)
  const id = utf8(p.objectId)
  if (id.length === 0 || id.length > MAX_OBJECT_ID_BYTES)
    throw new RangeError(`object id must be 1..${MAX_OBJECT_ID_BYTES} UTF-8 bytes`)
}

/**
 * packageKey = HMAC-SHA256(objectKey, label ‖ u32be(part) ‖ lp(objectId)): parts (and objects, should
 * a key ever be reused by mistake) never share a package key, so never a (key, nonce) pair.
 */
export async function derivePackageKey(
  objectKey: Uint8Array,
  partNumber: number,
  objectId: string,
  /** A synchronous HMAC-SHA256 (Aead.hmacSha256) to use instead of WebCrypto's. */
  hmac?: (key: Uint8Array, data: Uint8Array) => Uint8Array,
): Promise<Uint8Array> {
  const id = utf8(objectId)
  const fields = new Uint8Array(6)
  const view = new DataView(fields.buffer)
  view.setUint32(0, partNumber)
  view.setUint16(4, id.length)
  const data = concatBytes([utf8(PACKAGE_KEY_LABEL), fields, id])
  return hmac ? hmac(objectKey, data) : hmacSha256(objectKey, data)
}

/**
 * Nonce and AAD for one stream, rewritten in place per package (no allocation per package).
 * The returned views are reused: the AEAD call must consume them before the next `at()`.
 */
export function packageContext(p: PackageParams): {
  nonce: Uint8Array
  aad: Uint8Array
  at(index: number, final: boolean): void
} {
  checkParams(p)
  const id = utf8(p.objectId)
  const nonce = new Uint8Array(PREFIX_BYTES + 4)
  nonce.set(p.prefix, 0)
  const aad = new Uint8Array(12 + id.length)
  const view = new DataView(aad.buffer)
  aad[0] = FORMAT_VERSION
  view.setUint32(2, p.partNumber)
  view.setUint16(10, id.length)
  aad.set(id, 12)
  const nonceView = new DataView(nonce.buffer)
  return {
    nonce,
    aad,
    at(index, final) {
      if (!Number.isInteger(index) || index < 0 || index >= MAX_PACKAGES)
        throw new RangeError(`package index ${index} exceeds the 32-bit counter`)
      nonceView.setUint32(PREFIX_BYTES, index)
      aad[1] = final ? FINAL_FLAG : 0
      view.setUint32(6, index)
    },
  }
}

function checkLength(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`length must be a non-negative integer, got ${n}`)
}
