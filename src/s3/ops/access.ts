/**
 * Bucket access settings: Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus,
 * Put/Get/DeletePublicAccessBlock, Put/Get/DeleteBucketOwnershipControls, and the ACL
 * ACL operations (Get/PutBucketAcl, Get/PutObjectAcl; service/acl.ts decides).
 */
import type { Acl } from '../../policy/index.ts'
import {
  type AclRequest,
  bucketPolicyStatus,
  canonicalId,
  deleteBucketOwnership,
  deleteBucketPolicy,
  deleteBucketPublicAccessBlock,
  getBucketAcl,
  getBucketOwnership,
  getObjectAcl,
  getBucketPolicy,
  getBucketPublicAccessBlock,
  OBJECT_OWNERSHIP_VALUES,
  type ObjectOwnership,
  PUBLIC_ACCESS_SWITCHES,
  putBucketAcl,
  putBucketOwnership,
  putBucketPolicy,
  putBucketPublicAccessBlock,
  putObjectAcl,
} from '../../service/index.ts'
import { emptyResponse, type OpContext, xmlResponse } from '../context.ts'
import { S3Error } from '../errors.ts'
import { parseAccessControlPolicy, parseOwnershipControls, parsePublicAccessBlockConfiguration } from '../xml/read.ts'
import { aclRequestOf } from '../acl-request.ts'
import { readBodyBytes } from '../xml/tree.ts'
import { el, elWithAttrs, S3_XMLNS, xmlDocument } from '../xml/write.ts'

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

/** An ACL as S3 shows it (AccessControlPolicy); the namespace's canonical id shows its name. */
function aclResponse(op: OpContext, acl: Acl, headers: Record<string, string> = {}): Response {
  const nsId = canonicalId(op.service, op.actor.namespace)
  const display = (id: string) => (id === nsId ? el('DisplayName', op.actor.namespace) : null)
  const owner = el('Owner', el('ID', acl.owner), display(acl.owner))
  const grants = acl.grants.map((g) =>
    el(
      'Grant',
      g.grantee.type === 'CanonicalUser'
        ? elWithAttrs(
            'Grantee',
            { 'xmlns:xsi': XSI, 'xsi:type': 'CanonicalUser' },
            el('ID', g.grantee.id),
            display(g.grantee.id),
          )
        : elWithAttrs('Grantee', { 'xmlns:xsi': XSI, 'xsi:type': 'Group' }, el('URI', g.grantee.uri)),
      el('Permission', g.permission),
    ),
  )
  const res = xmlResponse(
    xmlDocument(elWithAttrs('AccessControlPolicy', { xmlns: S3_XMLNS }, owner, el('AccessControlList', ...grants))),
  )
  for (const [k, v] of Object.entries(headers)) res.headers.set(k, v)
  return res
}
const XSI = 'http://www.w3.org/2001/XMLSchema-instance'

/** The ACL a Put*Acl request sets: its headers, else its AccessControlPolicy body. */
async function aclRequestWithBody(op: OpContext): Promise<AclRequest> {
  const fromHeaders = aclRequestOf(op.headers)
  const policy = await parseAccessControlPolicy(op.body().stream)
  return { ...fromHeaders, ...(policy ? { policy } : {}) }
}

const versionIdOf = (op: OpContext): string | undefined => op.query.get('versionId') ?? undefined

export async function handleGetBucketAcl(op: OpContext): Promise<Response> {
  return aclResponse(op, await getBucketAcl(op.service, op.actor, op.bucket))
}

export async function handlePutBucketAcl(op: OpContext): Promise<Response> {
  await putBucketAcl(op.service, op.actor, op.bucket, await aclRequestWithBody(op))
  return emptyResponse(200)
}

export async function handleGetObjectAcl(op: OpContext): Promise<Response> {
  const { acl, versionId } = await getObjectAcl(op.service, op.actor, op.bucket, op.key, versionIdOf(op))
  return aclResponse(op, acl, versionId !== 'null' ? { 'x-amz-version-id': versionId } : {})
}

export async function handlePutObjectAcl(op: OpContext): Promise<Response> {
  const req = await aclRequestWithBody(op)
  const { versionId } = await putObjectAcl(op.service, op.actor, op.bucket, op.key, req, versionIdOf(op))
  const res = emptyResponse(200)
  if (versionId !== 'null') res.headers.set('x-amz-version-id', versionId)
  return res
}
