/**
 * The rebalance mover's metadata (docs/architecture.md §14): switching where one object version's
 * shards are recorded, in one transaction guarded against every concurrent change, and finding
 * the rows that name a write id. Layout JSON stays opaque here: the caller passes the value it
 * read and the value to record.
 */
import { and, eq, sql } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { gcQueue, objects, parts } from '../schema.ts'
import { affected } from '../tx.ts'

export interface VersionKey {
  bucket: string
  key: string
  ord: number
}

/**
 * Records `next` as the layout of version `row`, only while the row still holds exactly `read`
 * (the layout the copies were made from): an overwrite (even at the same `ord`), a delete or
 * another move meanwhile leaves the row alone and returns false — the caller then discards its
 * copies. In the same transaction, and only if the switch happened, `garbage` (the shards left
 * behind) is queued for GC: there is no moment at which the row names the new shards and the old
 * ones are not queued, nor one at which an old shard is queued while a row still names it.
 */
export async function switchObjectLayout(
  db: Db,
  row: VersionKey,
  read: unknown,
  next: unknown,
  garbage: readonly unknown[],
  reason: string,
  now = Date.now(),
): Promise<boolean> {
  const where = (layout: unknown) =>
    and(
      eq(objects.bucket, row.bucket),
      eq(objects.key, row.key),
      eq(objects.ord, row.ord),
      sql`${objects.layout} = ${JSON.stringify(layout)}`,
    )
  const switched = sql`exists (select 1 from ${objects} where ${where(next)})`
  const [update] = await db.batch([
    db.update(objects).set({ layout: next }).where(where(read)),
    ...garbage.map((g) =>
      db.insert(gcQueue).select(sql`select null, ${JSON.stringify(g)}, ${reason}, ${now}, 0 where ${switched}`),
    ),
  ])
  return affected(update) === 1
}

/**
 * The layouts (opaque) of object versions and uploaded parts that mention write id `id`: at most
 * a few rows (a write id belongs to one row, a copy to its source and target for a moment). A
 * scan of the layout JSON, like isReferenced: it runs once per moved shard collected.
 */
export async function layoutsNaming(db: Db, id: string): Promise<unknown[]> {
  const pattern = `%"${id.replace(/[%_"\\]/g, '')}"%`
  const inObjects = await db
    .select({ layout: objects.layout })
    .from(objects)
    .where(sql`${objects.layout} LIKE ${pattern}`)
    .limit(16)
  const inParts = await db
    .select({ layout: parts.layout })
    .from(parts)
    .where(sql`${parts.layout} LIKE ${pattern}`)
    .limit(16)
  return [...inObjects, ...inParts].map((r) => r.layout).filter((l) => l !== null)
}

/**
 * The stores on which a shard of write `id` waits in gc_queue as a moved shard's leftover (the
 * entries `{ v: 1, shard: { id, index, store } }`): the mover writes no copy there until GC has
 * removed it, or the removal could land after the copy was recorded.
 */
export async function storesWithShardGarbage(db: Db, id: string): Promise<Set<string>> {
  const rows = await db
    .select({ store: sql<string>`json_extract(${gcQueue.layout}, '$.shard.store')` })
    .from(gcQueue)
    .where(sql`json_extract(${gcQueue.layout}, '$.shard.id') = ${id}`)
  return new Set(rows.map((r) => r.store))
}
