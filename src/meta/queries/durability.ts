/**
 * Durability bookkeeping: write intents (to find the shards of crashed writes), the heal queue
 * (leased like gc_queue), and a cursor over every stored layout for the scrubber.
 */
import { and, asc, count, eq, gt, inArray, lte, sql } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { healQueue, objects, parts, writeIntents } from '../schema.ts'
import { padInList } from './in-list.ts'

const CHUNK = 500

export async function recordIntent(db: Db, id: string, now = new Date()): Promise<void> {
  await db.insert(writeIntents).values({ id, startedAt: now }).onConflictDoNothing()
}

export async function clearIntents(db: Db, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += CHUNK) {
    await db.delete(writeIntents).where(inArray(writeIntents.id, padInList(ids.slice(i, i + CHUNK))))
  }
}

/**
 * Orphan collection's settle: clears only the intents still started at or before `before`, the
 * ones it judged. An intent renewed meanwhile (a heal's claim, see claimIntent) stays, so the
 * shards written under that claim are still looked at later.
 */
export async function clearStaleIntents(db: Db, ids: readonly string[], before: Date): Promise<void> {
  for (let i = 0; i < ids.length; i += CHUNK) {
    await db
      .delete(writeIntents)
      .where(and(inArray(writeIntents.id, padInList(ids.slice(i, i + CHUNK))), lte(writeIntents.startedAt, before)))
  }
}

/**
 * Records (or renews, to `now`) the intent of `id` before a heal writes shards for it: if the
 * process dies before the heal settles, orphan collection looks at `id` after its grace and
 * removes the shards when nothing references them.
 */
export async function claimIntent(db: Db, id: string, now = new Date()): Promise<void> {
  await db
    .insert(writeIntents)
    .values({ id, startedAt: now })
    .onConflictDoUpdate({ target: writeIntents.id, set: { startedAt: now } })
}

export async function hasIntent(db: Db, id: string): Promise<boolean> {
  const rows = await db.select({ one: sql`1` }).from(writeIntents).where(eq(writeIntents.id, id)).limit(1)
  return rows.length > 0
}

/** Intents started before `before`: writes that crashed or were abandoned (or just committed). */
export async function staleIntents(db: Db, before: Date, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: writeIntents.id })
    .from(writeIntents)
    .where(lte(writeIntents.startedAt, before))
    .orderBy(asc(writeIntents.startedAt))
    .limit(limit)
  return rows.map((r) => r.id)
}

/**
 * Whether any object or part still points at data written under `id`. A scan of the layout
 * JSON: it only runs for stale intents (crashed writes), which are rare.
 */
export async function isReferenced(db: Db, id: string): Promise<boolean> {
  const pattern = `%"${id.replace(/[%_"\\]/g, '')}"%`
  const inObjects = await db
    .select({ one: sql`1` })
    .from(objects)
    .where(sql`${objects.layout} LIKE ${pattern}`)
    .limit(1)
  if (inObjects.length > 0) return true
  const inParts = await db.select({ one: sql`1` }).from(parts).where(sql`${parts.layout} LIKE ${pattern}`).limit(1)
  return inParts.length > 0
}

export interface HealEntry {
  id: number
  layout: unknown
  attempts: number
}

/**
 * Queues layouts for healing, once each: a layout already waiting (matched by its write id) is
 * not queued again, so a scrubber passing over a down store does not grow the queue.
 */
export async function enqueueHeal(
  db: Db,
  layouts: readonly unknown[],
  reason: string,
  now = new Date(),
): Promise<void> {
  for (const layout of layouts) {
    const id = (layout as { id?: unknown }).id
    const waiting =
      typeof id === 'string'
        ? await db
            .select({ one: sql`1` })
            .from(healQueue)
            .where(sql`json_extract(${healQueue.layout}, '$.id') = ${id}`)
            .limit(1)
        : []
    if (waiting.length > 0) continue
    await db.insert(healQueue).values({ layout, reason, enqueuedAt: now, retryAt: new Date(0), attempts: 0 })
  }
}

/**
 * Up to `limit` due entries, leased for `leaseMs` and counted as one more attempt. With
 * `afterId`, the entries after that id whatever their lease (a full pass taking every entry once,
 * in id order, including those another attempt left leased).
 */
export async function takeHeal(
  db: Db,
  limit: number,
  leaseMs: number,
  now = Date.now(),
  afterId?: number,
): Promise<HealEntry[]> {
  if (limit <= 0) return []
  const due = db
    .select({ id: healQueue.id })
    .from(healQueue)
    .where(afterId === undefined ? lte(healQueue.retryAt, new Date(now)) : gt(healQueue.id, afterId))
    .orderBy(asc(healQueue.id))
    .limit(limit)
  const taken = await db
    .update(healQueue)
    .set({ retryAt: new Date(now + leaseMs), attempts: sql`${healQueue.attempts} + 1` })
    .where(inArray(healQueue.id, due))
    .returning({ id: healQueue.id, layout: healQueue.layout, attempts: healQueue.attempts })
  return taken.sort((a, b) => a.id - b.id)
}

export async function doneHeal(db: Db, ids: readonly number[]): Promise<void> {
  for (let i = 0; i < ids.length; i += CHUNK) {
    await db.delete(healQueue).where(inArray(healQueue.id, padInList(ids.slice(i, i + CHUNK))))
  }
}

export async function healBacklog(db: Db): Promise<number> {
  const [row] = await db.select({ n: count() }).from(healQueue)
  return row?.n ?? 0
}

export interface LayoutCursor {
  bucket: string
  key: string
  /** The version's place among its key's (objects.ord): every version is scrubbed. */
  ord: number
}

/**
 * The next `limit` object versions after `cursor` in primary-key order (bucket, key, ord), with
 * their layouts: current and non-current versions alike; delete markers (no data) come back
 * with a null layout, so the cursor still moves past them.
 */
export async function objectLayoutsAfter(db: Db, cursor: LayoutCursor | undefined, limit: number) {
  const where = cursor
    ? sql`(${objects.bucket}, ${objects.key}, ${objects.ord}) > (${cursor.bucket}, ${cursor.key}, ${cursor.ord})`
    : undefined
  return db
    .select({ bucket: objects.bucket, key: objects.key, ord: objects.ord, layout: objects.layout })
    .from(objects)
    .where(where)
    .orderBy(asc(objects.bucket), asc(objects.key), asc(objects.ord))
    .limit(limit)
}

/**
 * The layout of object version (bucket, key, ord) as it is now, or undefined when that version is
 * gone: the scrubber reads a page of rows, then their inline bytes, and an overwrite or a delete
 * (with GC of the bytes) in between must not be reported as damage.
 */
export async function objectLayoutAt(db: Db, at: LayoutCursor): Promise<unknown | undefined> {
  const [row] = await db
    .select({ layout: objects.layout })
    .from(objects)
    .where(and(eq(objects.bucket, at.bucket), eq(objects.key, at.key), eq(objects.ord, at.ord)))
  return row?.layout ?? undefined
}
