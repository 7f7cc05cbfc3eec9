/**
 * The garbage-collection queue: storage layouts that no row points at any more. Entries are
 * leased when taken, so collectors on several gateways do not repeat each other's work.
 */
import { and, asc, inArray, lte } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { gcQueue } from '../schema.ts'

export interface GcEntry {
  id: number
  layout: unknown
}

/** Rows per INSERT/DELETE statement: well under SQLite's bound-variable limit. */
const CHUNK = 500

/** How long a taken entry stays invisible; after that an unfinished removal is retried. */
export const GC_LEASE_MS = 5 * 60_000

export async function enqueueGc(db: Db, layouts: readonly unknown[], reason: string, now = new Date()): Promise<void> {
  for (let i = 0; i < layouts.length; i += CHUNK) {
    const rows = layouts
      .slice(i, i + CHUNK)
      .map((layout) => ({ layout, reason, enqueuedAt: now, retryAt: new Date(0) }))
    await db.insert(gcQueue).values(rows)
  }
}

/**
 * Up to `limit` entries enqueued at or before `dueBefore` (the grace period lets reads already
 * streaming old data finish), oldest first, leased for `leaseMs` in the same statement.
 */
export async function takeGc(
  db: Db,
  limit: number,
  dueBefore = new Date(),
  leaseMs = GC_LEASE_MS,
  now = Date.now(),
): Promise<GcEntry[]> {
  if (limit <= 0) return []
  const due = db
    .select({ id: gcQueue.id })
    .from(gcQueue)
    .where(and(lte(gcQueue.enqueuedAt, dueBefore), lte(gcQueue.retryAt, new Date(now))))
    .orderBy(asc(gcQueue.id))
    .limit(limit)
  const taken = await db
    .update(gcQueue)
    .set({ retryAt: new Date(now + leaseMs) })
    .where(inArray(gcQueue.id, due))
    .returning({ id: gcQueue.id, layout: gcQueue.layout })
  return taken.sort((a, b) => a.id - b.id)
}

/** Removes finished entries. */
export async function doneGc(db: Db, ids: readonly number[]): Promise<void> {
  for (let i = 0; i < ids.length; i += CHUNK) {
    await db.delete(gcQueue).where(inArray(gcQueue.id, ids.slice(i, i + CHUNK)))
  }
}
