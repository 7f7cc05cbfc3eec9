/**
 * CopyObject and UploadPartCopy: find the source (its x-amz-copy-source-if-* conditions fail
 * with 412 only), read its plaintext, hash it (ETag, checksum) and write it as the target object
 * or part, encrypted for the target's namespace or key. The bytes never leave the service.
 */
import type { SseRequest } from './encryption.ts'
import { toBase64, toHex } from '../util/bytes.ts'
import { type ChecksumAlgorithm, createChecksum } from '../util/checksums.ts'
import type { Platform } from '../util/platform.ts'
import type { ReadConditions } from './conditions.ts'
import type { ServiceContext } from './context.ts'
import type { CustomerKey } from './encryption.ts'
import { ServiceError } from './errors.ts'
import type { LockRequest } from './locks.ts'
import type { AclRequest } from './acl.ts'
import { findObject, openStored, type StoredObject } from './get-object.ts'
import { type Actor, bucketFor, writerOf } from './identities.ts'
import { findUpload, storePart, type UploadAddress } from './multipart.ts'
import type { ObjectInfo, PartInfo } from './object-info.ts'
import { type BodyInput, type Digests, type ObjectMetadataInput, writeObject } from './put-object.ts'
import { tagsOf } from './tagging.ts'
import type { Tag } from './tags.ts'

/** S3's largest copy source, and largest part copied from one: 5 GiB. */
export const MAX_COPY_BYTES = 5 * 1024 ** 3

export interface CopySource {
  bucket: string
  key: string
  /** `?versionId=` of x-amz-copy-source: that version; the current one when absent. */
  versionId?: string
  conditions?: ReadConditions
  /** The key of an SSE-C source. */
  sseC?: CustomerKey
}

export interface CopyObjectInput {
  source: CopySource
  target: {
    bucket: string
    key: string
    /** Encrypt the copy with this customer key (SSE-C). */
    sseC?: CustomerKey
    /** x-amz-server-side-encryption and its KMS headers: a copy onto the source itself then changes something. */
    sse?: SseRequest
  }
  /** COPY keeps the source's content type, headers and user metadata; REPLACE gives new ones. */
  metadata: { directive: 'COPY' } | ({ directive: 'REPLACE' } & ObjectMetadataInput)
  /** The checksum to store; by default the source's, when it is a whole-object one (recomputed). */
  checksumAlgorithm?: ChecksumAlgorithm
  /** Object Lock for the copy (never copied from the source); the bucket's default otherwise. */
  lockRequest?: LockRequest
  /** x-amz-tagging-directive: COPY (the default) keeps the source version's tags, REPLACE sets these. */
  tagging?: { directive: 'COPY' } | { directive: 'REPLACE'; tags: readonly Tag[] }
  /** The copy's ACL (x-amz-acl, x-amz-grant-*). */
  acl?: AclRequest
}

export interface UploadPartCopyInput {
  source: CopySource
  target: UploadAddress & { partNumber: number; sseC?: CustomerKey }
  /** Bytes first..last of the source (both included); the whole source when absent. */
  range?: { first: number; last: number }
}

/** The source object; a copy answers 412 where a read would answer 304. */
async function findSource(ctx: ServiceContext, actor: Actor, source: CopySource): Promise<StoredObject> {
  try {
    return await findObject(ctx, actor, source)
  } catch (e) {
    if (e instanceof ServiceError && e.code === 'NotModified') throw new ServiceError('PreconditionFailed')
    if (e instanceof ServiceError && e.code === 'MethodNotAllowed')
      throw new ServiceError(
        'InvalidRequest',
        'The source of a copy request may not specifically refer to a delete marker by version id.',
      )
    throw e
  }
}

/** The copy, and the version of the source it was made from (when the source bucket shows versions). */
export type CopiedObject = ObjectInfo & { sourceVersionId?: string }

