/** Listing keys of a bucket: an index seek per page in meta, scoped to the actor's namespace here. */
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import { type Actor, bucketFor } from './identities.ts'
import { type ObjectSummary, objectSummary } from './object-info.ts'

export interface ListInput {
  bucket: string
  prefix: string
  delimiter?: string
  startAfter?: string
  maxKeys: number
}

export interface ListPage {
  objects: ObjectSummary[]
  commonPrefixes: string[]
  isTruncated: boolean
  /** When truncated: the last key or common prefix of the page; pass it back as startAfter. */
  nextMarker?: string
}

export async function listObjects(ctx: ServiceContext, actor: Actor, input: ListInput): Promise<ListPage> {
  await bucketFor(ctx, actor, input.bucket)
  const page = await meta.listObjects(ctx.db, input)
  return { ...page, objects: page.objects.map(objectSummary) }
}
