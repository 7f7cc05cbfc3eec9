/** Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, GetBucketVersioning. */
import { bucketNameProblem } from '../bucket-names.ts'
import { emptyResponse, xmlResponse, type OpContext } from '../context.ts'
import { S3Error } from '../errors.ts'
import { parseCreateBucketConfiguration } from '../xml/read.ts'
import { listAllMyBucketsXml, locationConstraintXml, bucketVersioningXml } from '../xml/documents.ts'

/** CreateBucketConfiguration bodies are tiny; anything larger is not one. */
const MAX_CONFIG_BYTES = 64 * 1024

export async function listBuckets(ctx: OpContext): Promise<Response> {
  const buckets = await ctx.service.buckets.listBuckets(ctx.actor)
  return xmlResponse(
    listAllMyBucketsXml({
      owner: { id: ctx.actor.accessKeyId, displayName: ctx.actor.displayName },
      buckets: buckets.map((b) => ({ name: b.name, creationDate: b.createdAt, region: b.region })),
    }),
  )
}

export async function createBucket(ctx: OpContext): Promise<Response> {
  const problem = bucketNameProblem(ctx.bucket)
  if (problem) throw new S3Error('InvalidBucketName', problem, { BucketName: ctx.bucket })
  const config = await parseCreateBucketConfiguration(ctx.body().stream, MAX_CONFIG_BYTES)
  const constraint = config.locationConstraint
  if (constraint && constraint !== ctx.region) {
    throw new S3Error(
      'InvalidLocationConstraint',
      `The specified location-constraint '${constraint}' is not valid for this endpoint, which serves ${ctx.region}.`,
      { LocationConstraint: constraint },
    )
  }
  await ctx.service.buckets.createBucket(ctx.actor, ctx.bucket, ctx.region)
  return emptyResponse(200, { location: `/${ctx.bucket}` })
}

export async function headBucket(ctx: OpContext): Promise<Response> {
  const b = await ctx.service.buckets.headBucket(ctx.actor, ctx.bucket)
  return emptyResponse(200, { 'x-amz-bucket-region': b.region })
}

export async function deleteBucket(ctx: OpContext): Promise<Response> {
  await ctx.service.buckets.deleteBucket(ctx.actor, ctx.bucket)
  return emptyResponse(204)
}

export async function getBucketLocation(ctx: OpContext): Promise<Response> {
  const b = await ctx.service.buckets.headBucket(ctx.actor, ctx.bucket)
  return xmlResponse(locationConstraintXml(b.region))
}

/** Versioning is never enabled yet; clients (rclone, the AWS CLI) ask before they list. */
export async function getBucketVersioning(ctx: OpContext): Promise<Response> {
  await ctx.service.buckets.headBucket(ctx.actor, ctx.bucket)
  return xmlResponse(bucketVersioningXml())
}
