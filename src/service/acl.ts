/**
 * ACLs of buckets and object versions (Get/PutBucketAcl, Get/PutObjectAcl, canned ACLs and
 * grants on writes), and what they allow in the authorization step (access.ts). As on AWS: with
 * Object Ownership BucketOwnerEnforced ACLs are disabled (only "the owner has full control" may
 * be set, and none is evaluated); a public ACL is refused under BlockPublicAcls and ignored under
 * IgnorePublicAcls; grantees are this namespace's canonical id or the groups — never another
 * namespace.
 */
import * as meta from '../meta/index.ts'
import {
  type Acl,
  AclError,
  aclGrants,
  aclText,
  ANONYMOUS_CANONICAL_ID,
  bucketPermissionFor,
  type Caller,
  cannedAcl,
  type Grant,
  isOwnerOnly,
  isPublicAcl,
  objectPermissionFor,
  parseAclText,
} from '../policy/index.ts'
import { canonicalId } from './canonical-id.ts'
import { DEFAULT_OBJECT_OWNERSHIP, type ObjectOwnership } from './bucket-access.ts'
import type { ServiceContext } from './context.ts'
import { ServiceError, type ServiceErrorCode } from './errors.ts'
import { type Actor, bucketFor } from './identities.ts'
import { effectivePublicAccessBlock } from './public-access.ts'

/** What a request asks for: a canned ACL, grant headers, or a whole AccessControlPolicy document. */
export interface AclRequest {
  canned?: string
  grants?: Grant[]
  /** PutBucketAcl / PutObjectAcl body (its owner is checked against the resource's). */
  policy?: Acl
}

const ownershipOf = (b: meta.BucketRow): ObjectOwnership =>
  (b.ownership as ObjectOwnership | null) ?? DEFAULT_OBJECT_OWNERSHIP

const fail = (e: unknown): never => {
  if (e instanceof AclError) throw new ServiceError(e.code as ServiceErrorCode, e.message)
  throw e
}

/**
 * The ACL a request sets on a resource owned by `ownerId` in `bucket`, validated as S3 does, or
 * undefined when the request sets none. Throws S3's errors: both a canned ACL and grants
 * (InvalidRequest), a grantee of another namespace (InvalidArgument), anything but "owner has
 * full control" with ACLs disabled (AccessControlListNotSupported), a public ACL under
 * BlockPublicAcls (AccessDenied).
 */
async function resolve(
  ctx: ServiceContext,
  bucket: meta.BucketRow,
  req: AclRequest,
  ownerId: string,
  forBucket: boolean,
): Promise<Acl | undefined> {
  if (req.canned !== undefined && req.grants !== undefined)
    throw new ServiceError('InvalidRequest', 'Specifying both Canned ACLs and Header Grants is not allowed')
  if ((req.canned !== undefined || req.grants !== undefined) && req.policy !== undefined)
    throw new ServiceError('UnexpectedContent', 'This request does not support content')
  const bucketOwner = canonicalId(ctx, bucket.namespace)
  let acl: Acl | undefined
  try {
    if (req.canned !== undefined) acl = cannedAcl(req.canned, ownerId, bucketOwner, forBucket)
    else if (req.grants !== undefined) acl = { owner: ownerId, grants: req.grants }
    else if (req.policy !== undefined) {
      if (req.policy.owner !== '' && req.policy.owner !== ownerId) throw new ServiceError('AccessDenied')
      acl = { owner: ownerId, grants: req.policy.grants }
    }
  } catch (e) {
    fail(e)
  }
  if (!acl) return undefined
  for (const g of acl.grants) {
    // Nothing crosses a namespace: the only canonical ids a grant may name are this one's
    // (and the anonymous owner of an anonymously written object).
    if (g.grantee.type === 'CanonicalUser' && g.grantee.id !== bucketOwner && g.grantee.id !== ownerId)
      throw new ServiceError('InvalidArgument', 'Invalid id')
  }
  if (ownershipOf(bucket) === 'BucketOwnerEnforced') {
    if (!isOwnerOnly(acl, bucketOwner)) throw new ServiceError('AccessControlListNotSupported')
    // ACLs disabled: nothing is stored, the owner's full control is what Get*Acl shows.
    return { owner: bucketOwner, grants: [] }
  }
  if (isPublicAcl(acl) && (await effectivePublicAccessBlock(ctx, bucket)).BlockPublicAcls)
    throw new ServiceError('AccessDenied', 'Access Denied: public ACLs are blocked by the BlockPublicAcls setting.')
  return acl
}

