/**
 * The pure classifier: method + target + query keywords + headers → one Endpoint.
 * S3 picks sub-resources by query string, which path routers handle badly; this table does it.
 */
import { S3Error } from './errors.ts'

export type Endpoint =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'HeadBucket'
  | 'DeleteBucket'
  | 'GetBucketLocation'
  | 'GetBucketVersioning'
  | 'PutBucketVersioning'
  | 'ListObjectVersions'
  | 'GetObjectLockConfiguration'
  | 'PutObjectLockConfiguration'
  | 'GetObjectRetention'
  | 'PutObjectRetention'
  | 'GetObjectLegalHold'
  | 'PutObjectLegalHold'
  | 'GetObjectAttributes'
  | 'GetBucketEncryption'
  | 'PutBucketEncryption'
  | 'DeleteBucketEncryption'
  | 'GetBucketCors'
  | 'PutBucketCors'
  | 'DeleteBucketCors'
  | 'ListObjects'
  | 'ListObjectsV2'
  | 'ListMultipartUploads'
  | 'DeleteObjects'
  | 'PutObject'
  | 'CopyObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'UploadPartCopy'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListParts'
  | 'GetBucketPolicy'
  | 'PutBucketPolicy'
  | 'DeleteBucketPolicy'
  | 'GetBucketPolicyStatus'
  | 'GetPublicAccessBlock'
  | 'PutPublicAccessBlock'
  | 'DeletePublicAccessBlock'
  | 'GetBucketOwnershipControls'
  | 'PutBucketOwnershipControls'
  | 'DeleteBucketOwnershipControls'
  | 'GetBucketAcl'
  | 'PutBucketAcl'
  | 'GetObjectAcl'
  | 'PutObjectAcl'
  | 'GetObjectTagging'
  | 'PutObjectTagging'
  | 'DeleteObjectTagging'
  | 'GetBucketTagging'
  | 'PutBucketTagging'
  | 'DeleteBucketTagging'
  | 'GetBucketLifecycleConfiguration'
  | 'PutBucketLifecycleConfiguration'
  | 'DeleteBucketLifecycleConfiguration'

/**
 * Sub-resources S3 knows but Coffer does not serve yet: answered 501 NotImplemented rather than
 * being mistaken for a plain object or bucket request.
 */
const UNSUPPORTED_SUBRESOURCES = [
  'accelerate',
  'analytics',
  'intelligent-tiering',
  'inventory',
  'logging',
  'metadataConfiguration',
  'metadataTable',
  'metrics',
  'notification',
  'replication',
  'requestPayment',
  'restore',
  'select',
  'session',
  'torrent',
  'website',
] as const

export interface ClassifyInput {
  method: string
  bucket?: string
  key?: string
  query: URLSearchParams
  headers: Headers
}

function notImplemented(what: string): S3Error {
  return new S3Error('NotImplemented', `${what} is not implemented by Coffer.`)
}

export function classify({ method, bucket, key, query, headers }: ClassifyInput): Endpoint {
  const m = method.toUpperCase()
  for (const sub of UNSUPPORTED_SUBRESOURCES) {
    if (query.has(sub)) throw notImplemented(`The ?${sub} sub-resource`)
  }
  if (bucket === undefined) {
    if (m === 'GET') return 'ListBuckets'
    throw new S3Error('MethodNotAllowed', undefined, { Method: m, ResourceType: 'SERVICE' })
  }
  if (key === undefined) {
    if (query.has('object-lock'))
      return classifyPair(m, 'GetObjectLockConfiguration', 'PutObjectLockConfiguration', 'BUCKET')
    if (query.has('retention') || query.has('legal-hold')) throw notImplemented('Object Lock sub-resources on a bucket')
    if (query.has('attributes')) throw notImplemented('The ?attributes sub-resource on a bucket')
    if (query.has('cors')) return classifyCors(m)
    if (query.has('encryption')) return classifyEncryption(m)
    const access = classifyBucketAccess(m, query)
    return access ?? classifyBucket(m, query)
  }
  if (query.has('encryption')) throw notImplemented('The ?encryption sub-resource on an object')
  if (query.has('cors')) throw notImplemented('The ?cors sub-resource on an object')
  if (query.has('object-lock')) throw notImplemented('The ?object-lock sub-resource on an object')
  if (query.has('retention')) return classifyPair(m, 'GetObjectRetention', 'PutObjectRetention', 'OBJECT')
  if (query.has('legal-hold')) return classifyPair(m, 'GetObjectLegalHold', 'PutObjectLegalHold', 'OBJECT')
  if (query.has('attributes')) {
    if (m === 'GET') return 'GetObjectAttributes'
    throw new S3Error('MethodNotAllowed', undefined, { Method: m, ResourceType: 'OBJECT' })
  }
  for (const sub of BUCKET_ONLY_ACCESS)
    if (query.has(sub)) throw notImplemented(`The ?${sub} sub-resource on an object`)
  if (query.has('acl')) return oneOf(m, { GET: 'GetObjectAcl', PUT: 'PutObjectAcl' }, 'OBJECT')
  if (query.has('tagging'))
    return oneOf(m, { GET: 'GetObjectTagging', PUT: 'PutObjectTagging', DELETE: 'DeleteObjectTagging' }, 'OBJECT')
  return classifyObject(m, query, headers)
}

