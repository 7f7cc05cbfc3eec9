import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Meta } from '../db.ts'
import { freshDb, recordSqlTexts } from '../meta.testkit.ts'
import { doneGc, enqueueGc, GC_LEASE_MS, retryGcLater, takeGc } from './gc.ts'

let meta: Meta
beforeEach(async () => {
  meta = await freshDb()
})
afterEach(async () => meta.close())

describe('gc queue', () => {
  it('takes due entries oldest first, leases them, and forgets them when done', async () => {
    await enqueueGc(meta.db, [{ n: 1 }, { n: 2 }], 'overwritten', new Date(1_000))
    await enqueueGc(meta.db, [{ n: 3 }], 'aborted', new Date(5_000))
    const first = await takeGc(meta.db, 10, new Date(2_000))
    expect(first.map((e) => e.layout)).toEqual([{ n: 1 }, { n: 2 }])
    // Leased: a second collector does not get them again while the lease runs.
    expect((await takeGc(meta.db, 10, new Date(10_000))).map((e) => e.layout)).toEqual([{ n: 3 }])
    expect(await takeGc(meta.db, 10, new Date(10_000))).toEqual([])
    await doneGc(meta.db, [first[0]!.id])
    // Once the lease has expired the unfinished entries are visible again; the finished one is gone.
    const later = Date.now() + GC_LEASE_MS + 1
    const retried = await takeGc(meta.db, 10, new Date(10_000), GC_LEASE_MS, later)
    expect(retried.map((e) => e.layout)).toEqual([{ n: 2 }, { n: 3 }])
  })

  it('handles large batches in chunks', async () => {
    const layouts = Array.from({ length: 1_234 }, (_, i) => ({ i }))
    await enqueueGc(meta.db, layouts, 'bulk')
    const taken = await takeGc(meta.db, 2_000)
    expect(taken).toHaveLength(1_234)
    await doneGc(
      meta.db,
      taken.map((e) => e.id),
    )
    expect(await takeGc(meta.db, 10, new Date(Date.now() + 1), GC_LEASE_MS, Date.now() + GC_LEASE_MS + 1)).toEqual([])
  })

  it('removes exactly the entries it is given, in batches of any size, over a few statement texts', async () => {
    await enqueueGc(
      meta.db,
      Array.from({ length: 300 }, (_, i) => ({ i })),
      'bulk',
    )
    const taken = await takeGc(meta.db, 1_000)
    const texts = recordSqlTexts(meta)
    // Batches of 1, 2, 3, … 20 entries: 210 of the 300.
    let at = 0
    for (let size = 1; size <= 20; size++) {
      await doneGc(
        meta.db,
        taken.slice(at, at + size).map((e) => e.id),
      )
      at += size
    }
    const later = Date.now() + GC_LEASE_MS + 1
    const left = await takeGc(meta.db, 1_000, new Date(Date.now() + 1), GC_LEASE_MS, later)
    expect(left.map((e) => e.id)).toEqual(taken.slice(210).map((e) => e.id))
    // Twenty batch sizes, six lengths of `IN (…)` list (1, 2, 4, 8, 16, 32): six texts to prepare.
    const deletes = [...texts].filter((t) => t.startsWith('delete ') && t.includes('"gc_queue"'))
    expect(deletes).toHaveLength(6)
  })

  it('a failed entry is re-leased for half as long as it has been due, within bounds', async () => {
    const T = 1_000_000
    await enqueueGc(meta.db, [{ n: 1 }], 'overwritten', new Date(T - 100_000))
    await enqueueGc(meta.db, [{ n: 2 }], 'overwritten', new Date(T - 10_000_000))
    await enqueueGc(meta.db, [{ n: 3 }], 'overwritten', new Date(T))
    const dueBefore = new Date(T)
    const taken = await takeGc(meta.db, 10, dueBefore, GC_LEASE_MS, T)
    expect(taken).toHaveLength(3)
    const ids = taken.map((e) => e.id)
    const bounds = { now: T, leasedUntil: T + GC_LEASE_MS, dueBefore, minMs: 10_000, maxMs: GC_LEASE_MS }
    expect(await retryGcLater(meta.db, ids, bounds)).toBe(3)
    // What a collector takes at `now` (and keeps: the test does not hand it back).
    const at = async (now: number) =>
      (await takeGc(meta.db, 10, new Date(now), 100 * GC_LEASE_MS, now)).map((e) => (e.layout as { n: number }).n)
    expect(await at(T + 9_999)).toEqual([])
    expect(await at(T + 10_000)).toEqual([3]) // due just now: the shortest wait
    expect(await at(T + 49_999)).toEqual([])
    expect(await at(T + 50_000)).toEqual([1]) // due 100 s: half of it
    expect(await at(T + GC_LEASE_MS - 1)).toEqual([])
    expect(await at(T + GC_LEASE_MS)).toEqual([2]) // due for hours: at most a lease
  })

  it("a failed entry another collector took meanwhile keeps that collector's lease", async () => {
    const T = 1_000_000
    await enqueueGc(meta.db, [{ n: 1 }], 'overwritten', new Date(T))
    const [a] = await takeGc(meta.db, 10, new Date(T), GC_LEASE_MS, T)
    // A's removal outlives its lease; B takes the entry then.
    const bAt = T + GC_LEASE_MS + 1
    expect(await takeGc(meta.db, 10, new Date(T), GC_LEASE_MS, bAt)).toHaveLength(1)
    // A's late failure does not shorten B's lease.
    const late = { now: bAt + 1, leasedUntil: T + GC_LEASE_MS, dueBefore: new Date(T), minMs: 10, maxMs: 10 }
    expect(await retryGcLater(meta.db, [a!.id], late)).toBe(0)
    expect(await takeGc(meta.db, 10, new Date(T), GC_LEASE_MS, bAt + GC_LEASE_MS - 1)).toEqual([])
  })
})
