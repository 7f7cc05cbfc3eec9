/**
 * Per-object D@RE: choosing how a write is encrypted (the namespace's SSE-S3 key, or an SSE-C
 * customer key), finding the object key again for reads, and the records stored in metadata.
 *
 *   write:  objKey = random(32); record.wrappedKey = wrap(nsKey v | customer key, objKey)
 *           each storage write (PUT, each part) draws prefix = random(8) → Segment.crypto
 *           plaintext ─ MD5/checksums ─▶ encryptStream(objKey, prefix, objectId, part) ─▶ storage
 *   read:   objKey = unwrap(record) → decryptRange per segment, only the covering packages
 */
import {
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

/** FORMAT: stored as objects.encryption and multipart_uploads.encryption (JSON). */
export interface EncryptionRecord {
  v: 1
  /** 'sse-s3': wrapped by the namespace key (D@RE); 'sse-c': wrapped by the customer's key. */
  mode: 'sse-s3' | 'sse-c'
  ns: string
  /** Which namespace key wraps the object key (0 for SSE-C); a rotation scans by it. */
  nsKeyVersion: number
  /** What the object key and every package are bound to: the first write id, or the upload id. */
  objectId: string
  wrappedKey: string
  /** SSE-C: HMAC of the customer key, so a wrong key is told apart before any data is read. */
  sseCFingerprint?: string
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
    (v.mode === 'sse-s3' || v.mode === 'sse-c') &&
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
      wrappedKey: await wrapObjectKey(nsKey.key, ns, objectId, key, nsKey.version),
    },
  }
}

/**
 * What a commit of `record` must check (docs/architecture.md §5): that the namespace key version
 * wrapping its object key still exists. Undefined for SSE-C and clear data (no namespace key).
 */
export function keyPin(record: EncryptionRecord | undefined): meta.KeyPin | undefined {
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
  const { ns, objectId } = w.record
  const nsKey = await newestNamespaceKey(ctx, await namespaceRow(ctx, ns))
  return {
    key: w.key,
    record: {
      ...w.record,
      nsKeyVersion: nsKey.version,
      wrappedKey: await wrapObjectKey(nsKey.key, ns, objectId, w.key, nsKey.version),
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
  const ns = await namespaceRow(ctx, record.ns)
  return unwrapObjectKey(
    await namespaceKey(ctx, ns, record.nsKeyVersion),
    record.ns,
    record.objectId,
    record.wrappedKey,
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
