/**
 * The cluster layout's versions (schema.ts `cluster_layouts`): read the newest, add the next one.
 * The layout JSON is opaque here (the storage layer's format). Uses the schema through drizzle.
 */
import { desc } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { clusterLayouts, parts } from '../schema.ts'

export interface StoredClusterLayout {
  version: number
  layout: unknown
  createdAt: Date
}

/** The newest layout version, or undefined before the first one (a cluster not bootstrapped yet). */
export async function latestClusterLayout(db: Db): Promise<StoredClusterLayout | undefined> {
  return await db.select().from(clusterLayouts).orderBy(desc(clusterLayouts.version)).limit(1).get()
}

/**
 * Records layout `version`. False when that version exists already: another gateway changed the
 * layout first (or bootstrapped it), and the caller reads the newest and decides again.
 */
export async function insertClusterLayout(
  db: Db,
  version: number,
  layout: unknown,
  now = new Date(),
): Promise<boolean> {
  const rows = await db
    .insert(clusterLayouts)
    .values({ version, layout, createdAt: now })
    .onConflictDoNothing()
    .returning({ version: clusterLayouts.version })
  return rows.length === 1
}

/** The layout of every uploaded part of uploads in progress (opaque JSON), for `node remove`'s check. */
export async function allPartLayouts(db: Db): Promise<unknown[]> {
  return (await db.select({ layout: parts.layout }).from(parts)).map((r) => r.layout)
}