/** The stored text for a default ACL is null; anything else is the JSON. */
const stored = (acl: Acl, bucketOwner: string): string | null =>
  acl.grants.length === 0 || (acl.owner === bucketOwner && isOwnerOnly(acl, bucketOwner) && acl.grants.length === 1)
    ? null
    : aclText(acl)

/** The owner's full control: what a resource without an ACL of its own has. */
const ownerOnly = (owner: string): Acl => ({
  owner,
  grants: [{ grantee: { type: 'CanonicalUser', id: owner }, permission: 'FULL_CONTROL' }],
})

/** A bucket's ACL as stored (the owner's full control when none). */
export function bucketAclOf(ctx: ServiceContext, bucket: meta.BucketRow): Acl {
  const owner = canonicalId(ctx, bucket.namespace)
  return parseAclText(bucket.acl, owner) ?? ownerOnly(owner)
}

/** A version's ACL as stored (its bucket owner's full control when none). */
export function objectAclOf(ctx: ServiceContext, bucket: meta.BucketRow, row: meta.ObjectRow): Acl {
  const owner = canonicalId(ctx, bucket.namespace)
  return parseAclText(row.acl, owner) ?? ownerOnly(owner)
}

export async function getBucketAcl(ctx: ServiceContext, actor: Actor, name: string): Promise<Acl> {
  return bucketAclOf(ctx, await bucketFor(ctx, actor, name))
}

export async function putBucketAcl(ctx: ServiceContext, actor: Actor, name: string, req: AclRequest): Promise<void> {
  const bucket = await bucketFor(ctx, actor, name)
  const owner = canonicalId(ctx, bucket.namespace)
  const acl = await resolve(ctx, bucket, req, owner, true)
  if (!acl) throw new ServiceError('MalformedACLError')
  if (!(await meta.setBucketAccess(ctx.db, bucket.name, bucket.id, { acl: stored(acl, owner) })))
    throw new ServiceError('NoSuchBucket', undefined, { BucketName: name })
}

/** The ACL CreateBucket sets (x-amz-acl / x-amz-grant-*), judged against the new bucket's settings. */
export async function bucketAclForCreate(
  ctx: ServiceContext,
  namespace: string,
  settings: Pick<meta.BucketRow, 'name' | 'ownership' | 'publicAccessBlock'>,
  req: AclRequest,
): Promise<string | null> {
  const probe = { ...settings, namespace, acl: null } as meta.BucketRow
  if (ownershipOf(probe) === 'BucketOwnerEnforced') {
    const owner = canonicalId(ctx, namespace)
    const acl = await resolve(ctx, probe, req, owner, true).catch((e: unknown) => {
      if (e instanceof ServiceError && e.code === 'AccessControlListNotSupported')
        throw new ServiceError('InvalidBucketAclWithObjectOwnership')
      throw e
    })
    return acl ? stored(acl, owner) : null
  }
  const acl = await resolve(ctx, probe, req, canonicalId(ctx, namespace), true)
  return acl ? stored(acl, canonicalId(ctx, namespace)) : null
}

/** The version an object ACL request is about: the one named, else the current one (not a delete marker). */
async function versionFor(
  ctx: ServiceContext,
  bucket: meta.BucketRow,
  key: string,
  versionId: string | undefined,
): Promise<meta.ObjectRow> {
  if (versionId !== undefined) {
    const row = await meta.getVersion(ctx.db, bucket.name, key, versionId)
    if (!row) throw new ServiceError('NoSuchVersion', undefined, { Key: key, VersionId: versionId })
    if (row.deleteMarker) throw new ServiceError('MethodNotAllowed', undefined, {}, { versionId, deleteMarker: true })
    return row
  }
  const row = await meta.getObject(ctx.db, bucket.name, key)
  if (!row || row.deleteMarker) throw new ServiceError('NoSuchKey', undefined, { Key: key })
  return row
}

