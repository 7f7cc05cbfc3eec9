/**
 * PutObject as a use case: stream the body into storage, then commit the metadata row in one
 * transaction (conditional when asked). Until that commit nothing is visible; a failed body or a
 * failed condition leaves only shards, which are removed here or by GC.
 */
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import {
  type CustomerKey,
  KEY_COMMIT_ATTEMPTS,
  keyPin,
  keyRotationBusy,
  prepareWrite,
  type SseRequest,
  rewrapForCurrentKey,
  type WriteCrypto,
} from './encryption.ts'
import { type AclRequest, newObjectAcl } from './acl.ts'
import { ServiceError } from './errors.ts'
import { type Actor, bucketFor, refusalError, writerOf } from './identities.ts'
import { etagMatches } from './conditions.ts'
import { type ChecksumValue, type ObjectInfo, objectInfo, showsVersions } from './object-info.ts'
import { versionIdFor } from './versioning.ts'
import { type LockRequest, lockForNewVersion } from './locks.ts'
import { layoutsOf, type StoredData } from './stored-data.ts'
import { newId, settle, storeData } from './stored-write.ts'
import { inlineLength, storeInline } from './inline-write.ts'
import type { Tag } from './tags.ts'
import { expirationOf } from './lifecycle/config.ts'

/** Computed by the protocol layer while the body streamed; read once the body is stored. */
export interface Digests {
  etag: string
  checksum?: ChecksumValue
}

export interface ObjectMetadataInput {
  contentType?: string
  /** Stored system headers by lower-case name: cache-control, content-disposition, … */
  headers: Record<string, string>
  userMeta: Record<string, string>
}

export interface WriteConditions {
  /** `*` (no current object) or ETags (the current object is none of them). */
  ifNoneMatch?: string
  ifMatch?: string
}

/** A body to store, and its digests once it has streamed through. */
export interface BodyInput {
  body: ReadableStream<Uint8Array>
  digests: () => Digests
  /** The body's declared length, when known: the write is admitted against free space for it. */
  length?: number
}

export interface PutObjectInput extends ObjectMetadataInput, WriteConditions, BodyInput {
  bucket: string
  key: string
  /** Object Lock asked for by the request (x-amz-object-lock-*); the bucket's default applies otherwise. */
  lockRequest?: LockRequest
  /** SSE-C: the customer's key; the object key is then wrapped by it instead of the namespace key. */
  sseC?: CustomerKey
  /** The new version's tag set (x-amz-tagging, checked by the caller with tags.ts). */
  tags?: readonly Tag[]
  /** A canned ACL or grants for the new version (x-amz-acl, x-amz-grant-*). */
  acl?: AclRequest
  /** Set by the service: the writer is anonymous (the object's owner follows Object Ownership). */
  anonymousWriter?: boolean
  /** x-amz-server-side-encryption (and its KMS headers); the bucket's default applies otherwise. */
  sse?: SseRequest
}

/** Fails fast, before any byte is read, when the condition already cannot hold. */
export async function checkWriteConditions(
  ctx: ServiceContext,
  bucket: string,
  key: string,
  c: WriteConditions,
): Promise<void> {
  if (c.ifNoneMatch === undefined && c.ifMatch === undefined) return
  const latest = await meta.getObject(ctx.db, bucket, key)
  // A delete marker is no object: conditions act on the current object.
  const current = latest?.deleteMarker ? undefined : latest
  if (c.ifNoneMatch !== undefined && current && etagMatches(c.ifNoneMatch, current.etag))
    throw new ServiceError('PreconditionFailed', undefined, { Condition: 'If-None-Match' })
  if (c.ifMatch !== undefined) {
    if (!current) throw new ServiceError('NoSuchKey', undefined, { Key: key })
    if (!etagMatches(c.ifMatch, current.etag))
      throw new ServiceError('PreconditionFailed', undefined, { Condition: 'If-Match' })
  }
}

/**
 * Commits a row whose data is already stored (the replaced object's data is queued for GC in the
 * same transaction, which also clears the write intents `settles`); on a lost condition, or a bucket
 * gone or changed hands, the data is removed.
 * `sealed` is the write's object key and record (the row's `encryption`): if a namespace-key
 * rotation dropped the record's key version while the body streamed, the key is re-wrapped under
 * the current version and the commit tried again, so no row ever points at a dropped version.
 * `inline`: the bytes of an inline object (./inline-write.ts), stored by the commit itself.
 */
