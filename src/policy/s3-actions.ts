/**
 * Which IAM action(s) each S3 operation needs, on which resource, as AWS names them
 * ("Actions, resources, and condition keys for Amazon S3" in the Service Authorization Reference).
 * Pure: the S3 layer feeds the operation, the target and a header reader; nothing here reads a request.
 */

/** What the action is about: the service (ListBuckets), a bucket, or an object (bucket/key). */
export type Target = 'service' | 'bucket' | 'object'

export interface ActionRule {
  action: string
  target: Target
  /** The action instead of `action` when the request names a version (`?versionId=`). */
  versioned?: string
}

const op = (action: string, target: Target, versioned?: string): ActionRule => ({ action, target, versioned })

/**
 * Every S3 operation Coffer serves or is about to serve (versioning, Object Lock, tagging, ACLs,
 * CORS and POST uploads are built beside this table), by its S3 API name.
 */
export const S3_OPERATIONS = {
  ListBuckets: op('s3:ListAllMyBuckets', 'service'),
  CreateBucket: op('s3:CreateBucket', 'bucket'),
  HeadBucket: op('s3:ListBucket', 'bucket'),
  DeleteBucket: op('s3:DeleteBucket', 'bucket'),
  GetBucketLocation: op('s3:GetBucketLocation', 'bucket'),
  GetBucketVersioning: op('s3:GetBucketVersioning', 'bucket'),
  PutBucketVersioning: op('s3:PutBucketVersioning', 'bucket'),
  GetBucketEncryption: op('s3:GetEncryptionConfiguration', 'bucket'),
  PutBucketEncryption: op('s3:PutEncryptionConfiguration', 'bucket'),
  DeleteBucketEncryption: op('s3:PutEncryptionConfiguration', 'bucket'),
  GetBucketPolicy: op('s3:GetBucketPolicy', 'bucket'),
  PutBucketPolicy: op('s3:PutBucketPolicy', 'bucket'),
  DeleteBucketPolicy: op('s3:DeleteBucketPolicy', 'bucket'),
  GetBucketPolicyStatus: op('s3:GetBucketPolicyStatus', 'bucket'),
  GetPublicAccessBlock: op('s3:GetBucketPublicAccessBlock', 'bucket'),
  PutPublicAccessBlock: op('s3:PutBucketPublicAccessBlock', 'bucket'),
  DeletePublicAccessBlock: op('s3:PutBucketPublicAccessBlock', 'bucket'),
  GetBucketOwnershipControls: op('s3:GetBucketOwnershipControls', 'bucket'),
  PutBucketOwnershipControls: op('s3:PutBucketOwnershipControls', 'bucket'),
  DeleteBucketOwnershipControls: op('s3:PutBucketOwnershipControls', 'bucket'),
  GetBucketAcl: op('s3:GetBucketAcl', 'bucket'),
  PutBucketAcl: op('s3:PutBucketAcl', 'bucket'),
  GetBucketCors: op('s3:GetBucketCORS', 'bucket'),
  PutBucketCors: op('s3:PutBucketCORS', 'bucket'),
  DeleteBucketCors: op('s3:PutBucketCORS', 'bucket'),
  GetBucketTagging: op('s3:GetBucketTagging', 'bucket'),
  PutBucketTagging: op('s3:PutBucketTagging', 'bucket'),
  DeleteBucketTagging: op('s3:PutBucketTagging', 'bucket'),
  GetBucketLifecycleConfiguration: op('s3:GetLifecycleConfiguration', 'bucket'),
  PutBucketLifecycleConfiguration: op('s3:PutLifecycleConfiguration', 'bucket'),
  DeleteBucketLifecycleConfiguration: op('s3:PutLifecycleConfiguration', 'bucket'),
  GetObjectLockConfiguration: op('s3:GetBucketObjectLockConfiguration', 'bucket'),
  PutObjectLockConfiguration: op('s3:PutBucketObjectLockConfiguration', 'bucket'),
  ListObjects: op('s3:ListBucket', 'bucket'),
  ListObjectsV2: op('s3:ListBucket', 'bucket'),
  ListObjectVersions: op('s3:ListBucketVersions', 'bucket'),
  ListMultipartUploads: op('s3:ListBucketMultipartUploads', 'bucket'),
  // Decided per key by the operation (each key is its own resource); this is the bucket-level gate.
  DeleteObjects: op('s3:DeleteObject', 'object', 's3:DeleteObjectVersion'),
  PutObject: op('s3:PutObject', 'object'),
  PostObject: op('s3:PutObject', 'object'),
  CopyObject: op('s3:PutObject', 'object'),
  GetObject: op('s3:GetObject', 'object', 's3:GetObjectVersion'),
  HeadObject: op('s3:GetObject', 'object', 's3:GetObjectVersion'),
  GetObjectAttributes: op('s3:GetObjectAttributes', 'object', 's3:GetObjectVersionAttributes'),
  DeleteObject: op('s3:DeleteObject', 'object', 's3:DeleteObjectVersion'),
  GetObjectAcl: op('s3:GetObjectAcl', 'object', 's3:GetObjectVersionAcl'),
  PutObjectAcl: op('s3:PutObjectAcl', 'object', 's3:PutObjectVersionAcl'),
  GetObjectTagging: op('s3:GetObjectTagging', 'object', 's3:GetObjectVersionTagging'),
  PutObjectTagging: op('s3:PutObjectTagging', 'object', 's3:PutObjectVersionTagging'),
  DeleteObjectTagging: op('s3:DeleteObjectTagging', 'object', 's3:DeleteObjectVersionTagging'),
  GetObjectRetention: op('s3:GetObjectRetention', 'object'),
  PutObjectRetention: op('s3:PutObjectRetention', 'object'),
  GetObjectLegalHold: op('s3:GetObjectLegalHold', 'object'),
  PutObjectLegalHold: op('s3:PutObjectLegalHold', 'object'),
  CreateMultipartUpload: op('s3:PutObject', 'object'),
  UploadPart: op('s3:PutObject', 'object'),
  UploadPartCopy: op('s3:PutObject', 'object'),
  CompleteMultipartUpload: op('s3:PutObject', 'object'),
  AbortMultipartUpload: op('s3:AbortMultipartUpload', 'object'),
  ListParts: op('s3:ListMultipartUploadParts', 'object'),
} as const satisfies Record<string, ActionRule>

