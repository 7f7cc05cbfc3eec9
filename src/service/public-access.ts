/**
 * Block Public Access: four switches, per bucket and per namespace (the effective setting is
 * either one's switch being on, as AWS combines bucket and account). Stored as JSON text in
 * buckets.public_access_block / namespaces.public_access_block (docs/formats.md §4).
 */
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'

export interface PublicAccessBlock {
  BlockPublicAcls: boolean
  IgnorePublicAcls: boolean
  BlockPublicPolicy: boolean
  RestrictPublicBuckets: boolean
}

export const PUBLIC_ACCESS_SWITCHES = [
  'BlockPublicAcls',
  'IgnorePublicAcls',
  'BlockPublicPolicy',
  'RestrictPublicBuckets',
] as const

export const NO_BLOCK: PublicAccessBlock = {
  BlockPublicAcls: false,
  IgnorePublicAcls: false,
  BlockPublicPolicy: false,
  RestrictPublicBuckets: false,
}

export const ALL_BLOCKED: PublicAccessBlock = {
  BlockPublicAcls: true,
  IgnorePublicAcls: true,
  BlockPublicPolicy: true,
  RestrictPublicBuckets: true,
}

/** FORMAT: the stored JSON; a missing switch reads as off, unreadable text as all on (fail closed). */
export function parsePublicAccessBlock(text: string | null): PublicAccessBlock | undefined {
  if (text === null) return undefined
  try {
    const v = JSON.parse(text) as Record<string, unknown>
    return Object.fromEntries(PUBLIC_ACCESS_SWITCHES.map((k) => [k, v[k] === true])) as unknown as PublicAccessBlock
  } catch {
    return ALL_BLOCKED
  }
}

export const publicAccessBlockText = (p: PublicAccessBlock): string =>
  JSON.stringify(Object.fromEntries(PUBLIC_ACCESS_SWITCHES.map((k) => [k, p[k]])))

export async function namespacePublicAccessBlock(ctx: ServiceContext, namespace: string): Promise<PublicAccessBlock> {
  const ns = await meta.getNamespace(ctx.db, namespace)
  return parsePublicAccessBlock(ns?.publicAccessBlock ?? null) ?? NO_BLOCK
}

/** Each switch on if the bucket's or its namespace's is. */
export async function effectivePublicAccessBlock(
  ctx: ServiceContext,
  bucket: meta.BucketRow,
): Promise<PublicAccessBlock> {
  const own = parsePublicAccessBlock(bucket.publicAccessBlock) ?? NO_BLOCK
  const ns = await namespacePublicAccessBlock(ctx, bucket.namespace)
  return Object.fromEntries(PUBLIC_ACCESS_SWITCHES.map((k) => [k, own[k] || ns[k]])) as unknown as PublicAccessBlock
}
