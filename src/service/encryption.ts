/**
 * Per-object D@RE: choosing how a write is encrypted (the namespace's SSE-S3 key, an SSE-KMS key,
 * or an SSE-C customer key), finding the object key again for reads, and the records stored in
 * metadata.
 *
 *   choose: SSE-C key → sse-c; else the request's x-amz-server-side-encryption, else the bucket's
 *           default (PutBucketEncryption), else D@RE of the namespace:
 *           aws:kms[:dsse] → sse-kms under the named key (the namespace default key when none);
 *           AES256 → sse-s3 under the namespace key, or, in a namespace without D@RE, sse-kms
 *           under its managed default key, shown as AES256; nothing → sse-s3 with D@RE, else clear
 *   write:  objKey = random(32); record.wrappedKey = wrap(nsKey v | KMS key | customer key, objKey)
 *           each storage write (PUT, each part) draws prefix = random(8) → Segment.crypto
 *           plaintext ─ MD5/checksums ─▶ encryptStream(objKey, prefix, objectId, part) ─▶ storage
 *   read:   objKey = unwrap(record) → decryptRange per segment, only the covering packages
 */
import {
  unwrapKmsObjectKey,
  wrapKmsObjectKey,
  CustomerKeyError,
  checkCustomerKey,
  fingerprintsEqual,
  generateKey,
  KeyUnwrapError,
  sseCKeyFingerprint,
  unwrapObjectKey,
  unwrapSseCObjectKey,
  wrapObjectKey,
  wrapSseCObjectKey,
} from '../crypto/index.ts'
import * as meta from '../meta/index.ts'
import type { Platform } from '../util/platform.ts'
import { isCount, isRecord } from '../util/shape.ts'
import type { ServiceContext } from './context.ts'
import { CorruptMetadataError, ServiceError } from './errors.ts'
import { namespaceKey, newestNamespaceKey, stagedKeySetting } from './keyring.ts'
import { type BucketEncryptionConfig, bucketEncryptionConfig } from './bucket-encryption.ts'
import { defaultKmsKey, kmsArnOf, kmsKeyForRead, resolveKmsKey, usableKmsKey } from './kms.ts'

/** FORMAT: stored as objects.encryption and multipart_uploads.encryption (JSON). */
export interface EncryptionRecord {
  v: 1
  /**
   * 'sse-s3': wrapped by the namespace key (D@RE); 'sse-c': wrapped by the customer's key;
   * 'sse-kms': wrapped by the KMS key `kmsKeyId`.
   */
  mode: 'sse-s3' | 'sse-c' | 'sse-kms'
  ns: string
  /** Which namespace key wraps the object key (0 for SSE-C and SSE-KMS); a rotation scans by it. */
  nsKeyVersion: number
  /** What the object key and every package are bound to: the first write id, or the upload id. */
  objectId: string
  wrappedKey: string
  /** SSE-C: HMAC of the customer key, so a wrong key is told apart before any data is read. */
  sseCFingerprint?: string
  /** SSE-KMS: the key's id and ARN (shown in responses). */
  kmsKeyId?: string
  kmsKeyArn?: string
  /** SSE-KMS: the encryption context, canonical JSON ('{}' when none), bound into the wrapping. */
  kmsContext?: string
  /** SSE-KMS: what responses show as x-amz-server-side-encryption ('AES256': SSE-S3 without D@RE). */
  sseAlgorithm?: SseAlgorithm
  bucketKeyEnabled?: boolean
}

/** A value of x-amz-server-side-encryption. */
export type SseAlgorithm = 'AES256' | 'aws:kms' | 'aws:kms:dsse'

/** What a write asks for (x-amz-server-side-encryption and its KMS headers). */
export interface SseRequest {
  algorithm: SseAlgorithm
  /** As the client named it: key id, alias, or either as an ARN. */
  kmsKeyId?: string
  /** Canonical JSON (kms-ids.ts canonicalEncryptionContext). */
  context?: string
  bucketKeyEnabled?: boolean
}

/** Where a write goes, for its bucket's default encryption and the region of a new default key. */
export interface WriteTarget {
  bucketId: string
  region: string
  request?: SseRequest
}

/** What a write needs to encrypt: the record to store and the plaintext object key. */
export interface WriteCrypto {
  record: EncryptionRecord
  key: Uint8Array
}

/** A customer's own key (SSE-C), checked by customerKey: the object key is wrapped by it. */
export interface CustomerKey {
  readonly key: Uint8Array
}

/**
 * The key a client sent for SSE-C, accepted only as crypto's checkCustomerKey allows (32 bytes,
 * with a matching MD5); otherwise ServiceError InvalidCustomerKey with `details.problem` saying why.
 */
