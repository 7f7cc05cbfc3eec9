/**
 * The one authorization step of the S3 request path (docs/architecture.md §12): after
 * authentication and classification, before any body is read or any data touched. Every
 * operation goes through `authorizeRequest` — and so must every new way in (POST uploads,
 * SigV2): it names the request's IAM actions (src/policy's table) and condition keys, and the
 * service decides against the caller's policies, the bucket policy and Block Public Access.
 */
import { checksFor, type S3Operation } from '../policy/index.ts'
import {
  type AccessQuery,
  type Actor,
  authorize,
  type BucketRow,
  checkNewObjectAcl,
  isAllowed,
  type Service,
} from '../service/index.ts'
import { aclRequestOf } from './acl-request.ts'
import type { Authenticated } from './auth/sigv4.ts'
import type { Endpoint } from './classify.ts'
import { parseCopySource } from './copy-source.ts'

/** Every Endpoint is an operation of the policy table: a new Endpoint fails to compile until it has its action. */
const asOperation = (e: Endpoint | 'PostObject'): S3Operation => e

export interface RequestFacts {
  /** PostObject: browser form uploads, authenticated by their own fields (src/s3/ops/post-object.ts). */
  endpoint: Endpoint | 'PostObject'
  bucket?: string
  key?: string
  query: URLSearchParams
  headers: Headers
  /** undefined for an unsigned (anonymous) request. */
  auth?: Authenticated
  /** `address:port` of the client, when the runtime knows it (aws:SourceIp). */
  connection?: string
  now: Date
}

/** Headers whose values S3 offers as `s3:<header>` condition keys. */
const HEADER_KEYS = [
  'x-amz-acl',
  'x-amz-grant-read',
  'x-amz-grant-write',
  'x-amz-grant-read-acp',
  'x-amz-grant-write-acp',
  'x-amz-grant-full-control',
  'x-amz-server-side-encryption',
  'x-amz-server-side-encryption-customer-algorithm',
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-copy-source',
  'x-amz-metadata-directive',
  'x-amz-content-sha256',
  'x-amz-storage-class',
]

/**
 * Operations on an existing version whose policies may test its tags (s3:ExistingObjectTag/<key>),
 * as AWS lists the key for them; writes of a new version and deletes are not among them.
 */
const EXISTING_TAG_OPERATIONS: ReadonlySet<string> = new Set<Endpoint>([
  'GetObject',
  'HeadObject',
  'GetObjectAttributes',
  'GetObjectAcl',
  'PutObjectAcl',
  'GetObjectTagging',
  'PutObjectTagging',
  'DeleteObjectTagging',
  'GetObjectRetention',
  'PutObjectRetention',
  'GetObjectLegalHold',
  'PutObjectLegalHold',
])

const LIST_ENDPOINTS: ReadonlySet<string> = new Set<Endpoint>(['ListObjects', 'ListObjectsV2'])

/** The address part of `address:port` (IPv6 addresses carry colons of their own). */
function sourceIp(connection: string | undefined): string | undefined {
  if (!connection) return undefined
  const colon = connection.lastIndexOf(':')
  const host = colon < 0 ? connection : connection.slice(0, colon)
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}

/** The request's condition keys (the caller's own are added by the service). */
export function requestContext(f: RequestFacts): Map<string, string[]> {
  const c = new Map<string, string[]>()
  const put = (k: string, v: string | null | undefined) => {
    if (v !== null && v !== undefined) c.set(k, [v])
  }
  // Coffer serves TLS only: a request that reached here came over TLS.
  put('aws:securetransport', 'true')
  put('aws:sourceip', sourceIp(f.connection))
  put('aws:currenttime', f.now.toISOString().replace(/\.\d{3}Z$/, 'Z'))
  put('aws:epochtime', String(Math.floor(f.now.getTime() / 1000)))
  put('aws:referer', f.headers.get('referer'))
  put('aws:useragent', f.headers.get('user-agent'))
  if (LIST_ENDPOINTS.has(f.endpoint)) {
    put('s3:prefix', f.query.get('prefix'))
    put('s3:delimiter', f.query.get('delimiter'))
    put('s3:max-keys', f.query.get('max-keys'))
  }
  for (const h of HEADER_KEYS) put(`s3:${h}`, f.headers.get(h))
  put('s3:versionid', f.query.get('versionId'))
  put('s3:object-lock-mode', f.headers.get('x-amz-object-lock-mode'))
  put('s3:object-lock-retain-until-date', f.headers.get('x-amz-object-lock-retain-until-date'))
  put('s3:object-lock-legal-hold', f.headers.get('x-amz-object-lock-legal-hold'))
  if (f.auth) {
    put('s3:signatureversion', 'AWS4-HMAC-SHA256')
    put('s3:authtype', f.auth.presigned ? 'REST-QUERY-STRING' : 'REST-HEADER')
  }
  const tagging = f.headers.get('x-amz-tagging')
  if (tagging !== null) {
    const tags = new URLSearchParams(tagging)
    const keys = [...new Set(tags.keys())]
    c.set('s3:requestobjecttagkeys', keys)
    for (const k of keys) c.set(`s3:requestobjecttag/${k}`, tags.getAll(k))
  }
  return c
}

