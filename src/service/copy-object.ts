/**
 * The source side of CopyObject and UploadPartCopy: find the source object, check the
 * x-amz-copy-source-if-* conditions (every failure is 412 for copies), and stream a range of it.
 * The protocol layer hashes that stream and hands it to putObject / uploadPart as a body.
 */
import type { SseCKey } from '../crypto/index.ts'
import type { ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'
import type { Actor } from './identities.ts'
import type { ReadConditions } from './conditions.ts'
import { openObject, statObject } from './get-object.ts'
import type { ObjectInfo } from './put-object.ts'

/** `sseC`: the x-amz-copy-source-server-side-encryption-customer-* key of an SSE-C source. */
export async function statCopySource(
  ctx: ServiceContext,
  actor: Actor,
  bucket: string,
  key: string,
  conditions: ReadConditions,
  sseC?: SseCKey,
): Promise<ObjectInfo> {
  try {
    return await statObject(ctx, actor, bucket, key, conditions, sseC)
  } catch (e) {
    if (e instanceof ServiceError && e.code === 'NotModified') throw new ServiceError('PreconditionFailed')
    throw e
  }
}

/** Plaintext of the source: the put path re-encrypts it for the target's namespace or key. */
export const openCopySource = (
  ctx: ServiceContext,
  source: ObjectInfo,
  start: number,
  end: number,
  sseC?: SseCKey,
): Promise<ReadableStream<Uint8Array>> => openObject(ctx, source, start, end, sseC)
