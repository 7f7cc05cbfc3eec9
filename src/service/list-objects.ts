/** Listing keys of a bucket: an index seek per page in meta, scoped to the actor's namespace here. */
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import { type Actor, bucketFor } from './identities.ts'

export interface ListInput {
  bucket: string
  prefix: string
  delimiter?: string
  startAfter?: string
  maxKeys: number
}

export async function listObjects(ctx: ServiceContext, actor: Actor, input: ListInput) {
  await bucketFor(ctx, actor, input.bucket)
  return meta.listObjects(ctx.db, input)
}
