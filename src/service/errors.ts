/**
 * Domain errors: what went wrong in S3-neutral terms. The protocol layer maps each code to its
 * S3 error in one place (s3/handler.ts); nothing here knows about HTTP.
 */

export type ServiceErrorCode =
  | 'AccessDenied'
  | 'NoSuchBucket'
  | 'NoSuchKey'
  /** A versionId that names no version of the key. */
  | 'NoSuchVersion'
  /** GET/HEAD of a delete marker by its versionId. */
  | 'MethodNotAllowed'
  /** Versioning cannot change that way (suspending a bucket with Object Lock). */
  | 'InvalidBucketState'
  | 'ObjectLockConfigurationNotFoundError'
  | 'NoSuchObjectLockConfiguration'
  | 'MalformedXML'
  // Tagging (tags.ts): a tag AWS refuses, a header tag set over the limit, no bucket tag set.
  | 'InvalidTag'
  | 'BadRequest'
  | 'NoSuchTagSet'
  | 'NoSuchLifecycleConfiguration'
  | 'NoSuchUpload'
  | 'BucketAlreadyExists'
  | 'BucketAlreadyOwnedByYou'
  | 'BucketNotEmpty'
  | 'PreconditionFailed'
  | 'NotModified'
  | 'ConditionalRequestConflict'
  | 'InvalidPart'
  | 'InvalidPartOrder'
  | 'EntityTooSmall'
  | 'EntityTooLarge'
  | 'InvalidRange'
  | 'InvalidRequest'
  | 'BadDigest'
  | 'Unavailable'
  /** A filesystem the write needs is full (or would fall under its minimum); nothing was stored. */
  | 'InsufficientStorage'
  /** An SSE-C key that is not 32 bytes or not the key its MD5 names; details.problem says which. */
  | 'InvalidCustomerKey'
  // SSE-KMS (kms.ts), under AWS's own codes: a key that does not exist (or was deleted), a
  // disabled key, a key pending deletion.
  | 'KMS.NotFoundException'
  | 'KMS.DisabledException'
  | 'KMS.KMSInvalidStateException'
  // Access control (access.ts).
  | 'MalformedPolicy'
  | 'NoSuchBucketPolicy'
  | 'NoSuchPublicAccessBlockConfiguration'
  | 'OwnershipControlsNotFoundError'
  | 'AccessControlListNotSupported'
  | 'InvalidBucketAclWithObjectOwnership'
  | 'MalformedACLError'
  | 'UnresolvableGrantByEmailAddress'
  | 'UnexpectedContent'
  // Operator (admin API) outcomes; the S3 handler never sees these.
  | 'InvalidArgument'
  | 'NoSuchNamespace'
  | 'NamespaceAlreadyExists'
  | 'NamespaceNotEmpty'
  | 'NodeNotEmpty'
  | 'NoSuchUser'

export class ServiceError extends Error {
  constructor(
    readonly code: ServiceErrorCode,
    message?: string,
    /** Facts the protocol layer may show (bucket, key, upload id …); never secrets. */
    readonly details: Record<string, string> = {},
    /** The version the answer is about, shown as x-amz-version-id / x-amz-delete-marker. */
    readonly version?: { versionId?: string; deleteMarker?: boolean },
  ) {
    super(message ?? code)
  }
}

export const isServiceError = (e: unknown): e is ServiceError => e instanceof ServiceError

/**
 * A value the service stored in metadata (a layout, an encryption record, a staged key) does not
 * read back as written: a damaged database or a bug, never the client's fault (an internal error).
 */
export class CorruptMetadataError extends Error {
  override readonly name = 'CorruptMetadataError'
}
