/** Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation (versioning: ./versions.ts). */
import { createBucket, deleteBucket, headBucket, listBuckets } from '../../service/index.ts'
import { bucketNameProblem } from '../bucket-names.ts'
import { emptyResponse, type OpContext, xmlResponse } from '../context.ts'
import { S3Error } from '../errors.ts'
import { listAllMyBucketsXml, locationConstraintXml } from '../xml/documents.ts'
import { parseCreateBucketConfiguration } from '../xml/read.ts'

/** CreateBucketConfiguration bodies are tiny; anything larger is not one. */
const MAX_CONFIG_BYTES = 64 * 1024

export async function handleListBuckets(op: OpContext): Promise<Response> {
  const buckets = await listBuckets(op.service, op.actor)
  return xmlResponse(
    listAllMyBucketsXml({
      owner: { id: op.actor.accessKeyId, displayName: op.actor.displayName },
      buckets: buckets.map((b) => ({ name: b.name, creationDate: b.createdAt, region: b.region })),
    }),
  )
}

export async function handleCreateBucket(op: OpContext): Promise<Response> {
  const problem = bucketNameProblem(op.bucket)
  if (problem) throw new S3Error('InvalidBucketName', problem, { BucketName: op.bucket })
  const config = await parseCreateBucketConfiguration(op.body().stream, MAX_CONFIG_BYTES)
  const constraint = config.locationConstraint
  if (constraint && constraint !== op.region) {
    throw new S3Error(
      'InvalidLocationConstraint',
      `The specified location-constraint '${constraint}' is not valid for this endpoint, which serves ${op.region}.`,
      { LocationConstraint: constraint },
    )
  }
  const lock = op.headers.get('x-amz-bucket-object-lock-enabled')?.toLowerCase() === 'true'
  await createBucket(op.service, op.actor, op.bucket, op.region, { objectLock: lock })
  return emptyResponse(200, { location: `/${op.bucket}` })
}

export async function handleHeadBucket(op: OpContext): Promise<Response> {
  const b = await headBucket(op.service, op.actor, op.bucket)
  return emptyResponse(200, { 'x-amz-bucket-region': b.region })
}

export async function handleDeleteBucket(op: OpContext): Promise<Response> {
  await deleteBucket(op.service, op.actor, op.bucket)
  return emptyResponse(204)
}

export async function handleGetBucketLocation(op: OpContext): Promise<Response> {
  const b = await headBucket(op.service, op.actor, op.bucket)
  return xmlResponse(locationConstraintXml(b.region))
}
