/**
 * A lifecycle round's actions applied in ONE transaction (applyLifecycle): every action keeps the
 * guard of its single-action form, so a write that lands between the worker's read and the
 * round's commit — an overwrite, a retention set, a version beside a lone marker, a newer current
 * version — skips that action alone; the others of the round go through; and the round is all or
 * nothing (a statement that fails takes the whole round back, as a crash mid-commit does).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Meta } from '../db.ts'
import { freshDb, objectRow, writer } from '../meta.testkit.ts'
import { takeGc } from './gc.ts'
import { applyLifecycle, type LifecycleAction, releaseLease, saveUnderLease, takeLease } from './lifecycle.ts'
import { getSetting } from './keys.ts'
import { commitObject, getObject, getVersion, type ObjectRow, setVersionLock } from './objects.ts'

let meta: Meta
beforeEach(async () => {
  meta = await freshDb()
})
afterEach(async () => {
  await meta.close()
})

const w = writer('b')
const put = async (key: string, over: Partial<ObjectRow> = {}) => {
  expect((await commitObject(meta.db, objectRow('b', key, over), w)).ok).toBe(true)
  return (await getVersion(meta.db, 'b', key, over.versionId ?? 'null'))!
}
const remove = (row: ObjectRow, guards: Extract<LifecycleAction, { kind: 'remove' }>['guards'] = {}) =>
  ({ kind: 'remove', writer: w, key: row.key, versionId: row.versionId, guards: { row, ...guards } }) as const
const markerOver = (row: ObjectRow, versionId: string): LifecycleAction => ({
  kind: 'marker',
  writer: w,
  marker: objectRow('b', row.key, { versionId, deleteMarker: true, layout: null, size: 0, etag: '' }),
  current: row,
})
const gcLayouts = async () => (await takeGc(meta.db, 100)).map((g) => g.layout)

describe('applyLifecycle', () => {
  it('an overwrite between judging and the commit is kept; the rest of the round is applied', async () => {
    const a = await put('a', { layout: { a: 1 } })
    const b = await put('b', { layout: { b: 1 } })
    const c = await put('c', { layout: { c: 1 } })
    // 'b' is overwritten after the worker read it: a new 'null' version, another row.
    await put('b', { layout: { b: 2 }, lastModified: new Date(1_700_000_009_000) })
    const applied = await applyLifecycle(meta.db, [remove(a), remove(b), remove(c)], Date.now())
    expect(applied).toEqual([true, false, true])
    expect(await getObject(meta.db, 'b', 'a')).toBeUndefined()
    expect((await getObject(meta.db, 'b', 'b'))?.layout).toEqual({ b: 2 })
    expect(await getObject(meta.db, 'b', 'c')).toBeUndefined()
    // The old 'b' went with its overwrite (queued then); the new one's data is not queued.
    expect((await gcLayouts()).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)))).toEqual([
      { a: 1 },
      { b: 1 },
      { c: 1 },
    ])
  })

  it('a retention set between judging and the commit keeps the version', async () => {
    await put('k', { versionId: 'v1', layout: { v: 1 } })
    const v2 = await put('k', { versionId: 'v2', layout: { v: 2 } })
    const v1 = (await getVersion(meta.db, 'b', 'k', 'v1'))!
    expect(v1.latest).toBe(false)
    await put('o', { versionId: 'o1', layout: { o: 1 } })
    await put('o', { versionId: 'o2', layout: { o: 2 } })
    const o1 = (await getVersion(meta.db, 'b', 'o', 'o1'))!
    // Judged unlocked; a legal hold lands before the round commits.
    const hold = { legalHold: true }
    expect(await setVersionLock(meta.db, 'b', 'k', 'v1', null, hold)).toBe(true)
    const applied = await applyLifecycle(
      meta.db,
      [remove(v1, { lock: { lock: v1.lock } }), remove(o1, { lock: { lock: o1.lock } })],
      Date.now(),
    )
    expect(applied).toEqual([false, true])
    expect((await getVersion(meta.db, 'b', 'k', 'v1'))?.lock).toEqual(hold)
    expect(await getVersion(meta.db, 'b', 'o', 'o1')).toBeUndefined()
    expect(await gcLayouts()).toEqual([{ o: 1 }])
    expect((await getObject(meta.db, 'b', 'k'))?.versionId).toBe(v2.versionId)
  })

  it('a delete marker is written only over the version judged current, once', async () => {
    const a = await put('a', { versionId: 'a1' })
    const b = await put('b', { versionId: 'b1' })
    // A new version of 'b' after the worker read it: the expiry must not hide it.
    await put('b', { versionId: 'b2' })
    const applied = await applyLifecycle(
      meta.db,
      // The same expiry judged twice in one round (or by two gateways): one marker only.
      [markerOver(a, 'ma'), markerOver(b, 'mb'), markerOver(a, 'ma2')],
      Date.now(),
    )
    expect(applied).toEqual([true, false, false])
    expect((await getObject(meta.db, 'b', 'a'))?.versionId).toBe('ma')
    expect((await getObject(meta.db, 'b', 'b'))?.versionId).toBe('b2')
    expect(await getVersion(meta.db, 'b', 'a', 'ma2')).toBeUndefined()
    expect(await getVersion(meta.db, 'b', 'b', 'mb')).toBeUndefined()
  })

  it('a lone delete marker goes only while it is still alone', async () => {
    const m = await put('m', { versionId: 'm1', deleteMarker: true, layout: null, size: 0 })
    const n = await put('n', { versionId: 'n1', deleteMarker: true, layout: null, size: 0 })
    // A version written beside 'n' (then hidden again) after the worker saw it alone.
    await put('n', { versionId: 'n0', ord: 5 })
    const applied = await applyLifecycle(meta.db, [remove(m, { alone: true }), remove(n, { alone: true })], Date.now())
    expect(applied).toEqual([true, false])
    expect(await getVersion(meta.db, 'b', 'm', 'm1')).toBeUndefined()
    expect(await getVersion(meta.db, 'b', 'n', 'n1')).toBeDefined()
  })

  it('all or nothing: a statement that fails takes the whole round back', async () => {
    const a = await put('a', { versionId: 'a1', layout: { a: 1 } })
    const b = await put('b', { versionId: 'b1' })
    // A marker whose version id the key already has: its insert fails inside the transaction.
    const clash = markerOver(b, 'b1')
    await expect(applyLifecycle(meta.db, [remove(a), clash], Date.now())).rejects.toThrow()
    expect((await getVersion(meta.db, 'b', 'a', 'a1'))?.layout).toEqual({ a: 1 })
    expect(await gcLayouts()).toEqual([])
  })
})

describe('saveUnderLease', () => {
  it('saves and renews only for the holder; a gateway that lost the lease saves nothing', async () => {
    expect(await takeLease(meta.db, 'L', 'A', 1_000, 2_000)).toBe(true)
    expect(await saveUnderLease(meta.db, 'L', 'A', 3_000, 'state', 'from A')).toBe(true)
    expect(JSON.parse((await getSetting(meta.db, 'L'))!)).toEqual({ holder: 'A', until: 3_000 })
    // A paused past its lease; B takes it and saves; A's late save must not overwrite B's.
    expect(await takeLease(meta.db, 'L', 'B', 3_500, 5_000)).toBe(true)
    expect(await saveUnderLease(meta.db, 'L', 'B', 6_000, 'state', 'from B')).toBe(true)
    expect(await saveUnderLease(meta.db, 'L', 'A', 7_000, 'state', 'late A')).toBe(false)
    expect(await getSetting(meta.db, 'state')).toBe('from B')
    expect(JSON.parse((await getSetting(meta.db, 'L'))!)).toEqual({ holder: 'B', until: 6_000 })
  })
})

describe('releaseLease', () => {
  it("gives a lease back only for its holder; one that ran out and was taken stays the taker's", async () => {
    expect(await takeLease(meta.db, 'L', 'A', 1_000, 2_000)).toBe(true)
    expect(await releaseLease(meta.db, 'L', 'B')).toBe(false)
    expect(await takeLease(meta.db, 'L', 'B', 1_500, 3_000)).toBe(false)
    expect(await releaseLease(meta.db, 'L', 'A')).toBe(true)
    // Free at once, long before it would have run out.
    expect(await takeLease(meta.db, 'L', 'B', 1_500, 3_000)).toBe(true)
    // A, stopping late, does not give back B's lease.
    expect(await releaseLease(meta.db, 'L', 'A')).toBe(false)
    expect(JSON.parse((await getSetting(meta.db, 'L'))!)).toEqual({ holder: 'B', until: 3_000 })
    expect(await releaseLease(meta.db, 'nothing', 'A')).toBe(false)
  })
})
