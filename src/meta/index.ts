/**
 * The metadata layer's public face: openDb, the schema's row types and every query function.
 * Callers (src/service only) import from here, never from the files behind it.
 */
export { openDb, type Db, type Meta, type OpenDbOptions } from './db.ts'
export { CorruptRowError, isDbFull, isMetaUnavailable, UnstorableKeyError } from './errors.ts'
export type {
  ChecksumInfo,
  ChecksumType,
  ListedObject,
  ObjectPart,
  ObjectRow,
  PartRow,
  StoredHeaders,
  TagRow,
  UploadRow,
} from './rows.ts'
export { isTagList } from './rows.ts'
export * from './queries/identities.ts'
export * from './queries/buckets.ts'
// Not `export *`: the SQL building blocks in objects.ts are for multipart.ts only.
export {
  commitObject,
  deleteObject,
  deleteVersion,
  GC_REASON_DELETED,
  GC_REASON_OVERWRITTEN,
  type DeleteResult,
  getObject,
  getCompleted,
  getVersion,
  getWithInline,
  type RowWithInline,
  newVersionId,
  NULL_VERSION,
  parseEtagList,
  setVersionAcl,
  setVersionLock,
  setVersionTags,
  type CommitResult,
  type RowIdentity,
  type VersionDeleted,
  type WriteCondition,
} from './queries/objects.ts'
export * from './queries/list.ts'
export { type BucketVersionStats, bucketVersionStats, type VersionCount } from './queries/bucket-stats.ts'
export * from './queries/multipart.ts'
export * from './queries/gc.ts'
export * from './queries/inline.ts'
export type { Refusal, Writer } from './queries/writer.ts'
export { successor } from './queries/seek.ts'
export * from './queries/durability.ts'
export * from './queries/keys.ts'
export * from './queries/cluster-layouts.ts'
export * from './queries/kms.ts'
export * from './queries/lifecycle.ts'
export * from './queries/rebalance.ts'
