/**
 * The service layer's public face: every use case by name, and the types they take and return.
 * src/s3, src/admin and src/app import the service only from here; modules behind it never do.
 * A use case takes the Service (openService's result) first, then the caller (an Actor) if it acts
 * for one: `putObject(service, actor, { bucket, key, body, … })`.
 */

// Lifecycle, health and background work.
export { type RootCredentials, type ServiceOptions, closeService, ensureRootUser, openService } from './open.ts'
export { maintain, startBackground } from './background.ts'
export {
  activateNode,
  addNode,
  drainNode,
  LAYOUT_FOLLOW_MS,
  type LayoutView,
  removeNode,
  shardsOn,
  showLayout,
} from './cluster-layout.ts'
export type { ClusterState, ForegroundLoad, NodeDirectory } from './context.ts'
export { type Health, health } from './health.ts'
export { DEFAULT_MIN_FREE_BYTES, isOutOfSpace, type SpaceReport } from './space.ts'
/** The metadata (sqld) unreachable or busy: the protocol layer answers 503, nothing was stored. */
export { isMetaUnavailable } from '../meta/index.ts'
/** A bucket's row as one request read it: handed from the authorization step to the operation. */
export type { BucketRow } from '../meta/index.ts'
export { type DurabilityStats, DEFAULT_TUNING, type MasterKeyFile, type Tuning } from './context.ts'
export type { ServiceContext as Service } from './context.ts'
export { MasterKeyMismatchError } from './keyring.ts'
export { CorruptMetadataError, isServiceError, ServiceError, type ServiceErrorCode } from './errors.ts'

// Callers.
export { type Actor, actorFor, lookupSecret } from './identities.ts'
export { type CorsRule, corsRulesOf, deleteBucketCors, getBucketCors, putBucketCors } from './bucket-cors.ts'

// Buckets and objects.
export {
  type BucketInfo,
  type BucketStats,
  bucketStats,
  createBucket,
  deleteBucket,
  headBucket,
  listBuckets,
} from './buckets.ts'
export type {
  ChecksumValue,
  ObjectInfo,
  ObjectSummary,
  PartInfo,
  PartSummary,
  KmsInfo,
  SseKind,
  UploadInfo,
} from './object-info.ts'
export type { ReadConditions } from './conditions.ts'
export { type CustomerKey, customerKey, type SseAlgorithm, type SseRequest } from './encryption.ts'
export {
  type BucketEncryptionConfig,
  deleteBucketEncryption,
  getBucketEncryption,
  putBucketEncryption,
} from './bucket-encryption.ts'
export { canonicalEncryptionContext, EncryptionContextError } from './kms-ids.ts'
export {
  cancelKmsKeyDeletion,
  createKmsKey,
  describeKmsKey,
  disableKmsKey,
  enableKmsKey,
  type KmsKeyInfo,
  listKmsKeys,
  scheduleKmsKeyDeletion,
} from './kms.ts'
export {
  type BodyInput,
  type Digests,
  type ObjectMetadataInput,
  type PutObjectInput,
  putObject,
  type WriteConditions,
} from './put-object.ts'
export { type ObjectAddress, type ObjectReader, readObject, statObject } from './get-object.ts'
export { type Deleted, type DeleteOutcome, deleteObject, deleteObjects } from './delete-object.ts'
export {
  getObjectLegalHold,
  getObjectLockConfiguration,
  getObjectRetention,
  type LockRequest,
  putObjectLegalHold,
  putObjectLockConfiguration,
  putObjectRetention,
} from './locks.ts'
export {
  deleteBucketTagging,
  deleteObjectTagging,
  getBucketTagging,
  getObjectTagging,
  type ObjectTagging,
  putBucketTagging,
  putObjectTagging,
  type TaggingAddress,
} from './tagging.ts'
export { checkObjectTags, MAX_OBJECT_TAGS, type Tag } from './tags.ts'
export { deleteBucketLifecycle, getBucketLifecycle, putBucketLifecycle } from './lifecycle/config.ts'
export type { LifecycleFilter, LifecycleRule } from './lifecycle/rules.ts'
export { type LifecycleStatus, lifecycleStatus } from './lifecycle/worker.ts'
export { type RebalanceStatus, rebalanceStatus } from './rebalance/mover.ts'
export {
  getBucketVersioning,
  listObjectVersions,
  type ListVersionsInput,
  putBucketVersioning,
  type VersioningStatus,
  type VersionsPage,
  type VersionSummary,
} from './versioning.ts'
export { type ListInput, type ListPage, listObjects } from './list-objects.ts'
export {
  type CopyObjectInput,
  type CopySource,
  copyObject,
  MAX_COPY_BYTES,
  type UploadPartCopyInput,
  uploadPartCopy,
} from './copy-object.ts'

// Multipart uploads.
export {
  abortUpload,
  type CreateUploadInput,
  createUpload,
  getUpload,
  listParts,
  listUploads,
  type PartsPage,
  type UploadAddress,
  type UploadPartInput,
  type UploadsPage,
  uploadPart,
} from './multipart.ts'
export { type CompletePart, type CompleteUploadInput, completeUpload, MIN_PART_SIZE } from './multipart-complete.ts'

// Operators: namespaces, users, keys.
export {
  createNamespace,
  createUser,
  deleteNamespace,
  deleteUser,
  listNamespaces,
  listUsers,
  type NamespaceInfo,
  type UserInfo,
  type UserPolicies,
  setUserPolicy,
  getUserPolicy,
  deleteUserPolicy,
  getNamespacePublicAccessBlock,
  setNamespacePublicAccessBlock,
} from './namespaces.ts'

// Access control: the one authorization step, and the bucket settings S3 exposes.
export { type AccessQuery, anonymousActor, authorize, isAllowed } from './access.ts'
export { canonicalId } from './canonical-id.ts'
export {
  type AclRequest,
  checkNewObjectAcl,
  getBucketAcl,
  getObjectAcl,
  putBucketAcl,
  putObjectAcl,
} from './acl.ts'
export { type PublicAccessBlock, PUBLIC_ACCESS_SWITCHES } from './public-access.ts'
export {
  bucketOwnership,
  bucketPolicyStatus,
  deleteBucketOwnership,
  deleteBucketPolicy,
  deleteBucketPublicAccessBlock,
  getBucketOwnership,
  getBucketPolicy,
  getBucketPublicAccessBlock,
  OBJECT_OWNERSHIP_VALUES,
  type ObjectOwnership,
  putBucketOwnership,
  putBucketPolicy,
  putBucketPublicAccessBlock,
} from './bucket-access.ts'
export { rotateMasterKey, rotateNamespaceKey } from './key-rotation.ts'

// The web console's sessions, shared by every gateway through the metadata.
export {
  CONSOLE_SESSION_TTL_MS,
  type ConsoleSession,
  consoleSession,
  createConsoleSession,
  endConsoleSession,
} from './console-sessions.ts'
export {
  clearSignInFailures,
  recordSignInFailure,
  SHARED_SIGN_IN_LIMITS,
  type SharedSignInLimits,
  signInRetryAfter,
} from './console-sign-in-limit.ts'
