/**
 * Garbage collection of stored data that no metadata row points at any more (overwritten and
 * deleted objects, replaced and unused parts, aborted uploads). Entries wait a grace period so
 * that reads already streaming the old data finish first.
 */
import * as meta from '../meta/index.ts'
import { parseDataLayout } from '../storage/index.ts'
import type { ServiceContext } from './context.ts'

/** Long enough for a slow client to finish streaming a large object it had already opened. */
export const GC_GRACE_MS = 10 * 60_000
const BATCH = 100

/** Removes up to BATCH due entries; returns how many were removed. */
export async function collectGarbage(ctx: ServiceContext, now = Date.now(), graceMs = GC_GRACE_MS): Promise<number> {
  const due = await meta.takeGc(ctx.db, BATCH, new Date(now - graceMs))
  const done: number[] = []
  for (const entry of due) {
    try {
      await ctx.storage.remove(parseDataLayout(entry.layout))
      done.push(entry.id)
    } catch {
      // The store may be down; the entry stays queued for the next round (a malformed one for good:
      // nothing can tell which shards it meant).
    }
  }
  if (done.length > 0) await meta.doneGc(ctx.db, done)
  return done.length
}
