/**
 * Bucket access settings: Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus,
 * Put/Get/DeletePublicAccessBlock, Put/Get/DeleteBucketOwnershipControls, and the ACL
 * operations as S3 answers them with ACLs disabled (Object Ownership BucketOwnerEnforced).
 */
import {
  bucketOwnership,
  bucketPolicyStatus,
  canonicalId,
  deleteBucketOwnership,
  deleteBucketPolicy,
  deleteBucketPublicAccessBlock,
  getBucketOwnership,
  getBucketPolicy,
  getBucketPublicAccessBlock,
  headBucket,
  OBJECT_OWNERSHIP_VALUES,
  type ObjectOwnership,
  PUBLIC_ACCESS_SWITCHES,
  putBucketOwnership,
  putBucketPolicy,
  putBucketPublicAccessBlock,
  statObject,
} from '../../service/index.ts'
import { emptyResponse, type OpContext, xmlResponse } from '../context.ts'
import { S3Error } from '../errors.ts'
import { parseOwnershipControls, parsePublicAccessBlockConfiguration } from '../xml/read.ts'
import { readBodyBytes } from '../xml/tree.ts'
import { el, elWithAttrs, S3_XMLNS, xmlDocument } from '../xml/write.ts'
import { readSseC } from '../sse.ts'

/** A bucket policy is at most 20 KiB (MalformedPolicy past that); a little more is read to say so. */
const MAX_POLICY_BODY = 64 * 1024

export async function handlePutBucketPolicy(op: OpContext): Promise<Response> {
  const bytes = await readBodyBytes(op.body().stream, MAX_POLICY_BODY)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new S3Error('MalformedPolicy', 'Policies must be valid JSON')
  }
  await putBucketPolicy(op.service, op.actor, op.bucket, text)
  return emptyResponse(204)
}

export async function handleGetBucketPolicy(op: OpContext): Promise<Response> {
  const text = await getBucketPolicy(op.service, op.actor, op.bucket)
  return new Response(text, { status: 200, headers: { 'content-type': 'application/json' } })
}

export async function handleDeleteBucketPolicy(op: OpContext): Promise<Response> {
  await deleteBucketPolicy(op.service, op.actor, op.bucket)
  return emptyResponse(204)
}

export async function handleGetBucketPolicyStatus(op: OpContext): Promise<Response> {
  const { isPublic } = await bucketPolicyStatus(op.service, op.actor, op.bucket)
  return xmlResponse(xmlDocument(elWithAttrs('PolicyStatus', { xmlns: S3_XMLNS }, el('IsPublic', isPublic))))
}

export async function handlePutPublicAccessBlock(op: OpContext): Promise<Response> {
  const block = await parsePublicAccessBlockConfiguration(op.body().stream)
  await putBucketPublicAccessBlock(op.service, op.actor, op.bucket, block)
  return emptyResponse(200)
}

export async function handleGetPublicAccessBlock(op: OpContext): Promise<Response> {
  const block = await getBucketPublicAccessBlock(op.service, op.actor, op.bucket)
  return xmlResponse(
    xmlDocument(
      elWithAttrs(
        'PublicAccessBlockConfiguration',
        { xmlns: S3_XMLNS },
        PUBLIC_ACCESS_SWITCHES.map((k) => el(k, block[k])),
      ),
    ),
  )
}

export async function handleDeletePublicAccessBlock(op: OpContext): Promise<Response> {
  await deleteBucketPublicAccessBlock(op.service, op.actor, op.bucket)
  return emptyResponse(204)
}

export async function handlePutBucketOwnershipControls(op: OpContext): Promise<Response> {
  const value = await parseOwnershipControls(op.body().stream)
  if (!(OBJECT_OWNERSHIP_VALUES as readonly string[]).includes(value)) throw new S3Error('MalformedXML')
  await putBucketOwnership(op.service, op.actor, op.bucket, value as ObjectOwnership)
  return emptyResponse(200)
}

export async function handleGetBucketOwnershipControls(op: OpContext): Promise<Response> {
  const value = await getBucketOwnership(op.service, op.actor, op.bucket)
  return xmlResponse(
    xmlDocument(elWithAttrs('OwnershipControls', { xmlns: S3_XMLNS }, el('Rule', el('ObjectOwnership', value)))),
  )
}

export async function handleDeleteBucketOwnershipControls(op: OpContext): Promise<Response> {
  await deleteBucketOwnership(op.service, op.actor, op.bucket)
  return emptyResponse(204)
}

/** The one ACL S3 keeps when ACLs are disabled: the bucket owner (the namespace) has full control. */
function ownerOnlyAcl(op: OpContext, namespace: string): Response {
  const id = canonicalId(op.service, namespace)
  const owner = el('Owner', el('ID', id), el('DisplayName', namespace))
  const grant = el(
    'Grant',
    elWithAttrs(
      'Grantee',
      { 'xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', 'xsi:type': 'CanonicalUser' },
      el('ID', id),
      el('DisplayName', namespace),
    ),
    el('Permission', 'FULL_CONTROL'),
  )
  return xmlResponse(
    xmlDocument(elWithAttrs('AccessControlPolicy', { xmlns: S3_XMLNS }, owner, el('AccessControlList', grant))),
  )
}

export async function handleGetBucketAcl(op: OpContext): Promise<Response> {
  await headBucket(op.service, op.actor, op.bucket)
  return ownerOnlyAcl(op, op.actor.namespace)
}

export async function handleGetObjectAcl(op: OpContext): Promise<Response> {
  await statObject(op.service, op.actor, { bucket: op.bucket, key: op.key, sseC: readSseC(op.headers, op.platform) })
  return ownerOnlyAcl(op, op.actor.namespace)
}

/**
 * PutBucketAcl / PutObjectAcl: with ACLs disabled only "the owner has full control" is accepted
 * (the canned private or bucket-owner-full-control, without a body), as S3 does; Coffer does
 * not store other grants yet, so other ownership settings answer NotImplemented for them.
 */
async function putAcl(op: OpContext): Promise<Response> {
  const ownership = await bucketOwnership(op.service, op.actor, op.bucket)
  const canned = op.headers.get('x-amz-acl')
  const grants = [...op.headers.keys()].some((h) => h.startsWith('x-amz-grant-'))
  const body = await readBodyBytes(op.body().stream, 64 * 1024)
  const ownerOnly = !grants && body.length === 0 && (canned === 'private' || canned === 'bucket-owner-full-control')
  if (ownerOnly) return emptyResponse(200)
  if (ownership === 'BucketOwnerEnforced') throw new S3Error('AccessControlListNotSupported')
  throw new S3Error('NotImplemented', 'Coffer does not store ACL grants: use a bucket policy.')
}

export async function handlePutBucketAcl(op: OpContext): Promise<Response> {
  return putAcl(op)
}

export async function handlePutObjectAcl(op: OpContext): Promise<Response> {
  await statObject(op.service, op.actor, { bucket: op.bucket, key: op.key, sseC: readSseC(op.headers, op.platform) })
  return putAcl(op)
}
