/**
 * A bucket's CORS rules (Put/Get/DeleteBucketCors, and the lookup preflights and cross-origin
 * requests make without credentials). Stored as JSON in `settings` under the bucket's immutable
 * id, so a bucket deleted and created again under the same name starts without rules, and no
 * schema change is needed. Validation of the rules is the protocol layer's (src/s3/cors.ts).
 */
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import { type Actor, bucketFor } from './identities.ts'

export interface CorsRule {
  id?: string
  allowedOrigins: string[]
  allowedMethods: string[]
  allowedHeaders: string[]
  exposeHeaders: string[]
  maxAgeSeconds?: number
}

const settingKey = (bucketId: string) => `bucket-cors/${bucketId}`

function parseRules(value: string | undefined): CorsRule[] | undefined {
  if (value === undefined) return undefined
  const rules = JSON.parse(value) as unknown
  if (!Array.isArray(rules)) throw new meta.CorruptRowError('settings bucket-cors is not a list of rules')
  return rules as CorsRule[]
}

/** The bucket's rules, or undefined when it has none. */
export async function getBucketCors(ctx: ServiceContext, actor: Actor, name: string): Promise<CorsRule[] | undefined> {
  const bucket = await bucketFor(ctx, actor, name)
  return parseRules(await meta.getSetting(ctx.db, settingKey(bucket.id)))
}

/** Replaces the bucket's rules (one statement: a reader sees the old set or the new one). */
export async function putBucketCors(ctx: ServiceContext, actor: Actor, name: string, rules: CorsRule[]): Promise<void> {
  const bucket = await bucketFor(ctx, actor, name)
  await meta.setSetting(ctx.db, settingKey(bucket.id), JSON.stringify(rules))
}

export async function deleteBucketCors(ctx: ServiceContext, actor: Actor, name: string): Promise<void> {
  const bucket = await bucketFor(ctx, actor, name)
  await meta.deleteSetting(ctx.db, settingKey(bucket.id))
}

/**
 * The rules a browser's request is answered from, whoever sends it (a preflight carries no
 * credentials): undefined when the bucket does not exist or has no rules.
 */
export async function corsRulesOf(ctx: ServiceContext, name: string): Promise<CorsRule[] | undefined> {
  const bucket = await meta.getBucket(ctx.db, name)
  if (!bucket) return undefined
  return parseRules(await meta.getSetting(ctx.db, settingKey(bucket.id)))
}

/** Drops the rules of a deleted bucket (its id is never reused, so a leftover is only clutter). */
export async function forgetBucketCors(ctx: ServiceContext, bucketId: string): Promise<void> {
  await meta.deleteSetting(ctx.db, settingKey(bucketId))
}
