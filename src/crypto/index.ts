/**
 * The D@RE crypto layer's public face: what the service imports. Pure (WebCrypto + util only);
 * the runtime supplies a faster Aead (src/runtime/aead-node.ts) through the same port.
 */
export { getWebCrypto, randomBytes } from './webcrypto.ts'
export { type Aead, type AeadKey, createWebCryptoAead } from './aead.ts'
export {
  BlobKind,
  blobInfo,
  CustomerKeyError,
  type CustomerKeyProblem,
  checkCustomerKey,
  fingerprintsEqual,
  generateKey,
  KEY_BYTES,
  KeyUnwrapError,
  masterKeyFingerprint,
  openUserSecret,
  resealUserSecret,
  rewrapKmsKey,
  rewrapNamespaceKey,
  unwrapKmsKey,
  unwrapKmsObjectKey,
  wrapKmsKey,
  wrapKmsObjectKey,
  rewrapObjectKey,
  sseCKeyFingerprint,
  unwrapNamespaceKey,
  unwrapObjectKey,
  sealUserSecret,
  unwrapSseCObjectKey,
  wrapNamespaceKey,
  wrapObjectKey,
  wrapSseCObjectKey,
} from './keys.ts'
export {
  cipherLength,
  FORMAT_VERSION,
  generatePrefix,
  PACKAGE_PAYLOAD,
  PACKAGE_SIZE,
  packageCount,
  type PackageParams,
  plainLength,
  PREFIX_BYTES,
} from './package-format.ts'
export { encryptPieces, encryptStream, type PackageOptions } from './encrypt-stream.ts'
export { DecryptError, decryptRange, type OpenCipher } from './decrypt-stream.ts'
export { type PackageRange, planRange } from './ranges.ts'