export type S3Operation = keyof typeof S3_OPERATIONS

/**
 * Every S3 action a policy may name (Action/NotAction are checked against it on write, as AWS
 * refuses an unknown action with MalformedPolicy): the actions above and the rest of S3's list.
 */
export const KNOWN_S3_ACTIONS: readonly string[] = [
  ...new Set([
    ...Object.values(S3_OPERATIONS).flatMap((r: ActionRule) => (r.versioned ? [r.action, r.versioned] : [r.action])),
    's3:BypassGovernanceRetention',
    's3:DeleteObjectVersionTagging',
    's3:GetAccelerateConfiguration',
    's3:GetAnalyticsConfiguration',
    's3:GetBucketLogging',
    's3:GetBucketNotification',
    's3:GetBucketRequestPayment',
    's3:GetBucketWebsite',
    's3:GetInventoryConfiguration',
    's3:GetLifecycleConfiguration',
    's3:GetMetricsConfiguration',
    's3:GetReplicationConfiguration',
    's3:GetObjectTorrent',
    's3:GetObjectVersionTorrent',
    's3:GetObjectVersionForReplication',
    's3:PutAccelerateConfiguration',
    's3:PutAnalyticsConfiguration',
    's3:PutBucketLogging',
    's3:PutBucketNotification',
    's3:PutBucketRequestPayment',
    's3:PutBucketWebsite',
    's3:DeleteBucketWebsite',
    's3:PutInventoryConfiguration',
    's3:PutLifecycleConfiguration',
    's3:PutMetricsConfiguration',
    's3:PutReplicationConfiguration',
    's3:ReplicateObject',
    's3:ReplicateDelete',
    's3:ReplicateTags',
    's3:RestoreObject',
    's3:ObjectOwnerOverrideToBucketOwner',
    's3:PutObjectVersionAcl',
    's3:GetObjectVersionAcl',
  ]),
]

/** One check the request must pass: `action` on `resource` (an ARN). */
export interface ActionCheck {
  action: string
  resource: string
  /**
   * The object version the check acts on, as the request names it (`?versionId=`, or the
   * `?versionId=` of a copy source); absent: the current version. An object ACL is read from it.
   */
  versionId?: string
  /** The check reads a copy source: never the object the request writes, even on the same key. */
  copySource?: true
}

