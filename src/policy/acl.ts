/**
 * Access control lists as S3 keeps them (buckets and object versions): an owner and grants of
 * READ, WRITE, READ_ACP, WRITE_ACP or FULL_CONTROL to a canonical user (a namespace: Coffer's
 * accounts) or a group (AllUsers, AuthenticatedUsers, LogDelivery). Canned ACLs, the
 * `x-amz-grant-*` headers, the stored JSON, and which actions a grant allows (AWS's "mapping of
 * ACL permissions and access policy permissions"). Pure: the service reads and stores them.
 */
import type { Caller } from './principals.ts'

export type AclPermission = 'READ' | 'WRITE' | 'READ_ACP' | 'WRITE_ACP' | 'FULL_CONTROL'
export const ACL_PERMISSIONS: readonly AclPermission[] = ['READ', 'WRITE', 'READ_ACP', 'WRITE_ACP', 'FULL_CONTROL']

export const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers'
export const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers'
export const LOG_DELIVERY = 'http://acs.amazonaws.com/groups/s3/LogDelivery'
const GROUPS = new Set([ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY])

/** The canonical id S3 shows as the owner of objects written anonymously (ObjectWriter buckets). */
export const ANONYMOUS_CANONICAL_ID = '65a011a29cdf8ec533ec3d1ccaae921c'

export type Grantee = { type: 'CanonicalUser'; id: string } | { type: 'Group'; uri: string }
export interface Grant {
  grantee: Grantee
  permission: AclPermission
}
export interface Acl {
  /** The owner's canonical id. */
  owner: string
  grants: Grant[]
}

/** An ACL the request got wrong: S3's error code and message. */
export class AclError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export const CANNED_BUCKET_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'authenticated-read',
  'log-delivery-write',
] as const
export const CANNED_OBJECT_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'authenticated-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
] as const

const owner = (id: string, permission: AclPermission = 'FULL_CONTROL'): Grant => ({
  grantee: { type: 'CanonicalUser', id },
  permission,
})
const group = (uri: string, permission: AclPermission): Grant => ({ grantee: { type: 'Group', uri }, permission })

/**
 * A canned ACL as AWS expands it. `bucketOwner` is the bucket's owner (bucket-owner-* on
 * objects); on a bucket, the bucket-owner-* names are accepted and mean `private`, as S3 does.
 */
export function cannedAcl(name: string, ownerId: string, bucketOwner: string, forBucket: boolean): Acl {
  const known: readonly string[] = forBucket
    ? [...CANNED_BUCKET_ACLS, 'bucket-owner-read', 'bucket-owner-full-control']
    : CANNED_OBJECT_ACLS
  if (!known.includes(name)) throw new AclError('InvalidArgument', `Invalid canned ACL: ${name}`)
  const grants = [owner(ownerId)]
  switch (name) {
    case 'public-read':
      grants.push(group(ALL_USERS, 'READ'))
      break
    case 'public-read-write':
      grants.push(group(ALL_USERS, 'READ'), group(ALL_USERS, 'WRITE'))
      break
    case 'authenticated-read':
      grants.push(group(AUTHENTICATED_USERS, 'READ'))
      break
    case 'log-delivery-write':
      grants.push(group(LOG_DELIVERY, 'WRITE'), group(LOG_DELIVERY, 'READ_ACP'))
      break
    case 'bucket-owner-read':
      if (!forBucket && bucketOwner !== ownerId) grants.push(owner(bucketOwner, 'READ'))
      break
    case 'bucket-owner-full-control':
      if (!forBucket && bucketOwner !== ownerId) grants.push(owner(bucketOwner))
      break
  }
  return { owner: ownerId, grants }
}

const GRANT_HEADERS: Record<string, AclPermission> = {
  'x-amz-grant-read': 'READ',
  'x-amz-grant-write': 'WRITE',
  'x-amz-grant-read-acp': 'READ_ACP',
  'x-amz-grant-write-acp': 'WRITE_ACP',
  'x-amz-grant-full-control': 'FULL_CONTROL',
}

/** A grantee as the headers and XML name it; e-mail grantees are refused (S3 keeps them for old regions only). */
function grantee(kind: string, value: string): Grantee {
  switch (kind.toLowerCase()) {
    case 'id':
      if (value === '') throw new AclError('InvalidArgument', 'Invalid id')
      return { type: 'CanonicalUser', id: value }
    case 'uri':
      if (!GROUPS.has(value)) throw new AclError('InvalidArgument', `Invalid group uri: ${value}`)
      return { type: 'Group', uri: value }
    case 'emailaddress':
      throw new AclError(
        'UnresolvableGrantByEmailAddress',
        'Grants by e-mail address are not supported: grant to a canonical id.',
      )
    default:
      throw new AclError('InvalidArgument', `Invalid grantee type: ${kind}`)
  }
}

/**
 * The `x-amz-grant-*` headers (`id="…", uri="…"` lists); undefined when none is sent.
 * `header` reads a header by lower-case name.
 */