export function customerKey(
  key: Uint8Array,
  md5: Uint8Array | undefined,
  platform: Pick<Platform, 'createHasher'>,
): CustomerKey {
  try {
    checkCustomerKey(key, md5, platform)
  } catch (e) {
    if (e instanceof CustomerKeyError) throw new ServiceError('InvalidCustomerKey', e.message, { problem: e.problem })
    throw e
  }
  return { key }
}

function isEncryptionRecord(v: unknown): v is EncryptionRecord {
  return (
    isRecord(v) &&
    v.v === 1 &&
    (v.mode === 'sse-s3' || v.mode === 'sse-c' || v.mode === 'sse-kms') &&
    (v.mode !== 'sse-kms' || (typeof v.kmsKeyId === 'string' && typeof v.kmsContext === 'string')) &&
    typeof v.ns === 'string' &&
    isCount(v.nsKeyVersion) &&
    typeof v.objectId === 'string' &&
    typeof v.wrappedKey === 'string' &&
    (v.sseCFingerprint === undefined || typeof v.sseCFingerprint === 'string')
  )
}

/** A row's `encryption` as it enters the service: undefined for data stored in clear. */
export function parseEncryptionRecord(v: unknown, what: string): EncryptionRecord | undefined {
  if (v === null || v === undefined) return undefined
  if (isEncryptionRecord(v)) return v
  // The value itself is not shown: it holds a wrapped key.
  throw new CorruptMetadataError(`${what}: the stored encryption record is malformed`)
}

async function namespaceRow(ctx: ServiceContext, ns: string): Promise<meta.NamespaceRow> {
  const row = await meta.getNamespace(ctx.db, ns)
  if (!row) throw new ServiceError('AccessDenied', 'The namespace of this bucket no longer exists.')
  return row
}

/**
 * A fresh object key for a write into namespace `ns`: wrapped by `sseC` when given, else by the
 * namespace key when D@RE is on; undefined when the data is to be stored in clear.
 */
export async function prepareWrite(
  ctx: ServiceContext,
  ns: string,
  objectId: string,
  sseC?: CustomerKey,
  target?: WriteTarget,
): Promise<WriteCrypto | undefined> {
  if (sseC) {
    const key = await generateKey()
    return {
      key,
      record: {
        v: 1,
        mode: 'sse-c',
        ns,
        nsKeyVersion: 0,
        objectId,
        wrappedKey: await wrapSseCObjectKey(sseC.key, ns, objectId, key),
        sseCFingerprint: await sseCKeyFingerprint(sseC.key, objectId),
      },
    }
  }
  const row = await namespaceRow(ctx, ns)
  const asked: SseRequest | BucketEncryptionConfig | undefined =
    target && (target.request ?? (await bucketEncryptionConfig(ctx, target.bucketId)))
  if (target && asked && (asked.algorithm !== 'AES256' || !row.encrypted))
    return prepareKmsWrite(ctx, ns, objectId, target.region, asked)
  if (!row.encrypted) return undefined
  const key = await generateKey()
  const nsKey = await newestNamespaceKey(ctx, row)
  return {
    key,
    record: {
      v: 1,
      mode: 'sse-s3',
      ns,
      nsKeyVersion: nsKey.version,
      objectId,
      wrappedKey: await wrapObjectKey(nsKey.key, ns, objectId, key, nsKey.version, ctx.keys.aead),
    },
  }
}

/**
 * SSE-KMS: the object key wrapped by the KMS key asked for (the namespace default key when none
 * is named; for AES256 in a namespace without D@RE, the default key, shown as AES256).
 */
async function prepareKmsWrite(
  ctx: ServiceContext,
  ns: string,
  objectId: string,
  region: string,
  asked: SseRequest | BucketEncryptionConfig,
): Promise<WriteCrypto> {
  const kmsRow =
    asked.algorithm !== 'AES256' && asked.kmsKeyId !== undefined
      ? await resolveKmsKey(ctx, ns, asked.kmsKeyId, region)
      : await defaultKmsKey(ctx, ns, region)
  const kmsKey = await usableKmsKey(ctx, kmsRow)
  const context = ('context' in asked && asked.context) || '{}'
  const key = await generateKey()
  const record: EncryptionRecord = {
    v: 1,
    mode: 'sse-kms',
    ns,
    nsKeyVersion: 0,
    objectId,
    wrappedKey: await wrapKmsObjectKey(kmsKey, ns, objectId, kmsRow.id, context, key),
    kmsKeyId: kmsRow.id,
    kmsKeyArn: kmsArnOf(kmsRow),
    kmsContext: context,
    sseAlgorithm: asked.algorithm,
  }
  if (asked.algorithm !== 'AES256' && asked.bucketKeyEnabled) record.bucketKeyEnabled = true
  return { key, record }
}

/**
 * What a commit of `record` must check (docs/architecture.md §5): that the namespace key version
 * wrapping its object key still exists, or for SSE-KMS that its KMS key is still enabled.
 * Undefined for SSE-C and clear data.
 */