export async function commitStored(
  ctx: ServiceContext,
  row: meta.ObjectRow,
  data: StoredData,
  writer: meta.Writer,
  c: WriteConditions,
  sealed?: WriteCrypto,
  settles: readonly string[] = [],
  inline?: meta.InlineBytes,
): Promise<void> {
  let result: meta.CommitResult
  for (let attempt = 1; ; attempt++) {
    result = await meta.commitObject(ctx.db, row, writer, c, keyPin(sealed?.record), undefined, settles, inline)
    if (result.ok || result.reason !== 'key-version' || !sealed || attempt >= KEY_COMMIT_ATTEMPTS) break
    sealed = await rewrapForCurrentKey(ctx, sealed)
    row = { ...row, encryption: sealed.record }
  }
  if (!result.ok) {
    await removeQuietly(ctx, data)
    if (result.reason === 'key-version') throw keyRotationBusy()
    if (result.reason !== 'precondition') throw refusalError(result.reason, row.bucket)
    // The early check passed, so another writer changed the key while this body streamed.
    throw new ServiceError(c.ifMatch !== undefined ? 'ConditionalRequestConflict' : 'PreconditionFailed')
  }
}

export async function removeQuietly(ctx: ServiceContext, data: StoredData): Promise<void> {
  for (const layout of layoutsOf(data)) {
    await ctx.storage.remove(layout).catch(() => meta.enqueueGc(ctx.db, [layout], 'remove-failed'))
  }
}

export async function putObject(ctx: ServiceContext, actor: Actor, input: PutObjectInput): Promise<ObjectInfo> {
  const bucket = await bucketFor(ctx, actor, input.bucket)
  await checkWriteConditions(ctx, input.bucket, input.key, input)
  return writeObject(ctx, bucket, writerOf(actor, bucket), { ...input, anonymousWriter: actor.anonymous === true })
}

/**
 * Stores the body and commits the object into `bucket` as `writer` (the caller checked access
 * and the early conditions; the commit checks the writer again): PutObject, and the target side
 * of CopyObject. The version id follows the bucket's versioning as read at admission.
 */
export async function writeObject(
  ctx: ServiceContext,
  bucket: meta.BucketRow,
  writer: meta.Writer,
  input: PutObjectInput,
): Promise<ObjectInfo> {
  // Decided before a byte is stored: a refused lock request leaves nothing behind.
  const lock = lockForNewVersion(bucket, input.lockRequest)
  const acl =
    input.acl || input.anonymousWriter
      ? await newObjectAcl(ctx, bucket, input.acl ?? {}, input.anonymousWriter === true)
      : null
  const objectId = newId()
  const crypto = await prepareWrite(ctx, bucket.namespace, objectId, input.sseC, {
    bucketId: bucket.id,
    region: bucket.region,
    request: input.sse,
  })
  const seal = crypto && { key: crypto.key, objectId, partNumber: 0 }
  // Small and of known length: stored by the commit itself, in the metadata (./inline-write.ts).
  const inlineMax = inlineLength(ctx, input.length, seal !== undefined)
  const inline = inlineMax === undefined ? undefined : await storeInline(ctx, input.body, seal, inlineMax)
  const { id, segment } = inline
    ? { id: undefined, segment: inline.segment }
    : await storeData(ctx, input.body, seal, input.length)
  // The write intent of shards, settled by the commit; an inline object has none.
  const intents = id === undefined ? [] : [id]
  const data: StoredData = { v: 1, segments: [segment] }
  let digests: Digests
  try {
    digests = input.digests()
  } catch (e) {
    await removeQuietly(ctx, data)
    await settle(ctx, intents)
    throw e
  }
  const row: meta.ObjectRow = {
    bucket: input.bucket,
    key: input.key,
    versionId: versionIdFor(bucket),
    ord: 0,
    latest: true,
    deleteMarker: false,
    lock,
    acl,
    uploadId: null,
    size: segment.size,
    etag: digests.etag,
    lastModified: new Date(),
    contentType: input.contentType ?? 'binary/octet-stream',
    headers: input.headers,
    userMeta: input.userMeta,
    checksum: digests.checksum ?? null,
    parts: null,
    layout: data,
    encryption: crypto?.record ?? null,
    tags: input.tags?.length ? [...input.tags] : null,
  }
  try {
    // The write intent is cleared by the commit's own transaction.
    await commitStored(ctx, row, data, writer, input, crypto, intents, inline?.bytes)
  } catch (e) {
    // A full database rolled the commit back: nothing points at the data, remove it now.
    if (meta.isDbFull(e)) await removeQuietly(ctx, data).catch(() => {})
    // A lost condition removed the data; anything else leaves it to orphan collection.
    if (e instanceof ServiceError || meta.isDbFull(e)) await settle(ctx, intents).catch(() => {})
    throw e
  }
  // Only the mode shows (x-amz-server-side-encryption), which a re-wrap does not change.
  const info = objectInfo(row, crypto?.record, showsVersions(bucket))
  const expiration = expirationOf(ctx, bucket, row)
  return expiration ? { ...info, expiration } : info
}
