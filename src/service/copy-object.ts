/**
 * The source side of CopyObject and UploadPartCopy: find the source object, check the
 * x-amz-copy-source-if-* conditions (every failure is 412 for copies), and stream a range of it.
 * The protocol layer hashes that stream and hands it to putObject / uploadPart as a body.
 */
import type { ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'
import type { Actor } from './identities.ts'
import type { ReadConditions } from './conditions.ts'
import { openObject, statObject } from './get-object.ts'
import type { ObjectInfo } from './put-object.ts'

export async function statCopySource(ctx: ServiceContext, actor: Actor, bucket: string, key: string, conditions: ReadConditions): Promise<ObjectInfo> {
  try {
    return await statObject(ctx, actor, bucket, key, conditions)
  } catch (e) {
    if (e instanceof ServiceError && e.code === 'NotModified') throw new ServiceError('PreconditionFailed')
    throw e
  }
}

export const openCopySource = (ctx: ServiceContext, source: ObjectInfo, start: number, end: number): Promise<ReadableStream<Uint8Array>> =>
  openObject(ctx, source, start, end)