export async function getObjectAcl(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
  key: string,
  versionId?: string,
): Promise<{ acl: Acl; versionId: string }> {
  const bucket = await bucketFor(ctx, actor, name)
  const row = await versionFor(ctx, bucket, key, versionId)
  return { acl: objectAclOf(ctx, bucket, row), versionId: row.versionId }
}

export async function putObjectAcl(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
  key: string,
  req: AclRequest,
  versionId?: string,
): Promise<{ versionId: string }> {
  const bucket = await bucketFor(ctx, actor, name)
  const row = await versionFor(ctx, bucket, key, versionId)
  const owner = objectAclOf(ctx, bucket, row).owner
  const acl = await resolve(ctx, bucket, req, owner, false)
  if (!acl) throw new ServiceError('MalformedACLError')
  if (
    !(await meta.setVersionAcl(
      ctx.db,
      bucket.name,
      key,
      row.versionId,
      stored(acl, canonicalId(ctx, bucket.namespace)),
    ))
  )
    throw new ServiceError('NoSuchKey', undefined, { Key: key })
  return { versionId: row.versionId }
}

/**
 * The ACL text a new object version gets (PutObject, CopyObject, CreateMultipartUpload, POST):
 * null for the bucket owner's full control. The owner is the bucket's namespace, except an
 * anonymous writer's object on an ObjectWriter bucket (or BucketOwnerPreferred without
 * bucket-owner-full-control), which S3 gives to the anonymous owner.
 */
export async function newObjectAcl(
  ctx: ServiceContext,
  bucket: meta.BucketRow,
  req: AclRequest,
  anonymousWriter: boolean,
): Promise<string | null> {
  const bucketOwner = canonicalId(ctx, bucket.namespace)
  const ownership = ownershipOf(bucket)
  const toBucketOwner =
    !anonymousWriter ||
    ownership === 'BucketOwnerEnforced' ||
    (ownership === 'BucketOwnerPreferred' && req.canned === 'bucket-owner-full-control')
  const owner = toBucketOwner ? bucketOwner : ANONYMOUS_CANONICAL_ID
  const acl = (await resolve(ctx, bucket, req, owner, false)) ?? (toBucketOwner ? undefined : ownerOnly(owner))
  if (!acl) return null
  return owner === bucketOwner ? stored(acl, bucketOwner) : aclText(acl)
}

/**
 * Does an ACL let `caller` do `action` on `resource` (the authorization step's last resort, after
 * the policies left it implicitly denied)? Only on buckets that enable ACLs; an object action
 * reads the version's ACL (`versionId`, else the current version). `writing`: the request writes
 * a new object, whose ACL and tagging the bucket's WRITE grant covers.
 */
export async function aclAllows(
  ctx: ServiceContext,
  bucket: meta.BucketRow,
  caller: Caller,
  action: string,
  key: string | undefined,
  versionId: string | undefined,
  writing: boolean,
): Promise<boolean> {
  if (ownershipOf(bucket) === 'BucketOwnerEnforced') return false
  const ignorePublic = (await effectivePublicAccessBlock(ctx, bucket)).IgnorePublicAcls
  const lower = action.toLowerCase()
  const onBucket =
    bucketPermissionFor(action) ??
    (writing && (lower === 's3:putobjectacl' || lower === 's3:putobjecttagging') ? 'WRITE' : undefined)
  if (onBucket && aclGrants(bucketAclOf(ctx, bucket), caller, onBucket, ignorePublic)) return true
  const onObject = objectPermissionFor(action)
  if (!onObject || key === undefined || writing) return false
  const row =
    versionId !== undefined && versionId !== ''
      ? await meta.getVersion(ctx.db, bucket.name, key, versionId)
      : await meta.getObject(ctx.db, bucket.name, key)
  if (!row || row.deleteMarker) return false
  return aclGrants(objectAclOf(ctx, bucket, row), caller, onObject, ignorePublic)
}

/** The ACL a new object would get, judged without writing (the early check before a body is read). */
export async function checkNewObjectAcl(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
  req: AclRequest,
): Promise<void> {
  const bucket = await bucketFor(ctx, actor, name)
  await newObjectAcl(ctx, bucket, req, actor.anonymous === true)
}