function accessQuery(f: RequestFacts): AccessQuery {
  const header = (name: string) => f.headers.get(name)
  const copy = f.endpoint === 'CopyObject' || f.endpoint === 'UploadPartCopy'
  const rawSource = copy ? f.headers.get('x-amz-copy-source') : null
  const source = rawSource !== null ? parseCopySource(rawSource) : undefined
  const sourceVersion = source?.query?.get('versionId') ?? undefined
  const checks = checksFor(asOperation(f.endpoint), {
    bucket: f.bucket,
    key: f.key,
    versionId: f.query.get('versionId') ?? undefined,
    header,
    copySource: source && {
      bucket: source.bucket,
      key: source.key,
      ...(sourceVersion !== undefined ? { versionId: sourceVersion } : {}),
    },
  })
  const existing =
    EXISTING_TAG_OPERATIONS.has(f.endpoint) && f.bucket !== undefined && f.key !== undefined
      ? { bucket: f.bucket, key: f.key, versionId: f.query.get('versionId') ?? undefined }
      : undefined
  return {
    checks,
    context: requestContext(f),
    creating: f.endpoint === 'CreateBucket',
    ...(existing ? { existingObject: existing } : {}),
  }
}

/**
 * The authorization step: the actor the operation runs as (an anonymous actor for an unsigned
 * request a bucket policy admits), or S3's AccessDenied (NoSuchBucket for a missing bucket).
 * DeleteObjects is decided here for its bucket, then per key (`keyAllowed`), as S3 does.
 */
export async function authorizeRequest(
  service: Service,
  signed: Actor | undefined,
  f: RequestFacts,
  rows?: Map<string, BucketRow | undefined>,
): Promise<Actor> {
  // An anonymous write a bucket policy or ACL allows goes on as any other (its commit is gated on
  // the bucket alone: service/identities.ts writerOf); one nothing allows is refused here, before
  // its body is read.
  return f.endpoint === 'DeleteObjects'
    ? // Admission only: the bucket exists and is the caller's namespace's; each key is checked after.
      await authorize(service, signed, { checks: [], context: new Map(), bucketGate: f.bucket }, rows)
    : await authorize(service, signed, accessQuery(f), rows)
}

/** May the caller do each of these (DeleteObjects' keys: the same request on other keys)? */
export function allowedEach(service: Service, actor: Actor, facts: readonly RequestFacts[]): Promise<boolean[]> {
  return isAllowed(service, actor.anonymous ? undefined : actor, facts.map(accessQuery))
}

/**
 * S3 answers a missing key with 404 NoSuchKey only to a caller allowed to list the bucket;
 * anyone else gets 403 AccessDenied, so keys cannot be probed.
 */
export async function mayList(service: Service, actor: Actor, f: RequestFacts): Promise<boolean> {
  const list = { ...f, endpoint: 'ListObjects' as const, key: undefined, query: new URLSearchParams() }
  return (await allowedEach(service, actor, [list]))[0] === true
}

/** Operations that write an object and may carry a canned ACL or grants. */
const ACL_WRITES: ReadonlySet<string> = new Set<Endpoint>(['PutObject', 'CopyObject', 'CreateMultipartUpload'])

/**
 * Canned ACLs and grants on object writes, judged after authorization and before the body is
 * read (the write judges them again as it commits): ACLs disabled (AccessControlListNotSupported),
 * a public ACL under BlockPublicAcls (AccessDenied), a grantee of another namespace, bad syntax.
 * CreateBucket's are judged by the operation (its body is small). No cost unless an ACL header is sent.
 */
export async function checkAclHeaders(service: Service, actor: Actor, f: RequestFacts): Promise<void> {
  if (!ACL_WRITES.has(f.endpoint)) return
  const req = aclRequestOf(f.headers)
  if (req) await checkNewObjectAcl(service, actor, f.bucket ?? '', req)
}
