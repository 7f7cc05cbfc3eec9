/**
 * The one shard a move leaves behind (its old copy, or a new copy whose switch lost a race) as a
 * gc_queue entry, and the check GC makes before removing it: no row names that shard on that
 * store (docs/architecture.md §14). Uses meta and storage.
 */
import * as meta from '../../meta/index.ts'
import { type DataLayout, isDataLayout } from '../../storage/index.ts'
import type { ServiceContext } from '../context.ts'
import { layoutsOf, parseStoredData } from '../stored-data.ts'
import { isCount, isRecord } from '../../util/shape.ts'

/** FORMAT: a gc_queue entry for one shard file (formats.md §4). */
export interface ShardGarbage {
  v: 1
  shard: { id: string; index: number; store: string }
}

export const shardGarbage = (id: string, index: number, store: string): ShardGarbage => ({
  v: 1,
  shard: { id, index, store },
})

export function isShardGarbage(v: unknown): v is ShardGarbage {
  return (
    isRecord(v) &&
    v.v === 1 &&
    isRecord(v.shard) &&
    typeof v.shard.id === 'string' &&
    isCount(v.shard.index) &&
    typeof v.shard.store === 'string'
  )
}

/** The layout of write `id` as a row (object version or part) records it now, if any does. */
export async function recordedLayout(ctx: ServiceContext, id: string): Promise<DataLayout | undefined> {
  for (const raw of await meta.layoutsNaming(ctx.db, id)) {
    const layouts = isDataLayout(raw) ? [raw] : layoutsOf(parseStoredData(raw, `a row naming ${id}`))
    const found = layouts.find((l) => l.id === id)
    if (found) return found
  }
  return undefined
}

/** Whether an object version or part records shard `index` of write `id` on `store` now. */
export async function shardNamed(ctx: ServiceContext, id: string, index: number, store: string): Promise<boolean> {
  return (await recordedLayout(ctx, id))?.stores[index] === store
}

/** GC of one shard entry: removed unless a row names it again (a later move back to that store). */
export async function collectShardGarbage(ctx: ServiceContext, g: ShardGarbage): Promise<void> {
  const { id, index, store } = g.shard
  if (await shardNamed(ctx, id, index, store)) return
  await ctx.storage.removeShard(id, index, store)
}
