/**
 * Reading objects: metadata lookup (HeadObject never touches data) and streaming any byte range
 * of the stored data. Preconditions are evaluated against the row before any data is read.
 */
import * as meta from '../meta/index.ts'
import { QuorumError } from '../storage/index.ts'
import { primeStream } from '../util/streams.ts'
import { evaluateConditions, type ReadConditions } from './conditions.ts'
import type { ServiceContext } from './context.ts'
import {
  type CustomerKey,
  checkSseC,
  type EncryptionRecord,
  openCurrentObjectKey,
  parseEncryptionRecord,
} from './encryption.ts'
import { ServiceError } from './errors.ts'
import { expirationOf } from './lifecycle/config.ts'
import { type Actor, bucketFor } from './identities.ts'
import { type ObjectInfo, objectInfo, showsVersions } from './object-info.ts'
import {
  checkInline,
  type Decryption,
  inlineIdsOf,
  parseStoredData,
  readStoredRange,
  type StoredData,
} from './stored-data.ts'

export interface ObjectAddress {
  bucket: string
  key: string
  /** A version by id (`?versionId=`); the current version when absent. */
  versionId?: string
  conditions?: ReadConditions
  /** The customer key sent with the request, checked against an SSE-C object's record. */
  sseC?: CustomerKey
  /** The bucket's row as this request's authorization read it: not read again. */
  bucketRow?: meta.BucketRow
}

/** An object row as it entered the service: its stored JSON checked once. */
export interface StoredObject {
  row: meta.ObjectRow
  data: StoredData
  encryption?: EncryptionRecord
  info: ObjectInfo
  /** Inline bytes read with the row (meta.getWithInline): readInline does not read them again. */
  inline?: meta.InlineBytes
}

/** An object found by readObject: what it is, and its bytes on demand. */
export interface ObjectReader {
  info: ObjectInfo
  /**
   * Streams bytes [start, end) of the object as it was found, even if it is overwritten
   * meanwhile. The first bytes are read before this resolves, so an unreadable object fails
   * with a status, not a truncated 200.
   */
  read(start: number, end: number): Promise<ReadableStream<Uint8Array>>
}

export function storedObject(row: meta.ObjectRow, versioned = false): StoredObject {
  const what = `object ${row.bucket}/${row.key}`
  const encryption = parseEncryptionRecord(row.encryption, what)
  return { row, data: parseStoredData(row.layout, what), encryption, info: objectInfo(row, encryption, versioned) }
}

/**
 * The current version of a key, or the version `versionId` names, as S3 answers for it: 404
 * NoSuchKey (with x-amz-delete-marker when the current version is a marker), 404 NoSuchVersion,
 * 405 for a delete marker asked for by id. Data rows only: a delete marker never comes back.
 */
export async function findVersion(
  ctx: ServiceContext,
  bucket: meta.BucketRow,
  key: string,
  versionId: string | undefined,
  method = 'GET',
): Promise<meta.ObjectRow> {
  const row =
    versionId === undefined
      ? await meta.getObject(ctx.db, bucket.name, key)
      : await meta.getVersion(ctx.db, bucket.name, key, versionId)
  return foundVersion(row, key, versionId, method)
}

/** findVersion's answer for a row as read (or not found). */
function foundVersion(
  row: meta.ObjectRow | undefined,
  key: string,
  versionId: string | undefined,
  method: string,
): meta.ObjectRow {
  if (!row) {
    if (versionId === undefined) throw new ServiceError('NoSuchKey', undefined, { Key: key })
    throw new ServiceError('NoSuchVersion', undefined, { Key: key, VersionId: versionId })
  }
  if (row.deleteMarker) {
    const version = { versionId: row.versionId, deleteMarker: true }
    if (versionId === undefined) throw new ServiceError('NoSuchKey', undefined, { Key: key }, version)
    throw new ServiceError('MethodNotAllowed', undefined, { Method: method, ResourceType: 'DeleteMarker' }, version)
  }
  return row
}

/**
 * The object if the actor may read it and the conditions and customer key allow. `withBytes`:
 * the caller will read the data, so a small object's inline bytes come with the row (one
 * statement); HEAD leaves them.
 */
