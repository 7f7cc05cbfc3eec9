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
  fingerprintsEqual,
  generateKey,
  KeyUnwrapError,
  SSE_C_MESSAGES,
  type SseCKey,
  sseCKeyFingerprint,
  unwrapObjectKey,
  unwrapSseCObjectKey,
  wrapObjectKey,
  wrapSseCObjectKey,
} from '../crypto/index.ts'
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'
import { namespaceKey } from './keyring.ts'

// The protocol layer parses SSE-C headers with these; it may not import crypto itself.
export { parseSseC, SSE_C_ALGORITHM, SseCError, type SseCKey } from '../crypto/index.ts'

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

/** FORMAT: Segment.crypto (and parts.crypto): the write's nonce prefix and its part number. */
export interface SegmentCrypto {
  prefix: string
  partNumber: number
}

/** What a write needs to encrypt: the record to store and the plaintext object key. */
export interface WriteCrypto {
  record: EncryptionRecord
  key: Uint8Array
}

export const recordOf = (value: unknown): EncryptionRecord | undefined =>
  value ? (value as EncryptionRecord) : undefined

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
  sseC?: SseCKey,
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
  const nsKey = await namespaceKey(ctx, row, row.keyVersion)
  return {
    key,
    record: {
      v: 1,
      mode: 'sse-s3',
      ns,
      nsKeyVersion: row.keyVersion,
      objectId,
      wrappedKey: await wrapObjectKey(nsKey, ns, objectId, key, row.keyVersion),
    },
  }
}

/**
 * S3's rules for SSE-C headers against a stored object, checked from metadata alone (HEAD):
 * key missing → 400, key given for an object not stored with SSE-C → 400, wrong key → 403.
 */
export async function checkSseC(record: EncryptionRecord | undefined, sseC: SseCKey | undefined): Promise<void> {
  if (record?.mode === 'sse-c') {
    if (!sseC) throw new ServiceError('InvalidRequest', SSE_C_MESSAGES.keyRequired)
    const print = await sseCKeyFingerprint(sseC.key, record.objectId)
    if (!fingerprintsEqual(print, record.sseCFingerprint ?? '')) {
      throw new ServiceError(
        'AccessDenied',
        'The SSE-C key provided does not match the key the object was stored with.',
      )
    }
  } else if (sseC) {
    throw new ServiceError('InvalidRequest', SSE_C_MESSAGES.notApplicable)
  }
}

/** The plaintext object key of `record` (after checkSseC's rules). */
export async function openObjectKey(
  ctx: ServiceContext,
  record: EncryptionRecord,
  sseC?: SseCKey,
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
  sseC: SseCKey | undefined,
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
