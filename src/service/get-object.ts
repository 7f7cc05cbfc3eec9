/**
 * Reading objects: metadata lookup (HeadObject never touches data) and streaming any byte range
 * of the stored data. Preconditions are evaluated against the row before any data is read.
 */
import type { SseCKey } from '../crypto/index.ts'
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'
import { type Actor, bucketFor } from './identities.ts'
import { evaluateConditions, type ReadConditions } from './conditions.ts'
import { readStoredRange, type Decryption, type StoredData } from './stored-data.ts'
import { checkSseC, openCurrentObjectKey, recordOf } from './encryption.ts'
import { QuorumError } from '../storage/index.ts'
import { primeStream } from '../util/streams.ts'
import type { ObjectInfo } from './put-object.ts'

/** `sseC`: the customer key sent with the request, checked against an SSE-C object's record. */
export async function statObject(
  ctx: ServiceContext,
  actor: Actor,
  bucket: string,
  key: string,
  conditions: ReadConditions = {},
  sseC?: SseCKey,
): Promise<ObjectInfo> {
  await bucketFor(ctx, actor, bucket)
  const row = await meta.getObject(ctx.db, bucket, key)
  if (!row) throw new ServiceError('NoSuchKey', undefined, { Key: key })
  await checkSseC(recordOf(row.encryption), sseC)
  const outcome = evaluateConditions(conditions, row.etag, row.lastModified)
  if (outcome === 'failed') throw new ServiceError('PreconditionFailed', undefined, { Condition: 'If-Match' })
  if (outcome === 'not-modified')
    throw new ServiceError('NotModified', undefined, { ETag: row.etag, LastModified: row.lastModified.toUTCString() })
  return row
}

/** Too few shards readable: the protocol layer answers 503 rather than wrong or missing bytes. */
export const unavailable = (e: unknown): unknown =>
  e instanceof QuorumError
    ? new ServiceError('Unavailable', 'Too few storage nodes or drives are reachable to read this object; retry later.')
    : e

/**
 * Streams bytes [start, end) of an object found by statObject. The first bytes are read before
 * this resolves, so an unreadable object fails with a status, not a truncated 200.
 */
export async function openObject(
  ctx: ServiceContext,
  obj: ObjectInfo,
  start: number,
  end: number,
  sseC?: SseCKey,
): Promise<ReadableStream<Uint8Array>> {
  const record = recordOf(obj.encryption)
  const decryption: Decryption | undefined = record && {
    aead: ctx.keys.aead,
    key: await openCurrentObjectKey(ctx, record, sseC, async () =>
      recordOf((await meta.getObject(ctx.db, obj.bucket, obj.key))?.encryption),
    ),
    objectId: record.objectId,
  }
  return primeStream(readStoredRange(ctx.storage, obj.layout as StoredData, start, end, decryption), unavailable)
}