/** A configuration sub-resource: GET reads it, PUT replaces it. */
function classifyPair(m: string, get: Endpoint, put: Endpoint, resource: 'BUCKET' | 'OBJECT'): Endpoint {
  if (m === 'GET') return get
  if (m === 'PUT') return put
  throw new S3Error('MethodNotAllowed', undefined, { Method: m, ResourceType: resource })
}

/** Access-control sub-resources of a bucket, by method. */
const BUCKET_ACCESS: Record<string, Partial<Record<string, Endpoint>>> = {
  policy: { GET: 'GetBucketPolicy', PUT: 'PutBucketPolicy', DELETE: 'DeleteBucketPolicy' },
  policyStatus: { GET: 'GetBucketPolicyStatus' },
  publicAccessBlock: { GET: 'GetPublicAccessBlock', PUT: 'PutPublicAccessBlock', DELETE: 'DeletePublicAccessBlock' },
  ownershipControls: {
    GET: 'GetBucketOwnershipControls',
    PUT: 'PutBucketOwnershipControls',
    DELETE: 'DeleteBucketOwnershipControls',
  },
  acl: { GET: 'GetBucketAcl', PUT: 'PutBucketAcl' },
  tagging: { GET: 'GetBucketTagging', PUT: 'PutBucketTagging', DELETE: 'DeleteBucketTagging' },
  lifecycle: {
    GET: 'GetBucketLifecycleConfiguration',
    PUT: 'PutBucketLifecycleConfiguration',
    DELETE: 'DeleteBucketLifecycleConfiguration',
  },
}
const BUCKET_ONLY_ACCESS = ['policy', 'policyStatus', 'publicAccessBlock', 'ownershipControls', 'lifecycle'] as const

function oneOf(m: string, byMethod: Partial<Record<string, Endpoint>>, resourceType: string): Endpoint {
  const e = byMethod[m]
  if (e) return e
  throw new S3Error('MethodNotAllowed', undefined, { Method: m, ResourceType: resourceType })
}

function classifyBucketAccess(m: string, query: URLSearchParams): Endpoint | undefined {
  for (const [sub, byMethod] of Object.entries(BUCKET_ACCESS)) if (query.has(sub)) return oneOf(m, byMethod, 'BUCKET')
  return undefined
}

function classifyEncryption(m: string): Endpoint {
  if (m === 'GET') return 'GetBucketEncryption'
  if (m === 'PUT') return 'PutBucketEncryption'
  if (m === 'DELETE') return 'DeleteBucketEncryption'
  throw new S3Error('MethodNotAllowed', undefined, { Method: m, ResourceType: 'BUCKET' })
}

function classifyCors(m: string): Endpoint {
  if (m === 'GET') return 'GetBucketCors'
  if (m === 'PUT') return 'PutBucketCors'
  if (m === 'DELETE') return 'DeleteBucketCors'
  throw new S3Error('MethodNotAllowed', undefined, { Method: m, ResourceType: 'BUCKET' })
}

function classifyBucket(m: string, query: URLSearchParams): Endpoint {
  switch (m) {
    case 'PUT':
      if (query.has('versioning')) return 'PutBucketVersioning'
      return 'CreateBucket'
    case 'HEAD':
      return 'HeadBucket'
    case 'DELETE':
      return 'DeleteBucket'
    case 'GET':
      if (query.has('location')) return 'GetBucketLocation'
      if (query.has('versioning')) return 'GetBucketVersioning'
      if (query.has('uploads')) return 'ListMultipartUploads'
      if (query.has('versions')) return 'ListObjectVersions'
      if (query.get('list-type') === '2') return 'ListObjectsV2'
      if (query.has('list-type'))
        throw new S3Error('InvalidArgument', 'list-type must be 2.', { ArgumentName: 'list-type' })
      return 'ListObjects'
    case 'POST':
      if (query.has('delete')) return 'DeleteObjects'
      throw new S3Error('MethodNotAllowed', undefined, { Method: m, ResourceType: 'BUCKET' })
    default:
      throw new S3Error('MethodNotAllowed', undefined, { Method: m, ResourceType: 'BUCKET' })
  }
}

function classifyObject(m: string, query: URLSearchParams, headers: Headers): Endpoint {
  const uploadId = query.has('uploadId')
  switch (m) {
    case 'PUT': {
      const copy = headers.has('x-amz-copy-source')
      if (uploadId || query.has('partNumber')) {
        if (!uploadId || !query.has('partNumber'))
          throw new S3Error('InvalidRequest', 'UploadPart needs both partNumber and uploadId.')
        return copy ? 'UploadPartCopy' : 'UploadPart'
      }
      return copy ? 'CopyObject' : 'PutObject'
    }
    case 'GET':
      return uploadId ? 'ListParts' : 'GetObject'
    case 'HEAD':
      return 'HeadObject'
    case 'DELETE':
      return uploadId ? 'AbortMultipartUpload' : 'DeleteObject'
    case 'POST':
      if (query.has('uploads')) return 'CreateMultipartUpload'
      if (uploadId) return 'CompleteMultipartUpload'
      throw notImplemented('POST on an object without ?uploads or ?uploadId')
    default:
      throw new S3Error('MethodNotAllowed', undefined, { Method: m, ResourceType: 'OBJECT' })
  }
}
