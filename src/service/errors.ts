/**
 * Domain errors: what went wrong in S3-neutral terms. The protocol layer maps each code to its
 * S3 error in one place (s3/handler.ts); nothing here knows about HTTP.
 */

export type ServiceErrorCode =
  | 'AccessDenied'
  | 'NoSuchBucket'
  | 'NoSuchKey'
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
  | 'InvalidRange'
  | 'InvalidRequest'
  | 'Unavailable'
  // Operator (admin API) outcomes; the S3 handler never sees these.
  | 'InvalidArgument'
  | 'NoSuchNamespace'
  | 'NamespaceAlreadyExists'
  | 'NamespaceNotEmpty'
  | 'NoSuchUser'

export class ServiceError extends Error {
  constructor(
    readonly code: ServiceErrorCode,
    message?: string,
    /** Facts the protocol layer may show (bucket, key, upload id …); never secrets. */
    readonly details: Record<string, string> = {},
  ) {
    super(message ?? code)
  }
}

export const isServiceError = (e: unknown): e is ServiceError => e instanceof ServiceError
