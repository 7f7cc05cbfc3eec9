/**
 * Every storage write of the service goes through here: an intent is recorded before the first
 * shard is stored and settled once metadata points at the data (or the data is gone), so the
 * shards of a crashed write can always be found and removed. Degraded writes queue a heal.
 */
import * as meta from '../meta/index.ts'
import type { WriteResult } from '../storage/object-storage.ts'
import type { ServiceContext } from './context.ts'

export const newId = (): string => crypto.randomUUID()

export interface StoredWrite {
  id: string
  written: WriteResult
}

export async function storeData(ctx: ServiceContext, body: ReadableStream<Uint8Array>): Promise<StoredWrite> {
  const id = newId()
  await meta.recordIntent(ctx.db, id)
  // On failure the intent stays: a store that confirms late may still leave a shard behind,
  // and orphan collection removes it by id.
  const written = await ctx.storage.write(id, body)
  if (written.degraded && written.degraded.length > 0) {
    await meta.enqueueHeal(ctx.db, [written.layout], 'degraded-write')
  }
  return { id, written }
}

/** The data is now referenced by a committed row, or has been removed: forget the intent. */
export async function settle(ctx: ServiceContext, ids: readonly string[]): Promise<void> {
  await meta.clearIntents(ctx.db, ids)
}