export function grantsFromHeaders(header: (name: string) => string | null): Grant[] | undefined {
  let any = false
  const grants: Grant[] = []
  for (const [name, permission] of Object.entries(GRANT_HEADERS)) {
    const v = header(name)
    if (v === null) continue
    any = true
    for (const part of v.split(',')) {
      const item = part.trim()
      if (item === '') continue
      const m = /^([A-Za-z]+)\s*=\s*"?([^"]*)"?$/.exec(item)
      if (!m) throw new AclError('InvalidArgument', `Invalid grant header value: ${item}`)
      grants.push({ grantee: grantee(m[1]!, m[2]!.trim()), permission })
    }
  }
  return any ? grants : undefined
}

/** A grantee of the XML form (`xsi:type` CanonicalUser / Group / AmazonCustomerByEmail). */
export function granteeFromXml(type: string, id?: string, uri?: string, email?: string): Grantee {
  if (type === 'CanonicalUser' && id !== undefined) return grantee('id', id)
  if (type === 'Group' && uri !== undefined) return grantee('uri', uri)
  if (type === 'AmazonCustomerByEmail' && email !== undefined) return grantee('emailAddress', email)
  throw new AclError(
    'MalformedACLError',
    'The XML you provided was not well-formed or did not validate against our published schema',
  )
}

export function isAclPermission(v: string): v is AclPermission {
  return (ACL_PERMISSIONS as readonly string[]).includes(v)
}

/** Does the ACL grant anything to AllUsers or AuthenticatedUsers (Block Public Access's "public ACL")? */
export function isPublicAcl(acl: Acl): boolean {
  return acl.grants.some(
    (g) => g.grantee.type === 'Group' && (g.grantee.uri === ALL_USERS || g.grantee.uri === AUTHENTICATED_USERS),
  )
}

/** Only "the owner has full control": what S3 accepts with ACLs disabled. */
export function isOwnerOnly(acl: Acl, bucketOwner: string): boolean {
  return acl.grants.every(
    (g) => g.grantee.type === 'CanonicalUser' && g.grantee.id === bucketOwner && g.permission === 'FULL_CONTROL',
  )
}

/** FORMAT: the stored JSON of an ACL (buckets.acl, objects.acl, multipart_uploads.acl; docs/formats.md). */
export const aclText = (acl: Acl): string => JSON.stringify({ owner: acl.owner, grants: acl.grants })

/** The stored JSON back; undefined for null. Unreadable text grants nothing but the owner's (fail closed). */
export function parseAclText(text: string | null | undefined, fallbackOwner: string): Acl | undefined {
  if (text === null || text === undefined) return undefined
  try {
    const v = JSON.parse(text) as { owner?: unknown; grants?: unknown }
    const grants = Array.isArray(v.grants) ? (v.grants as Grant[]) : []
    const ok = grants.every(
      (g) =>
        g !== null &&
        typeof g === 'object' &&
        isAclPermission(String(g.permission)) &&
        ((g.grantee?.type === 'CanonicalUser' && typeof g.grantee.id === 'string') ||
          (g.grantee?.type === 'Group' && typeof g.grantee.uri === 'string')),
    )
    return { owner: typeof v.owner === 'string' ? v.owner : fallbackOwner, grants: ok ? grants : [] }
  } catch {
    return { owner: fallbackOwner, grants: [] }
  }
}

/** The permission an action needs on a bucket's ACL; undefined when no bucket grant allows it. */
export function bucketPermissionFor(action: string): AclPermission | undefined {
  switch (action.toLowerCase()) {
    case 's3:listbucket':
    case 's3:listbucketversions':
    case 's3:listbucketmultipartuploads':
      return 'READ'
    case 's3:putobject':
    case 's3:deleteobject':
    case 's3:abortmultipartupload':
    case 's3:listmultipartuploadparts':
      return 'WRITE'
    case 's3:getbucketacl':
      return 'READ_ACP'
    case 's3:putbucketacl':
      return 'WRITE_ACP'
    default:
      return undefined
  }
}

/** The permission an action needs on an object version's ACL; undefined when no object grant allows it. */
export function objectPermissionFor(action: string): AclPermission | undefined {
  switch (action.toLowerCase()) {
    case 's3:getobject':
    case 's3:getobjectversion':
      return 'READ'
    case 's3:getobjectacl':
    case 's3:getobjectversionacl':
      return 'READ_ACP'
    case 's3:putobjectacl':
    case 's3:putobjectversionacl':
      return 'WRITE_ACP'
    default:
      return undefined
  }
}

/**
 * Does the ACL grant `permission` to the caller? A canonical-user grant names an account, which
 * is its root user (users of the account act through their policies, as on AWS); AllUsers is
 * everyone, AuthenticatedUsers every signed caller. `ignorePublic` (IgnorePublicAcls) drops the
 * two public groups.
 */
export function aclGrants(acl: Acl, caller: Caller, permission: AclPermission, ignorePublic: boolean): boolean {
  return acl.grants.some((g) => {
    if (g.permission !== permission && g.permission !== 'FULL_CONTROL') return false
    const e = g.grantee
    if (e.type === 'Group') {
      if (ignorePublic && (e.uri === ALL_USERS || e.uri === AUTHENTICATED_USERS)) return false
      if (e.uri === ALL_USERS) return true
      if (e.uri === AUTHENTICATED_USERS) return caller.kind !== 'anonymous'
      return false
    }
    return caller.kind === 'root' && caller.canonicalId === e.id
  })
}
