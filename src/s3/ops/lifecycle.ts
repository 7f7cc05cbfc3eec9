/**
 * Bucket lifecycle over S3: Get/Put/DeleteBucketLifecycleConfiguration, and the x-amz-expiration
 * header of PUT/GET/HEAD. Validation is the service's (src/service/lifecycle/rules.ts); the
 * background worker applies the rules (src/service/lifecycle/worker.ts).
 */
import { deleteBucketLifecycle, getBucketLifecycle, putBucketLifecycle } from '../../service/index.ts'
import { digestTap, parseChecksumRequest } from '../auth/checksums.ts'
import { emptyResponse, type OpContext, xmlResponse } from '../context.ts'
import { S3Error } from '../errors.ts'
import { httpDate } from '../headers.ts'
import { lifecycleConfigurationXml, parseLifecycleConfiguration, TransitionRequested } from '../xml/documents.ts'

/** `x-amz-expiration: expiry-date="…", rule-id="…"` when a rule will expire the version. */
export const expirationHeaders = (o: { expiration?: { at: Date; ruleId: string } }): Record<string, string> =>
  o.expiration
    ? {
        'x-amz-expiration': `expiry-date="${httpDate(o.expiration.at)}", rule-id="${o.expiration.ruleId.replace(/["\\]/g, '\\$&')}"`,
      }
    : {}

export async function handleGetBucketLifecycleConfiguration(op: OpContext): Promise<Response> {
  return xmlResponse(lifecycleConfigurationXml(await getBucketLifecycle(op.service, op.actor, op.bucket)))
}

export async function handlePutBucketLifecycleConfiguration(op: OpContext): Promise<Response> {
  const body = op.body()
  const contentMd5 = op.headers.get('content-md5') ?? undefined
  const checksum = parseChecksumRequest(op.headers)
  const verified = digestTap(body.stream, { contentMd5, checksum, trailers: () => body.trailers() }, op.platform)
  let rules: Awaited<ReturnType<typeof parseLifecycleConfiguration>>
  try {
    rules = await parseLifecycleConfiguration(verified.stream)
  } catch (e) {
    if (e instanceof TransitionRequested)
      throw new S3Error(
        'InvalidStorageClass',
        'Transition and NoncurrentVersionTransition are not supported: Coffer has one storage class (STANDARD).',
      )
    throw e
  }
  await putBucketLifecycle(op.service, op.actor, op.bucket, rules)
  return emptyResponse(200)
}

export async function handleDeleteBucketLifecycleConfiguration(op: OpContext): Promise<Response> {
  await deleteBucketLifecycle(op.service, op.actor, op.bucket)
  return emptyResponse(204)
}
