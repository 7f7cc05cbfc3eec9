/**
 * Lifecycle configuration use cases (Get/Put/DeleteBucketLifecycleConfiguration) and the
 * x-amz-expiration a current version shows. The rules are ./rules.ts; the worker ./worker.ts.
 */
import * as meta from '../../meta/index.ts'
import type { ServiceContext } from '../context.ts'
import { ServiceError } from '../errors.ts'
import { type Actor, bucketFor } from '../identities.ts'
import { checkLifecycle, DAY_MS, decodeLifecycle, type LifecycleRule, objectExpiry } from './rules.ts'

export const lifecycleOf = (bucket: meta.BucketRow) => decodeLifecycle(bucket.lifecycle)

export const dayMsOf = (ctx: ServiceContext): number => ctx.tuning.lifecycleDaySeconds * 1000 || DAY_MS

export async function getBucketLifecycle(ctx: ServiceContext, actor: Actor, name: string): Promise<LifecycleRule[]> {
  const config = lifecycleOf(await bucketFor(ctx, actor, name))
  if (!config) throw new ServiceError('NoSuchLifecycleConfiguration', undefined, { BucketName: name })
  return config.rules
}

export async function putBucketLifecycle(
  ctx: ServiceContext,
  actor: Actor,
  name: string,
  rules: readonly LifecycleRule[],
): Promise<void> {
  const bucket = await bucketFor(ctx, actor, name)
  const config = checkLifecycle(rules, () => crypto.randomUUID().replaceAll('-', ''))
  if (!(await meta.setBucketConfig(ctx.db, name, bucket.id, { lifecycle: config })))
    throw new ServiceError('NoSuchBucket', undefined, { BucketName: name })
}

export async function deleteBucketLifecycle(ctx: ServiceContext, actor: Actor, name: string): Promise<void> {
  const bucket = await bucketFor(ctx, actor, name)
  if (!(await meta.setBucketConfig(ctx.db, name, bucket.id, { lifecycle: null })))
    throw new ServiceError('NoSuchBucket', undefined, { BucketName: name })
}

/** When the current version `row` expires under its bucket's rules (x-amz-expiration), if it does. */
export function expirationOf(
  ctx: ServiceContext,
  bucket: meta.BucketRow,
  row: meta.ObjectRow,
): { at: Date; ruleId: string } | undefined {
  const config = lifecycleOf(bucket)
  if (!config || row.deleteMarker || !row.latest) return undefined
  const e = objectExpiry(
    config.rules,
    { key: row.key, size: row.size, tags: row.tags ?? [], modified: row.lastModified.getTime() },
    dayMsOf(ctx),
  )
  return e && { at: new Date(e.at), ruleId: e.ruleId }
}
