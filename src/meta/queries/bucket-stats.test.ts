import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Meta } from '../db.ts'
import { freshDb, objectRow, writer } from '../meta.testkit.ts'
import { bucketVersionStats, bucketVersionStatsQuery } from './bucket-stats.ts'
import { commitObject, deleteVersion } from './objects.ts'

let meta: Meta
beforeEach(async () => {
  // 'b' is counted; 'b2' (a name b is a prefix of) and 'a' hold rows that must not be.
  meta = await freshDb(':memory:', ['a', 'b', 'b2'])
})
afterEach(async () => meta.close())

const version = (bucket: string, key: string, versionId: string, size: number) =>
  commitObject(
    meta.db,
    objectRow(bucket, key, { versionId, size, layout: { v: `${key}@${versionId}` } }),
    writer(bucket),
  )
const marker = (bucket: string, key: string, versionId: string) =>
  commitObject(
    meta.db,
    objectRow(bucket, key, { versionId, deleteMarker: true, layout: null, etag: '', size: 0 }),
    writer(bucket),
  )

describe('bucketVersionStats', () => {
  it('an empty bucket, and one that does not exist, count zero', async () => {
    const zero = { current: { count: 0, bytes: 0 }, noncurrent: { count: 0, bytes: 0 }, deleteMarkers: 0 }
    expect(await bucketVersionStats(meta.db, 'b')).toEqual(zero)
    expect(await bucketVersionStats(meta.db, 'nope')).toEqual(zero)
  })

  it('counts and sums current and non-current versions and delete markers of that bucket only', async () => {
    await version('b', 'plain', 'null', 7) // written before versioning: the current null version
    await version('b', 'k', 'v1', 10)
    await version('b', 'k', 'v2', 200)
    await version('b', 'k', 'v3', 3000)
    await marker('b', 'k', 'm1') // k's current version is now a marker: v1..v3 are non-current
    await version('b', 'gone', 'g1', 40)
    await marker('b', 'gone', 'm2')
    await marker('b', 'gone', 'm3') // a non-current marker (m2) and a current one (m3)
    await version('b', 'live', 'l1', 5)
    await version('b', 'live', 'l2', 6)
    await version('b2', 'other', 'null', 1_000_000)
    await marker('b2', 'other', 'm9')
    await version('a', 'other', 'null', 2_000_000)
    expect(await bucketVersionStats(meta.db, 'b')).toEqual({
      current: { count: 2, bytes: 7 + 6 },
      noncurrent: { count: 5, bytes: 10 + 200 + 3000 + 40 + 5 },
      deleteMarkers: 3,
    })
    // Removing the marker makes v3 current again ("undelete"); the counts follow the rows.
    expect(await deleteVersion(meta.db, writer('b'), 'k', 'm1')).toEqual({ result: 'deleted', deleteMarker: true })
    expect(await bucketVersionStats(meta.db, 'b')).toEqual({
      current: { count: 3, bytes: 7 + 6 + 3000 },
      noncurrent: { count: 4, bytes: 10 + 200 + 40 + 5 },
      deleteMarkers: 2,
    })
    expect(await bucketVersionStats(meta.db, 'b2')).toEqual({
      current: { count: 0, bytes: 0 },
      noncurrent: { count: 1, bytes: 1_000_000 },
      deleteMarkers: 1,
    })
  })

  it('sums beyond 32 bits exactly', async () => {
    const big = 5 * 1024 ** 4 // 5 TiB, S3's largest object
    await version('b', 'x', 'v1', big)
    await version('b', 'x', 'v2', big)
    await version('b', 'x', 'v3', big + 1)
    expect(await bucketVersionStats(meta.db, 'b')).toMatchObject({
      current: { count: 1, bytes: big + 1 },
      noncurrent: { count: 2, bytes: 2 * big },
    })
  })

  it('is one range search on the primary key, not a scan', async () => {
    const q = bucketVersionStatsQuery(meta.db, 'b').toSQL()
    const plan = await meta.client.execute({ sql: `EXPLAIN QUERY PLAN ${q.sql}`, args: q.params as never })
    const detail = plan.rows.map((r) => String(r.detail))
    expect(detail).toEqual(['SEARCH objects USING INDEX sqlite_autoindex_objects_1 (bucket=?)'])
  })
})