export function keyPin(record: EncryptionRecord | undefined): meta.KeyPin | undefined {
  if (record?.mode === 'sse-kms') return { kmsKeyId: record.kmsKeyId! }
  if (record?.mode !== 'sse-s3') return undefined
  return { namespace: record.ns, version: record.nsKeyVersion, stagedSetting: stagedKeySetting(record.ns) }
}

/**
 * How many times a commit is tried when a rotation drops its key version in between (each try
 * re-wraps under the version current then); a rotation takes far longer than a commit, so
 * running out means rotations are being forced back to back.
 */
export const KEY_COMMIT_ATTEMPTS = 5

/** The answer when KEY_COMMIT_ATTEMPTS ran out; the client retries. */
export const keyRotationBusy = (): ServiceError =>
  new ServiceError('Unavailable', 'The namespace key was rotated repeatedly during this write; retry.')

/**
 * The same object key wrapped under the namespace's newest key version now: for a write whose
 * commit found the version it started with dropped by a rotation that committed meanwhile.
 */
export async function rewrapForCurrentKey(ctx: ServiceContext, w: WriteCrypto): Promise<WriteCrypto> {
  // SSE-KMS: the commit found the KMS key no longer enabled; say why (AWS's error for its state).
  // Enabled again meanwhile: the same wrapping is committed again.
  if (w.record.mode === 'sse-kms') {
    await kmsKeyForRead(ctx, w.record.kmsKeyId!)
    return w
  }
  const { ns, objectId } = w.record
  const nsKey = await newestNamespaceKey(ctx, await namespaceRow(ctx, ns))
  return {
    key: w.key,
    record: {
      ...w.record,
      nsKeyVersion: nsKey.version,
      wrappedKey: await wrapObjectKey(nsKey.key, ns, objectId, w.key, nsKey.version, ctx.keys.aead),
    },
  }
}

/** The wording S3 clients know for a customer key that is missing or not applicable. */
const KEY_REQUIRED =
  'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.'
const KEY_NOT_APPLICABLE = 'The encryption parameters are not applicable to this object.'

/**
 * The rules for a customer key against a stored object, checked from metadata alone (HEAD):
 * key missing → InvalidRequest, key given for an object not stored with SSE-C → InvalidRequest,
 * wrong key → AccessDenied.
 */
export async function checkSseC(record: EncryptionRecord | undefined, sseC: CustomerKey | undefined): Promise<void> {
  if (record?.mode === 'sse-c') {
    if (!sseC) throw new ServiceError('InvalidRequest', KEY_REQUIRED)
    const print = await sseCKeyFingerprint(sseC.key, record.objectId)
    if (!fingerprintsEqual(print, record.sseCFingerprint ?? '')) {
      throw new ServiceError(
        'AccessDenied',
        'The SSE-C key provided does not match the key the object was stored with.',
      )
    }
  } else if (sseC) {
    throw new ServiceError('InvalidRequest', KEY_NOT_APPLICABLE)
  }
}

/** The plaintext object key of `record` (after checkSseC's rules). */
export async function openObjectKey(
  ctx: ServiceContext,
  record: EncryptionRecord,
  sseC?: CustomerKey,
): Promise<Uint8Array> {
  await checkSseC(record, sseC)
  if (record.mode === 'sse-c') return unwrapSseCObjectKey(sseC!.key, record.ns, record.objectId, record.wrappedKey)
  if (record.mode === 'sse-kms') {
    const kmsKey = await kmsKeyForRead(ctx, record.kmsKeyId!)
    return unwrapKmsObjectKey(
      kmsKey,
      record.ns,
      record.objectId,
      record.kmsKeyId!,
      record.kmsContext!,
      record.wrappedKey,
    )
  }
  const ns = await namespaceRow(ctx, record.ns)
  return unwrapObjectKey(
    await namespaceKey(ctx, ns, record.nsKeyVersion),
    record.ns,
    record.objectId,
    record.wrappedKey,
    ctx.keys.aead,
  )
}

/**
 * openObjectKey for a record read a moment ago. A namespace-key rotation may re-wrap the object
 * key between that read and now, and once it commits the old namespace key is gone. The object
 * key itself never changes, so `reread` fetches the row's current record and, if it is the same
 * object (same objectId) under another key version, that wrapping is unwrapped instead.
 */
export async function openCurrentObjectKey(
  ctx: ServiceContext,
  record: EncryptionRecord,
  sseC: CustomerKey | undefined,
  reread: () => Promise<EncryptionRecord | undefined>,
): Promise<Uint8Array> {
  try {
    return await openObjectKey(ctx, record, sseC)
  } catch (e) {
    if (record.mode !== 'sse-s3' || !(e instanceof KeyUnwrapError)) throw e
    const fresh = await reread()
    if (!fresh || fresh.objectId !== record.objectId || fresh.nsKeyVersion === record.nsKeyVersion) throw e
    return openObjectKey(ctx, fresh, sseC)
  }
}
