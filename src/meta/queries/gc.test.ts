import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Meta } from '../db.ts'
import { freshDb } from '../meta.testkit.ts'
import { doneGc, enqueueGc, GC_LEASE_MS, takeGc } from './gc.ts'

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
})
