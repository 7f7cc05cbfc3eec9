/**
 * What a bucket holds, by kind of version (docs/architecture.md §4, versions): current versions,
 * non-current versions and delete markers, counted and summed in one aggregate over the bucket's
 * range of the objects primary key (bucket, key, ord) — SQLite streams the rows through the sums,
 * none is loaded into memory. Uses the schema via drizzle.
 */
import { eq, sql } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { objects } from '../schema.ts'

export interface VersionCount {
  count: number
  /** Logical bytes: the objects' sizes as clients see them (no erasure coding or D@RE overhead). */
  bytes: number
}

export interface BucketVersionStats {
  /** The versions GET and ListObjects show: the latest version of each key, if not a delete marker. */
  current: VersionCount
  /** Older versions with data, kept by versioning until deleted by id. */
  noncurrent: VersionCount
  /** Delete markers, current or not (they hold no data). */
  deleteMarkers: number
}

const current = sql`${objects.latest} = 1 and ${objects.deleteMarker} = 0`
const noncurrent = sql`${objects.latest} = 0 and ${objects.deleteMarker} = 0`

/**
 * SQLite's name for the index of the objects primary key (bucket, key, ord). Named, not left to
 * the planner, which picks objects_version_idx (bucket, key, version_id) just as well: a
 * statement whose INDEXED BY names no usable index fails to prepare, so a rebuilt table that
 * renamed it fails loudly (and in the unit test) rather than scanning.
 */
const OBJECTS_PK_INDEX = sql.raw('sqlite_autoindex_objects_1')

/** The statement bucketVersionStats runs (the unit test checks its plan). */
export const bucketVersionStatsQuery = (db: Db, bucket: string) =>
  db
    .select({
      currentCount: sql<number>`count(*) filter (where ${current})`,
      currentBytes: sql<number>`coalesce(sum(${objects.size}) filter (where ${current}), 0)`,
      noncurrentCount: sql<number>`count(*) filter (where ${noncurrent})`,
      noncurrentBytes: sql<number>`coalesce(sum(${objects.size}) filter (where ${noncurrent}), 0)`,
      deleteMarkers: sql<number>`count(*) filter (where ${objects.deleteMarker} = 1)`,
    })
    .from(sql`${objects} indexed by ${OBJECTS_PK_INDEX}`)
    .where(eq(objects.bucket, bucket))

/** Counts and bytes of the bucket's versions by kind; all zero for an empty or unknown bucket. */
export async function bucketVersionStats(db: Db, bucket: string): Promise<BucketVersionStats> {
  const row = await bucketVersionStatsQuery(db, bucket).get()
  const n = (v: unknown) => Number(v ?? 0)
  return {
    current: { count: n(row?.currentCount), bytes: n(row?.currentBytes) },
    noncurrent: { count: n(row?.noncurrentCount), bytes: n(row?.noncurrentBytes) },
    deleteMarkers: n(row?.deleteMarkers),
  }
}
