import { afterEach, describe, expect, it } from 'vitest'
import * as meta from '../meta/index.ts'
import { pseudoRandom } from '../storage/erasure-storage.testkit.ts'
import type { DataLayout, ShardStore } from '../storage/index.ts'
import { shardName } from '../storage/shard-format.ts'
import { readAll, streamFromBytes } from '../util/streams.ts'
import { createBucket } from './buckets.ts'
import { deleteObject } from './delete-object.ts'
import { collectGarbage, collectOrphansPass } from './gc.ts'
import { crashMetaAfter, type GcRig, openGcRig, put, unreferencedShards } from './gc.testkit.ts'
import { healRound } from './heal.ts'
import { layoutsOf, parseStoredData } from './stored-data.ts'

// A heal rebuilds a shard of a write taken from the heal queue. If the object is deleted (or
// overwritten) while the heal runs and GC removes the write's shards before the rebuilt one is
// stored, that file belongs to nobody: no row, no gc_queue entry, no write intent names it, and
// nothing ever collects it (the leak the 30-minute soak found). Here the race is made exact: the
// rebuilt shard's store holds its bytes back until the row is deleted and GC has run.

let g: GcRig | undefined
afterEach(async () => {
  await g?.close()
  g = undefined
})

const HOUR = 3_600_000

/** A whole shard body (small here). */
const collect = (body: ReadableStream<Uint8Array>): Promise<Uint8Array> => readAll(body, 16 * 1024 * 1024)

/** Object b/k stored, its shard 0 deleted and the write queued for healing; returns its layout. */
async function damagedObject(r: GcRig): Promise<{ layout: DataLayout; store: ShardStore }> {
  await createBucket(r.svc, r.actor, 'b', 'us-east-1')
  await put(r, 'b', 'k', pseudoRandom(200_000, 3))
  const row = await meta.getObject(r.svc.db, 'b', 'k')
  const [layout] = layoutsOf(parseStoredData(row!.layout, 'test'))
  const store = r.rig.stores.find((s) => s.id === layout!.stores[0])!
  await store.delete(shardName(layout!.id, 0))
  await meta.enqueueHeal(r.svc.db, [layout!], 'scrub')
  return { layout: layout!, store }
}

/**
 * Makes `store` hold back the rebuilt shard `name`: its whole body is taken (the heal has read
 * every source by then), `meanwhile` runs, then the file is stored; `after` runs once it landed.
 */
function holdBack(store: ShardStore, name: string, meanwhile: () => Promise<void>, after = () => {}): () => boolean {
  const original = store.put.bind(store)
  let held = false
  ;(store as { put: ShardStore['put'] }).put = async (n, body) => {
    if (n !== name || held) return original(n, body)
    held = true
    const bytes = await collect(body)
    await meanwhile()
    await original(n, streamFromBytes(bytes))
    after()
  }
  return () => held
}

/** The row is deleted and GC (past its grace) removes the write's shards. */
async function deleteAndCollect(r: GcRig): Promise<void> {
  await deleteObject(r.svc, r.actor, 'b', 'k')
  const pass = await collectGarbage(r.svc, Date.now() + HOUR, 0)
  expect(pass.removed).toBe(1)
}

describe('a heal racing the deletion and GC of its write leaves no shard behind', () => {
  it('the object is deleted and collected while its shard is rebuilt', async () => {
    g = await openGcRig()
    const r = g
    const { layout, store } = await damagedObject(r)
    const held = holdBack(store, shardName(layout.id, 0), () => deleteAndCollect(r))
    await healRound(r.svc)
    expect(held()).toBe(true)
    // Every collector has had its turn, past every grace.
    await collectGarbage(r.svc, Date.now() + HOUR, 0)
    await collectOrphansPass(r.svc, -HOUR)
    expect(await unreferencedShards(r)).toEqual([])
    expect(await meta.healBacklog(r.svc.db)).toBe(0)
  })

  it('the process dies once the rebuilt shard is stored, before the heal looks again', async () => {
    g = await openGcRig()
    const r = g
    const { layout, store } = await damagedObject(r)
    let restore = () => {}
    holdBack(
      store,
      shardName(layout.id, 0),
      () => deleteAndCollect(r),
      () => {
        restore = crashMetaAfter(r.svc, 0)
      },
    )
    await healRound(r.svc).catch(() => {})
    restore()
    // The process restarts: the collectors run past every grace.
    await collectGarbage(r.svc, Date.now() + HOUR, 0)
    await collectOrphansPass(r.svc, -HOUR)
    expect(await unreferencedShards(r)).toEqual([])
  })

  it('a queued write deleted and collected before the heal takes it is dropped, not rebuilt', async () => {
    g = await openGcRig()
    const r = g
    const { layout, store } = await damagedObject(r)
    // GC could not reach one store: five shards are gone, the sixth (and the missing one) not.
    const other = r.rig.stores.find((s) => s.id === layout.stores[5])!
    const kept = shardName(layout.id, 5)
    const bytes = await collect(other.get(kept, 0, (await other.stat(kept))!))
    await deleteAndCollect(r)
    await other.put(kept, streamFromBytes(bytes))
    await collectGarbage(r.svc, Date.now() + HOUR, 0)
    expect(await healRound(r.svc)).toBe(1)
    expect(await meta.healBacklog(r.svc.db)).toBe(0)
    expect(await store.stat(shardName(layout.id, 0))).toBeUndefined()
  })

  it('a degraded write queued before its row commits is healed only once the row is there', async () => {
    g = await openGcRig()
    const r = g
    const id = 'in-flight-write'
    await meta.recordIntent(r.svc.db, id)
    const written = await r.svc.storage.write(id, streamFromBytes(pseudoRandom(50_000, 5)))
    const store = r.rig.stores.find((s) => s.id === written.layout.stores[1])!
    await store.delete(shardName(id, 1))
    await meta.enqueueHeal(r.svc.db, [written.layout], 'degraded-write')
    // No row yet, but an intent: not garbage, not healed yet either (the entry waits its lease).
    expect(await healRound(r.svc)).toBe(0)
    expect(await meta.healBacklog(r.svc.db)).toBe(1)
    expect(await store.stat(shardName(id, 1))).toBeUndefined()
    expect(await meta.hasIntent(r.svc.db, id)).toBe(true)
  })
})

describe('orphan collection and a heal claim', () => {
  it('clears only the intents it judged stale: a claim renewed after it listed them stays', async () => {
    g = await openGcRig()
    const db = g.svc.db
    await meta.recordIntent(db, 'w', new Date(1000))
    const before = new Date(2000)
    expect(await meta.staleIntents(db, before, 10)).toEqual(['w'])
    await meta.claimIntent(db, 'w', new Date(5000))
    await meta.clearStaleIntents(db, ['w'], before)
    expect(await meta.hasIntent(db, 'w')).toBe(true)
  })
})
