/**
 * A bucket's default encryption (Put/Get/DeleteBucketEncryption): what a write without
 * x-amz-server-side-encryption gets. Stored as JSON in `settings` under the bucket's immutable id
 * (as CORS rules: no schema change, and a bucket created again under the name starts without).
 * In a namespace with D@RE on, data is encrypted whatever is set here; the default only chooses
 * SSE-KMS over SSE-S3. Without D@RE, AES256 and aws:kms defaults are kept as AWS keeps them.
 */
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import { CorruptMetadataError, ServiceError } from './errors.ts'
import { type Actor, bucketFor } from './identities.ts'
import { parseKmsKeyRef } from './kms-ids.ts'
import { isRecord } from '../util/shape.ts'

/** FORMAT: settings['bucket-encryption/<bucket id>'] (JSON). */
export interface BucketEncryptionConfig {
  v: 1
  algorithm: 'AES256' | 'aws:kms' | 'aws:kms:dsse'
  /** As the client gave it (id, alias or ARN); resolved at each write. */
  kmsKeyId?: string
  bucketKeyEnabled?: boolean
}

const settingKey = (bucketId: string) => `bucket-encryption/${bucketId}`

function parseConfig(raw: string | undefined): BucketEncryptionConfig | undefined {
  if (raw === undefined) return undefined
  let v: unknown
  try {
    v = JSON.parse(raw)
  } catch {
    v = undefined
  }
  if (
    isRecord(v) &&
    v.v === 1 &&
    (v.algorithm === 'AES256' || v.algorithm === 'aws:kms' || v.algorithm === 'aws:kms:dsse')
  )
    return v as unknown as BucketEncryptionConfig
  throw new CorruptMetadataError('settings bucket-encryption is malformed')
}

/** The default a write into the bucket `bucketId` gets, when it asks for none. */
export async function bucketEncryptionConfig(
  ctx: ServiceContext,
  bucketId: string,
): Promise<BucketEncryptionConfig | undefined> {
  return parseConfig(await meta.getSetting(ctx.db, settingKey(bucketId)))
}

/**
 * What GetBucketEncryption reports: the bucket's default, else SSE-S3 when its namespace has D@RE
 * (every object is encrypted there), else nothing (ServerSideEncryptionConfigurationNotFoundError).
 */
export async function getBucketEncryption(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
): Promise<BucketEncryptionConfig | undefined> {
  const bucket = await bucketFor(ctx, actor, name)
  const set = await bucketEncryptionConfig(ctx, bucket.id)
  if (set) return set
  const ns = await meta.getNamespace(ctx.db, bucket.namespace)
  return ns?.encrypted ? { v: 1, algorithm: 'AES256' } : undefined
}

export async function putBucketEncryption(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
  config: Omit<BucketEncryptionConfig, 'v'>,
): Promise<void> {
  const bucket = await bucketFor(ctx, actor, name)
  if (config.kmsKeyId !== undefined) {
    if (config.algorithm === 'AES256')
      throw new ServiceError('InvalidArgument', 'a KMSMasterKeyID is allowed only with SSEAlgorithm aws:kms.', {
        ArgumentName: 'ApplyServerSideEncryptionByDefault',
      })
    if (!parseKmsKeyRef(config.kmsKeyId))
      throw new ServiceError('InvalidArgument', `Invalid KMSMasterKeyID: ${config.kmsKeyId}`, {
        ArgumentName: 'KMSMasterKeyID',
        ArgumentValue: config.kmsKeyId,
      })
  }
  const stored: BucketEncryptionConfig = { v: 1, algorithm: config.algorithm }
  if (config.kmsKeyId !== undefined) stored.kmsKeyId = config.kmsKeyId
  if (config.bucketKeyEnabled) stored.bucketKeyEnabled = true
  await meta.setSetting(ctx.db, settingKey(bucket.id), JSON.stringify(stored))
}

export async function deleteBucketEncryption(ctx: ServiceContext, actor: Actor, name: string): Promise<void> {
  const bucket = await bucketFor(ctx, actor, name)
  await meta.deleteSetting(ctx.db, settingKey(bucket.id))
}

/** Drops the default of a deleted bucket (its id is never reused, so a leftover is only clutter). */
export async function forgetBucketEncryption(ctx: ServiceContext, bucketId: string): Promise<void> {
  await meta.deleteSetting(ctx.db, settingKey(bucketId))
}
