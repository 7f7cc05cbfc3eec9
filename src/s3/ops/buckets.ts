/** Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation (versioning: ./versions.ts). */
import { aclRequestOf } from '../acl-request.ts'
import {
  createBucket,
  deleteBucket,
  headBucket,
  listBuckets,
  OBJECT_OWNERSHIP_VALUES,
  type ObjectOwnership,
} from '../../service/index.ts'
import { bucketNameProblem } from '../bucket-names.ts'
import { emptyResponse, type OpContext, xmlResponse } from '../context.ts'
import { decodeContinuationToken, encodeContinuationToken } from '../continuation-token.ts'
import { S3Error } from '../errors.ts'
import { listAllMyBucketsXml, locationConstraintXml } from '../xml/documents.ts'
import { parseCreateBucketConfiguration } from '../xml/read.ts'

/** CreateBucketConfiguration bodies are tiny; anything larger is not one. */
const MAX_CONFIG_BYTES = 64 * 1024

/** S3's ListBuckets page size: the default once any paging parameter is given, and the most allowed. */
export const MAX_BUCKETS = 10_000

/** `max-buckets`: an integer from 1 to 10,000, else 400 InvalidArgument (as S3 answers). */
function readMaxBuckets(query: URLSearchParams): number {
  const raw = query.get('max-buckets')
  if (raw === null) return MAX_BUCKETS
  const n = Number(raw)
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_BUCKETS)
    throw new S3Error('InvalidArgument', 'Argument max-buckets must be an integer between 1 and 10000', {
      ArgumentName: 'max-buckets',
      ArgumentValue: raw,
    })
  return n
}

/**
 * ListBuckets with S3's paging (`max-buckets`, `continuation-token`) and filters (`prefix`,
 * `bucket-region`). A namespace holds few buckets, so the page is cut from the full list here.
 */
export async function handleListBuckets(op: OpContext): Promise<Response> {
  const q = op.query
  const maxBuckets = readMaxBuckets(q)
  const prefix = q.get('prefix') ?? undefined
  const region = q.get('bucket-region') || undefined
  const token = q.get('continuation-token') || undefined
  const after = token !== undefined ? decodeContinuationToken(op.platform, token) : undefined
  const all = (await listBuckets(op.service, op.actor)).filter(
    (b) =>
      (prefix === undefined || b.name.startsWith(prefix)) &&
      (region === undefined || b.region === region) &&
      (after === undefined || b.name > after),
  )
  const page = all.slice(0, maxBuckets)
  const more = all.length > page.length
  return xmlResponse(
    listAllMyBucketsXml({
      owner: { id: op.actor.accessKeyId, displayName: op.actor.displayName },
      buckets: page.map((b) => ({ name: b.name, creationDate: b.createdAt, region: b.region })),
      continuationToken: more ? encodeContinuationToken(op.platform, page.at(-1)!.name) : undefined,
      prefix,
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
  const ownership = op.headers.get('x-amz-object-ownership') ?? undefined
  if (ownership !== undefined && !(OBJECT_OWNERSHIP_VALUES as readonly string[]).includes(ownership))
    throw new S3Error('InvalidArgument', `Invalid x-amz-object-ownership header: ${ownership}`)
  await createBucket(op.service, op.actor, op.bucket, op.region, {
    objectLock: lock,
    ownership: ownership as ObjectOwnership | undefined,
    acl: aclRequestOf(op.headers),
  })
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
