/**
 * The garbage-collection queue: storage layouts that no row points at any more. Entries are
 * leased when taken, so collectors on several gateways do not repeat each other's work.
 */
import { and, asc, count, eq, inArray, lte, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { deleteInlineStatement } from './inline.ts'
import { gcQueue } from '../schema.ts'
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core'
import { padInList } from './in-list.ts'

export interface GcEntry {
  id: number
  layout: unknown
}

/** Rows per INSERT/DELETE statement: well under SQLite's bound-variable limit. */
const CHUNK = 500

/**
 * How long a taken entry stays invisible: after that, the removal of a collector that died with
 * it is retried. One whose removal failed is re-leased for less (retryGcLater).
 */
export const GC_LEASE_MS = 5 * 60_000

/**
 * `INSERT INTO gc_queue SELECT <layout>, reason, now FROM <source>`: the statement that queues
 * the data of rows about to be deleted or replaced, to run in the SAME batch as that delete or
 * replace, before it and under the same gate. Two statements in two transactions would leak the
 * data of a row deleted by a process killed between them (docs/architecture.md §9).
 * `source` is a FROM clause with its WHERE, e.g. sql`${objects} where …`.
 */
export function enqueueGcFrom(db: Db, layout: SQL | SQLiteColumn, source: SQL, reason: string, now = Date.now()) {
  // Columns in table order: id (null = next autoincrement), layout, reason, enqueued_at, retry_at.
  return db.insert(gcQueue).select(sql`select null, ${layout}, ${reason}, ${now}, 0 from ${source}`)
}

/** Entries waiting, and how many of them are due (enqueued at or before `dueBefore`). */
export async function gcBacklog(db: Db, dueBefore = new Date()): Promise<{ queued: number; due: number }> {
  const [all] = await db.select({ n: count() }).from(gcQueue)
  const [due] = await db.select({ n: count() }).from(gcQueue).where(lte(gcQueue.enqueuedAt, dueBefore))
  return { queued: all?.n ?? 0, due: due?.n ?? 0 }
}

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

/**
 * Entries whose removal failed for now (a store down, a node timing out): re-leased until
 * `now` + half as long as each has been due (`dueBefore` − enqueued_at), within [minMs, maxMs].
 * An entry that just fell due comes back soon (a node restarting is back by then); one that keeps
 * failing waits longer each time — about 1.5× the wait before — up to maxMs. Only entries still
 * leased until `leasedUntil`, this pass's lease: one another collector took once that lease had
 * run out is that collector's. Returns how many were re-leased.
 */
export async function retryGcLater(
  db: Db,
  ids: readonly number[],
  o: { now: number; leasedUntil: number; dueBefore: Date; minMs: number; maxMs: number },
): Promise<number> {
  const due = o.dueBefore.getTime()
  let n = 0
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await db
      .update(gcQueue)
      .set({ retryAt: sql`${o.now} + min(${o.maxMs}, max(${o.minMs}, (${due} - ${gcQueue.enqueuedAt}) / 2))` })
      .where(and(inArray(gcQueue.id, padInList(ids.slice(i, i + CHUNK))), eq(gcQueue.retryAt, new Date(o.leasedUntil))))
      .returning({ id: gcQueue.id })
    n += rows.length
  }
  return n
}

/**
 * Removes finished entries; `inlineIds`: the bytes in the metadata those entries named (inline
 * objects), deleted in the same transaction as their entries.
 */
export async function doneGc(db: Db, ids: readonly number[], inlineIds: readonly string[] = []): Promise<void> {
  for (let i = 0; i < Math.max(ids.length, inlineIds.length); i += CHUNK) {
    const entries = ids.slice(i, i + CHUNK)
    const bytes = inlineIds.slice(i, i + CHUNK)
    await db.batch([
      db.delete(gcQueue).where(inArray(gcQueue.id, padInList(entries))),
      ...(bytes.length > 0 ? [deleteInlineStatement(db, bytes)] : []),
    ])
  }
}