export async function copyObject(ctx: ServiceContext, actor: Actor, input: CopyObjectInput): Promise<CopiedObject> {
  const { target, metadata } = input
  const source = await findSource(ctx, actor, input.source)
  const { info } = source
  if (info.size > MAX_COPY_BYTES) {
    throw new ServiceError(
      'InvalidRequest',
      `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_COPY_BYTES}`,
    )
  }
  const bucket = await bucketFor(ctx, actor, target.bucket)
  const unchanged = metadata.directive === 'COPY' && !target.sseC && !target.sse
  // Copying an older version onto its own key is how S3 restores it (a new current version).
  const restoring = input.source.versionId !== undefined && source.row.versionId !== undefined
  if (info.bucket === target.bucket && info.key === target.key && unchanged && !restoring) {
    throw new ServiceError(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    )
  }
  const { contentType, headers, userMeta } = metadata.directive === 'REPLACE' ? metadata : info
  // A whole-object checksum survives the copy by recomputing it; composite ones cannot.
  const algorithm =
    input.checksumAlgorithm ?? (info.checksum?.type === 'FULL_OBJECT' ? info.checksum.algorithm : undefined)
  // Plaintext of the source: the write path encrypts it again for the target.
  const plaintext = await openStored(ctx, source, 0, info.size, input.source.sseC)
  const hashed = hashing(plaintext, ctx.platform, algorithm)
  const copy = await releasingSource(hashed, () =>
    writeObject(ctx, bucket, writerOf(actor, bucket), {
      bucket: target.bucket,
      key: target.key,
      sseC: target.sseC,
      sse: target.sse,
      contentType,
      headers,
      userMeta,
      ...hashed,
      length: info.size,
      // No body from the client: the copy's bytes are hashed here.
      lockRequest: { ...input.lockRequest, integrity: true },
      tags: input.tagging?.directive === 'REPLACE' ? input.tagging.tags : tagsOf(source.row),
      // S3 does not copy the source's ACL: the copy gets the request's, else the owner's full control.
      acl: input.acl,
      anonymousWriter: actor.anonymous === true,
    }),
  )
  return info.versionId !== undefined ? { ...copy, sourceVersionId: info.versionId } : copy
}

export async function uploadPartCopy(ctx: ServiceContext, actor: Actor, input: UploadPartCopyInput): Promise<PartInfo> {
  const upload = await findUpload(ctx, actor, input.target)
  const source = await findSource(ctx, actor, input.source)
  const size = source.info.size
  const { range } = input
  if (range && (range.last < range.first || range.last >= size)) {
    throw new ServiceError('InvalidRange', undefined, {
      RangeRequested: `bytes=${range.first}-${range.last}`,
      ActualObjectSize: String(size),
    })
  }
  const start = range?.first ?? 0
  const end = range ? range.last + 1 : size
  if (end - start > MAX_COPY_BYTES) throw new ServiceError('EntityTooLarge')
  const plaintext = await openStored(ctx, source, start, end, input.source.sseC)
  const hashed = hashing(plaintext, ctx.platform, upload.info.checksumAlgorithm)
  return releasingSource(hashed, () =>
    storePart(ctx, upload, {
      partNumber: input.target.partNumber,
      sseC: input.target.sseC,
      ...hashed,
      length: end - start,
    }),
  )
}

/**
 * Runs the write of a copy; if it fails, cancels the source read. The source was opened (its
 * first stripe read) before the write's own checks, and a write refused before it takes the body
 * would leave the read open: its shard streams, over nodes a connection and a node response each.
 * A body the writer did take is its to cancel (it is locked then, and this cancel does nothing).
 */
async function releasingSource<T>(source: BodyInput, write: () => Promise<T>): Promise<T> {
  try {
    return await write()
  } catch (e) {
    await source.body.cancel(e).catch(() => {})
    throw e
  }
}

/** Passes the bytes through while computing the ETag (MD5) and, when asked, a checksum. */
function hashing(source: ReadableStream<Uint8Array>, platform: Platform, algorithm?: ChecksumAlgorithm): BodyInput {
  const md5 = platform.createHasher('md5')
  const checksum = algorithm ? createChecksum(algorithm, platform) : undefined
  let result: Digests | undefined
  const body = source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, out) {
        md5.update(chunk)
        checksum?.update(chunk)
        out.enqueue(chunk)
      },
      flush() {
        result = { etag: `"${toHex(md5.digest())}"` }
        if (algorithm && checksum)
          result.checksum = { algorithm, type: 'FULL_OBJECT', value: toBase64(checksum.digest()) }
      },
    }),
  )
  return {
    body,
    digests() {
      if (!result) throw new Error('copy digests read before the source was read to its end')
      return result
    },
  }
}
