/**
 * S3 errors as data: one table of code → HTTP status and default message, one error class.
 * Rendering to `<Error>` XML happens in one place (s3/xml/documents.ts via handler.ts).
 */

export const S3_ERRORS = {
  AccessDenied: [403, 'Access Denied.'],
  BadRequest: [400, 'Bad Request'],
  CORSResponse: [403, 'This CORS request is not allowed.'],
  AuthorizationHeaderMalformed: [400, 'The authorization header is malformed.'],
  AuthorizationQueryParametersError: [400, 'The presigned URL query parameters are malformed.'],
  BadDigest: [400, 'The Content-MD5 you specified did not match what we received.'],
  BucketAlreadyExists: [
    409,
    'The requested bucket name is not available. Please select a different name and try again.',
  ],
  BucketAlreadyOwnedByYou: [409, 'Your previous request to create the named bucket succeeded and you already own it.'],
  BucketNotEmpty: [409, 'The bucket you tried to delete is not empty.'],
  ConditionalRequestConflict: [409, 'A conflicting operation occurred. Please retry.'],
  EntityTooLarge: [400, 'Your proposed upload exceeds the maximum allowed object size.'],
  EntityTooSmall: [400, 'Your proposed upload is smaller than the minimum allowed object size.'],
  ExpiredToken: [400, 'The provided token has expired.'],
  IncompleteBody: [400, 'You did not provide the number of bytes specified by the Content-Length HTTP header.'],
  InternalError: [500, 'We encountered an internal error. Please try again.'],
  InvalidAccessKeyId: [403, 'The AWS access key Id you provided does not exist in our records.'],
  InvalidArgument: [400, 'Invalid Argument.'],
  InvalidBucketName: [400, 'The specified bucket is not valid.'],
  InvalidDigest: [400, 'The Content-MD5 you specified is not valid.'],
  InvalidLocationConstraint: [400, 'The specified location-constraint is not valid.'],
  InvalidPart: [
    400,
    "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
  ],
  InvalidPartOrder: [400, 'The list of parts was not in ascending order. Parts must be ordered by part number.'],
  InvalidRange: [416, 'The requested range is not satisfiable.'],
  InvalidRequest: [400, 'Invalid Request.'],
  InvalidTag: [400, 'The tag provided was not a valid tag.'],
  InvalidStorageClass: [400, 'The storage class you specified is not valid.'],
  KeyTooLongError: [400, 'Your key is too long.'],
  MalformedPOSTRequest: [400, 'The body of your POST request is not well-formed multipart/form-data.'],
  MaxPostPreDataLengthExceeded: [400, 'Your POST request fields preceding the upload file were too large.'],
  InvalidPolicyDocument: [
    400,
    'The content of the form does not meet the conditions specified in the policy document.',
  ],
  MissingFields: [400, 'Missing fields in request.'],
  MalformedXML: [400, 'The XML you provided was not well-formed or did not validate against our published schema.'],
  MaxMessageLengthExceeded: [400, 'Your request was too big.'],
  MetadataTooLarge: [400, 'Your metadata headers exceed the maximum allowed metadata size.'],
  MethodNotAllowed: [405, 'The specified method is not allowed against this resource.'],
  MissingContentLength: [411, 'You must provide the Content-Length HTTP header.'],
  MissingSecurityHeader: [400, 'Your request is missing a required header.'],
  NoSuchBucket: [404, 'The specified bucket does not exist.'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  NoSuchVersion: [404, 'The specified version does not exist.'],
  InvalidBucketState: [409, 'The request is not valid with the current state of the bucket.'],
  ObjectLockConfigurationNotFoundError: [404, 'Object Lock configuration does not exist for this bucket'],
  NoSuchObjectLockConfiguration: [404, 'The specified object does not have a ObjectLock configuration'],
  NoSuchUpload: [
    404,
    'The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.',
  ],
  NotImplemented: [501, 'A header or query you provided implies functionality that is not implemented.'],
  NotModified: [304, 'Not Modified'],
  PreconditionFailed: [412, 'At least one of the preconditions you specified did not hold.'],
  RequestTimeTooSkewed: [403, "The difference between the request time and the server's time is too large."],
  RequestTimeout: [
    400,
    'Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.',
  ],
  // Not an AWS code (S3 never says it is full). 507 Insufficient Storage (RFC 4918) as MinIO
  // answers (XMinioStorageFull); SDKs do not retry it, which is right: space returns by deletion.
  InsufficientStorage: [507, 'There is not enough free space to store this object.'],
  ServiceUnavailable: [503, 'Please reduce your request rate.'],
  SignatureDoesNotMatch: [
    403,
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  ],
  SlowDown: [503, 'Please reduce your request rate.'],
  XAmzContentSHA256Mismatch: [400, "The provided 'x-amz-content-sha256' header does not match what was computed."],
  InvalidChunkSizeError: [403, 'Only the last chunk is allowed to have a size less than 8192 bytes.'],
  InvalidEncryptionAlgorithmError: [400, 'The encryption request you specified is not valid.'],
  ServerSideEncryptionConfigurationNotFoundError: [404, 'The server side encryption configuration was not found.'],
  NoSuchBucketPolicy: [404, 'The bucket policy does not exist.'],
  MalformedPolicy: [400, "Policies must be valid JSON and the first byte must be '{'"],
  NoSuchPublicAccessBlockConfiguration: [404, 'The public access block configuration was not found'],
  OwnershipControlsNotFoundError: [404, 'The bucket ownership controls were not found'],
  AccessControlListNotSupported: [400, 'The bucket does not allow ACLs'],
  InvalidBucketAclWithObjectOwnership: [
    400,
    "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
  ],
  MalformedACLError: [400, 'The XML you provided was not well-formed or did not validate against our published schema'],
  UnresolvableGrantByEmailAddress: [400, 'The email address you provided does not match any account on record.'],
  NoSuchTagSet: [404, 'The TagSet does not exist.'],
  NoSuchCORSConfiguration: [404, 'The CORS configuration does not exist.'],
  NoSuchLifecycleConfiguration: [404, 'The lifecycle configuration does not exist.'],
  UnexpectedContent: [400, 'This request does not support content.'],
  // SSE-KMS: S3 passes KMS's exception names on, prefixed, with 400.
  'KMS.NotFoundException': [400, 'The specified KMS key does not exist.'],
  'KMS.DisabledException': [400, 'The specified KMS key is disabled.'],
  'KMS.KMSInvalidStateException': [400, 'The specified KMS key is not in a valid state for this request.'],
} as const satisfies Record<string, readonly [number, string]>

export type S3ErrorCode = keyof typeof S3_ERRORS

/** An error the client caused or must hear about; carries everything the `<Error>` body needs. */
export class S3Error extends Error {
  readonly status: number
  /** Extra elements for the `<Error>` document (e.g. BucketName, Key, ArgumentName). */
  readonly details: Record<string, string>
  /** Extra response headers (e.g. Content-Range on 416, Last-Modified on 304). */
  readonly headers: Record<string, string>

  constructor(
    readonly code: S3ErrorCode,
    message?: string,
    details: Record<string, string> = {},
    headers: Record<string, string> = {},
    /** Where S3 answers one code with more than one status (a presigned expiry out of range: 403). */
    status?: number,
  ) {
    super(message ?? S3_ERRORS[code][1])
    this.status = status ?? S3_ERRORS[code][0]
    this.details = details
    this.headers = headers
  }
}

export const isS3Error = (e: unknown): e is S3Error => e instanceof S3Error