export const bucketArn = (bucket: string): string => `arn:aws:s3:::${bucket}`
export const objectArn = (bucket: string, key: string): string => `arn:aws:s3:::${bucket}/${key}`

export interface OperationTarget {
  bucket?: string
  key?: string
  /** The version the request names (`?versionId=`), when it names one. */
  versionId?: string
  /** A request header, by lower-case name (null when absent). */
  header(name: string): string | null
  /**
   * CopyObject / UploadPartCopy: the source, read with s3:GetObject (GetObjectVersion with a
   * versionId); its own version, never the request's.
   */
  copySource?: { bucket: string; key: string; versionId?: string }
}

/** A version id that names a version of its own (`null` is the unversioned one: s3:GetObject). */
const namesVersion = (v: string | undefined): boolean => v !== undefined && v !== '' && v !== 'null'

const ACL_HEADERS = [
  'x-amz-acl',
  'x-amz-grant-read',
  'x-amz-grant-write',
  'x-amz-grant-read-acp',
  'x-amz-grant-write-acp',
  'x-amz-grant-full-control',
]
/** Operations that write a new object (and so may carry ACL, tagging and Object Lock headers). */
const OBJECT_WRITES: ReadonlySet<S3Operation> = new Set<S3Operation>([
  'PutObject',
  'PostObject',
  'CopyObject',
  'CreateMultipartUpload',
])

/**
 * Every check an operation needs, first the operation's own action. Headers add actions as AWS
 * asks for them: ACL headers need s3:PutObjectAcl (s3:PutBucketAcl on CreateBucket), x-amz-tagging
 * s3:PutObjectTagging, Object Lock headers s3:PutObjectRetention / s3:PutObjectLegalHold,
 * x-amz-bypass-governance-retention s3:BypassGovernanceRetention; a copy needs read on its source.
 */
export function checksFor(operation: S3Operation, t: OperationTarget): ActionCheck[] {
  const rule: ActionRule = S3_OPERATIONS[operation]
  const resource =
    rule.target === 'service'
      ? '*'
      : rule.target === 'bucket'
        ? bucketArn(t.bucket ?? '')
        : objectArn(t.bucket ?? '', t.key ?? '')
  const own = t.versionId !== undefined && rule.target === 'object' ? { versionId: t.versionId } : {}
  const checks: ActionCheck[] = [
    { action: namesVersion(t.versionId) && rule.versioned ? rule.versioned : rule.action, resource },
  ]
  const has = (name: string) => {
    const v = t.header(name)
    return v !== null && v !== ''
  }
  if (OBJECT_WRITES.has(operation)) {
    if (ACL_HEADERS.some(has)) checks.push({ action: 's3:PutObjectAcl', resource })
    const taggingReplaced =
      operation !== 'CopyObject' || t.header('x-amz-tagging-directive')?.toUpperCase() === 'REPLACE'
    if (has('x-amz-tagging') && taggingReplaced) checks.push({ action: 's3:PutObjectTagging', resource })
    if (has('x-amz-object-lock-mode') || has('x-amz-object-lock-retain-until-date'))
      checks.push({ action: 's3:PutObjectRetention', resource })
    if (has('x-amz-object-lock-legal-hold')) checks.push({ action: 's3:PutObjectLegalHold', resource })
  }
  if (operation === 'CreateBucket') {
    if (ACL_HEADERS.some(has)) checks.push({ action: 's3:PutBucketAcl', resource })
    if (t.header('x-amz-bucket-object-lock-enabled')?.toLowerCase() === 'true')
      checks.push(
        { action: 's3:PutBucketObjectLockConfiguration', resource },
        { action: 's3:PutBucketVersioning', resource },
      )
  }
  const bypassable: readonly S3Operation[] = ['DeleteObject', 'DeleteObjects', 'PutObjectRetention']
  if (bypassable.includes(operation) && t.header('x-amz-bypass-governance-retention')?.toLowerCase() === 'true')
    checks.push({ action: 's3:BypassGovernanceRetention', resource })
  // Every check so far is on the request's own object (or bucket): the version it names.
  for (const c of checks) Object.assign(c, own)
  if (t.copySource) {
    const { bucket, key, versionId } = t.copySource
    checks.push({
      action: namesVersion(versionId) ? 's3:GetObjectVersion' : 's3:GetObject',
      resource: objectArn(bucket, key),
      ...(versionId !== undefined ? { versionId } : {}),
      copySource: true,
    })
  }
  return checks
}
