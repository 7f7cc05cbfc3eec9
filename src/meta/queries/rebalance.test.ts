import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Meta } from '../db.ts'
import { freshDb, objectRow, writer } from '../meta.testkit.ts'
import { takeGc } from './gc.ts'
import { commitObject, deleteObject, getObject } from './objects.ts'
import { layoutsNaming, storesWithShardGarbage, switchObjectLayout } from './rebalance.ts'

let meta: Meta
beforeEach(async () => {
  meta = await freshDb()
})
afterEach(async () => meta.close())

const data = (id: string, stores: string[]) => ({ v: 1, segments: [{ size: 3, layout: { id, stores } }] })
const garbage = (id: string, store: string) => ({ v: 1, shard: { id, index: 0, store } })
const queued = async () => (await takeGc(meta.db, 100, new Date(Date.now() + 1))).map((e) => e.layout)

describe('switchObjectLayout', () => {
  it('switches the row and queues the old shard in one transaction', async () => {
    const read = data('w1', ['a', 'b'])
    await commitObject(meta.db, objectRow('b', 'k', { layout: read }), writer())
    const row = (await getObject(meta.db, 'b', 'k'))!
    const next = data('w1', ['c', 'b'])
    expect(await switchObjectLayout(meta.db, row, read, next, [garbage('w1', 'a')], 'moved')).toBe(true)
    expect((await getObject(meta.db, 'b', 'k'))!.layout).toEqual(next)
    expect(await queued()).toEqual([garbage('w1', 'a')])
    // Until GC has removed it, the mover writes no other copy of w1 onto a.
    expect(await storesWithShardGarbage(meta.db, 'w1')).toEqual(new Set(['a']))
  })

  it('changes nothing and queues nothing when the row was overwritten at the same ord meanwhile', async () => {
    const read = data('w1', ['a', 'b'])
    await commitObject(meta.db, objectRow('b', 'k', { layout: read }), writer())
    const row = (await getObject(meta.db, 'b', 'k'))!
    // An overwrite of the null version: same (bucket, key, ord), another write.
    const overwrite = data('w2', ['a', 'd'])
    await commitObject(meta.db, objectRow('b', 'k', { layout: overwrite }), writer())
    expect((await getObject(meta.db, 'b', 'k'))!.ord).toBe(row.ord)
    const before = await queued() // the overwrite queued w1's data as a whole
    expect(await switchObjectLayout(meta.db, row, read, data('w1', ['c', 'b']), [garbage('w1', 'a')], 'moved')).toBe(
      false,
    )
    expect((await getObject(meta.db, 'b', 'k'))!.layout).toEqual(overwrite)
    expect(before).toHaveLength(1)
    // Nothing new queued: the old shard is still the overwrite's to collect, with its whole write.
    expect(await queued()).toEqual([])
  })

  it('changes nothing when the row was deleted meanwhile', async () => {
    const read = data('w1', ['a', 'b'])
    await commitObject(meta.db, objectRow('b', 'k', { layout: read }), writer())
    const row = (await getObject(meta.db, 'b', 'k'))!
    await deleteObject(meta.db, writer(), 'k')
    expect(await switchObjectLayout(meta.db, row, read, data('w1', ['c', 'b']), [garbage('w1', 'a')], 'moved')).toBe(
      false,
    )
    expect(await getObject(meta.db, 'b', 'k')).toBeUndefined()
    expect(await layoutsNaming(meta.db, 'w1')).toEqual([])
  })

  it('finds the stores where a moved shard of a write waits for GC', async () => {
    const { enqueueGc } = await import('./gc.ts')
    await enqueueGc(meta.db, [garbage('w9', 'x'), garbage('w8', 'y'), data('w9', ['z'])], 'moved')
    expect(await storesWithShardGarbage(meta.db, 'w9')).toEqual(new Set(['x']))
  })
})