export async function findObject(
  ctx: ServiceContext,
  actor: Actor,
  a: ObjectAddress,
  method = 'GET',
  withBytes = false,
): Promise<StoredObject> {
  const bucket = await bucketFor(ctx, actor, a.bucket, a.bucketRow)
  let row: meta.ObjectRow
  let inline: meta.InlineBytes | undefined
  if (withBytes) {
    const got = await meta.getWithInline(ctx.db, bucket.name, a.key, a.versionId)
    row = foundVersion(got?.row, a.key, a.versionId, method)
    inline = got?.inline
  } else {
    row = await findVersion(ctx, bucket, a.key, a.versionId, method)
  }
  const found = storedObject(row, showsVersions(bucket))
  if (inline) found.inline = inline
  const expiration = expirationOf(ctx, bucket, row)
  if (expiration) found.info.expiration = expiration
  await checkSseC(found.encryption, a.sseC)
  const outcome = evaluateConditions(a.conditions ?? {}, row.etag, row.lastModified)
  if (outcome === 'failed') throw new ServiceError('PreconditionFailed', undefined, { Condition: 'If-Match' })
  if (outcome === 'not-modified')
    throw new ServiceError('NotModified', undefined, { ETag: row.etag, LastModified: row.lastModified.toUTCString() })
  return found
}

/** HeadObject: the object's metadata; never reads data. */
export async function statObject(ctx: ServiceContext, actor: Actor, a: ObjectAddress): Promise<ObjectInfo> {
  return (await findObject(ctx, actor, a, 'HEAD')).info
}

/** GetObject: the object's metadata, and a reader for any range of the bytes it describes. */
export async function readObject(ctx: ServiceContext, actor: Actor, a: ObjectAddress): Promise<ObjectReader> {
  const found = await findObject(ctx, actor, a, 'GET', true)
  return { info: found.info, read: (start, end) => openStored(ctx, found, start, end, a.sseC) }
}

/** Too few shards readable: the protocol layer answers 503 rather than wrong or missing bytes. */
export const unavailable = (e: unknown): unknown =>
  e instanceof QuorumError
    ? new ServiceError('Unavailable', 'Too few storage nodes or drives are reachable to read this object; retry later.')
    : e

/** Plaintext bytes [start, end) of an object found a moment ago (see ObjectReader.read). */
export async function openStored(
  ctx: ServiceContext,
  obj: StoredObject,
  start: number,
  end: number,
  sseC?: CustomerKey,
): Promise<ReadableStream<Uint8Array>> {
  const record = obj.encryption
  const what = `object ${obj.row.bucket}/${obj.row.key}`
  const decryption: Decryption | undefined = record && {
    aead: ctx.keys.aead,
    key: await openCurrentObjectKey(ctx, record, sseC, async () =>
      parseEncryptionRecord(
        (await meta.getVersion(ctx.db, obj.row.bucket, obj.row.key, obj.row.versionId))?.encryption,
        what,
      ),
    ),
    objectId: record.objectId,
  }
  const inline = await readInline(ctx, obj.data, what, obj.inline)
  return primeStream(readStoredRange(ctx.storage, obj.data, start, end, decryption, inline), unavailable)
}

/**
 * The bytes of the data's inline segments, read from the metadata and checked against their
 * CRC32 (checkInline): a mismatch or a missing row fails the read before any byte is sent. The
 * row's bytes outlive an overwrite or delete by GC's grace period, as shards do.
 */
export async function readInline(
  ctx: ServiceContext,
  data: StoredData,
  what: string,
  prefetched?: meta.InlineBytes,
): Promise<ReadonlyMap<string, Uint8Array> | undefined> {
  const ids = inlineIdsOf(data)
  if (ids.length === 0) return undefined
  const missing = prefetched ? ids.filter((id) => id !== prefetched.id) : ids
  const found = missing.length > 0 ? await meta.getInline(ctx.db, missing) : new Map<string, Uint8Array>()
  if (prefetched && ids.includes(prefetched.id)) found.set(prefetched.id, prefetched.data)
  for (const seg of data.segments) {
    if (seg.inline) checkInline(ctx.platform, seg.inline, found.get(seg.inline.id), what)
  }
  return found
}
