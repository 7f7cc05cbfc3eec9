/**
 * Every storage write of the service goes through here: an intent is recorded before the first
 * shard is stored and settled once metadata points at the data (or the data is gone), so the
 * shards of a crashed write can always be found and removed. Degraded writes queue a heal.
 */
import * as meta from '../meta/index.ts'
import { QuorumError, type WriteResult } from '../storage/index.ts'
import { ServiceError } from './errors.ts'
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
  let written: WriteResult
  try {
    written = await ctx.storage.write(id, body)
  } catch (e) {
    if (e instanceof QuorumError) {
      throw new ServiceError('Unavailable', 'Too few storage nodes or drives are reachable to store this object; retry later.')
    }
    throw e
  }
  if (written.degraded && written.degraded.length > 0) {
    ctx.stats.degradedWrites++
    await meta.enqueueHeal(ctx.db, [written.layout], 'degraded-write')
  }
  return { id, written }
}

/** The data is now referenced by a committed row, or has been removed: forget the intent. */
export async function settle(ctx: ServiceContext, ids: readonly string[]): Promise<void> {
  await meta.clearIntents(ctx.db, ids)
}
