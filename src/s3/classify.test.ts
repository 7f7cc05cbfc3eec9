import { describe, expect, it } from 'vitest'
import { classify } from './classify.ts'
import { S3Error } from './errors.ts'

const c = (method: string, bucket?: string, key?: string, query = '', headers: Record<string, string> = {}) =>
  classify({ method, bucket, key, query: new URLSearchParams(query), headers: new Headers(headers) })

describe('classify', () => {
  it.each([
    ['GET', undefined, undefined, '', {}, 'ListBuckets'],
    ['PUT', 'b', undefined, '', {}, 'CreateBucket'],
    ['HEAD', 'b', undefined, '', {}, 'HeadBucket'],
    ['DELETE', 'b', undefined, '', {}, 'DeleteBucket'],
    ['GET', 'b', undefined, 'location', {}, 'GetBucketLocation'],
    ['GET', 'b', undefined, 'versioning', {}, 'GetBucketVersioning'],
    ['GET', 'b', undefined, '', {}, 'ListObjects'],
    ['GET', 'b', undefined, 'list-type=2&prefix=a', {}, 'ListObjectsV2'],
    ['GET', 'b', undefined, 'uploads', {}, 'ListMultipartUploads'],
    ['POST', 'b', undefined, 'delete', {}, 'DeleteObjects'],
    ['PUT', 'b', 'k', '', {}, 'PutObject'],
    ['PUT', 'b', 'k', '', { 'x-amz-copy-source': '/s/k' }, 'CopyObject'],
    ['PUT', 'b', 'k', 'partNumber=1&uploadId=u', {}, 'UploadPart'],
    ['PUT', 'b', 'k', 'partNumber=1&uploadId=u', { 'x-amz-copy-source': '/s/k' }, 'UploadPartCopy'],
    ['GET', 'b', 'k', '', {}, 'GetObject'],
    ['GET', 'b', 'k', 'uploadId=u', {}, 'ListParts'],
    ['HEAD', 'b', 'k', '', {}, 'HeadObject'],
    ['DELETE', 'b', 'k', '', {}, 'DeleteObject'],
    ['DELETE', 'b', 'k', 'uploadId=u', {}, 'AbortMultipartUpload'],
    ['POST', 'b', 'k', 'uploads', {}, 'CreateMultipartUpload'],
    ['POST', 'b', 'k', 'uploadId=u', {}, 'CompleteMultipartUpload'],
    ['GET', 'b', undefined, 'policy', {}, 'GetBucketPolicy'],
    ['PUT', 'b', undefined, 'policy', {}, 'PutBucketPolicy'],
    ['DELETE', 'b', undefined, 'policy', {}, 'DeleteBucketPolicy'],
    ['GET', 'b', undefined, 'policyStatus', {}, 'GetBucketPolicyStatus'],
    ['GET', 'b', undefined, 'publicAccessBlock', {}, 'GetPublicAccessBlock'],
    ['PUT', 'b', undefined, 'publicAccessBlock', {}, 'PutPublicAccessBlock'],
    ['DELETE', 'b', undefined, 'publicAccessBlock', {}, 'DeletePublicAccessBlock'],
    ['GET', 'b', undefined, 'ownershipControls', {}, 'GetBucketOwnershipControls'],
    ['PUT', 'b', undefined, 'ownershipControls', {}, 'PutBucketOwnershipControls'],
    ['DELETE', 'b', undefined, 'ownershipControls', {}, 'DeleteBucketOwnershipControls'],
    ['GET', 'b', undefined, 'acl', {}, 'GetBucketAcl'],
    ['PUT', 'b', undefined, 'acl', {}, 'PutBucketAcl'],
    ['GET', 'b', 'k', 'acl', {}, 'GetObjectAcl'],
    ['PUT', 'b', 'k', 'acl', {}, 'PutObjectAcl'],
    ['GET', 'b', 'k', 'tagging', {}, 'GetObjectTagging'],
    ['PUT', 'b', 'k', 'tagging', {}, 'PutObjectTagging'],
    ['DELETE', 'b', 'k', 'tagging', {}, 'DeleteObjectTagging'],
    ['GET', 'b', undefined, 'tagging', {}, 'GetBucketTagging'],
    ['PUT', 'b', undefined, 'tagging', {}, 'PutBucketTagging'],
    ['DELETE', 'b', undefined, 'tagging', {}, 'DeleteBucketTagging'],
    ['GET', 'b', undefined, 'lifecycle', {}, 'GetBucketLifecycleConfiguration'],
    ['PUT', 'b', undefined, 'lifecycle', {}, 'PutBucketLifecycleConfiguration'],
    ['DELETE', 'b', undefined, 'lifecycle', {}, 'DeleteBucketLifecycleConfiguration'],
  ] as const)('%s bucket=%s key=%s ?%s → %s', (method, bucket, key, query, headers, expected) => {
    expect(c(method, bucket, key, query, headers)).toBe(expected)
  })

  it.each([
    ['GET', 'b', 'k', 'torrent', 'NotImplemented'],
    ['POST', 'b', 'k', 'tagging', 'MethodNotAllowed'],
    ['GET', 'b', 'k', 'lifecycle', 'NotImplemented'],
    ['GET', 'b', 'k', 'policy', 'NotImplemented'],
    ['POST', 'b', undefined, 'policy', 'MethodNotAllowed'],
    ['DELETE', 'b', undefined, 'acl', 'MethodNotAllowed'],
    ['PATCH', 'b', 'k', '', 'MethodNotAllowed'],
    ['POST', undefined, undefined, '', 'MethodNotAllowed'],
    ['PUT', 'b', 'k', 'partNumber=1', 'InvalidRequest'],
    ['GET', 'b', undefined, 'list-type=3', 'InvalidArgument'],
  ] as const)('%s bucket=%s key=%s ?%s → %s error', (method, bucket, key, query, code) => {
    let err: unknown
    try {
      c(method, bucket, key, query)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(S3Error)
    expect((err as S3Error).code).toBe(code)
  })
})
