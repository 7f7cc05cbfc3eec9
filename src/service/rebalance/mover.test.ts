/**
 * The rebalance mover in one process (docs/architecture.md §14): a service over four stores
 * presented as storage nodes (2+1), so a drained node's shard has exactly one place to go. The
 * stores are faulted to make a race exact; what is checked is what the cluster test counts on
 * the nodes' disks: once GC has run, every shard file belongs to a write a row references.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import { afterEach, describe, expect, it } from 'vitest'
import * as meta from '../../meta/index.ts'
import { createNodeAead } from '../../runtime/aead-node.ts'
import { createPlatform } from '../../runtime/platform.ts'
import { createDiskStore } from '../../storage/disk-store.ts'
import { createTestDisk, type TestDisk } from '../../storage/disk.testkit.ts'
import { listShards, pseudoRandom, testCodec } from '../../storage/erasure-storage.testkit.ts'
import type { DataLayout } from '../../storage/index.ts'
import { shardName } from '../../storage/shard-format.ts'
import type { ShardStore } from '../../storage/shard-store.ts'
import { STOP_WAIT_MS, startBackground } from '../background.ts'
import { createBucket } from '../buckets.ts'
import { drainNode } from '../cluster-layout.ts'
import type { ServiceContext } from '../context.ts'
import { deleteObject } from '../delete-object.ts'
import { collectGarbage } from '../gc.ts'
import { type Actor, actorFor } from '../identities.ts'
import { testMasterKeyFile } from '../master-key.testkit.ts'
import { closeService, ensureRootUser, openService } from '../open.ts'
import { put as putBytes } from '../gc.testkit.ts'
import { createUpload, uploadPart } from '../multipart.ts'
import { completeUpload, MIN_PART_SIZE } from '../multipart-complete.ts'
import { layoutsOf, parseStoredData } from '../stored-data.ts'
import { streamFromBytes } from '../../util/streams.ts'
import { rebalanceRound, rebalanceStatus } from './mover.ts'

const HOUR = 3_600_000
const NODE_IDS = ['https://n0.test', 'https://n1.test', 'https://n2.test', 'https://n3.test']

/** A shard PUT hook: runs after the store has the file; throwing makes the PUT fail for the caller. */
type AfterPut = (store: string, name: string) => Promise<void>
/** A shard DELETE hook: runs before (or after) the store deletes the file. */
type DeleteHook = (store: string, name: string) => Promise<void>

interface MoverRig {
  svc: ServiceContext
  actor: Actor
  stores: ShardStore[]
  /** Set to intercept every shard PUT once the file is in place. */
  afterPut?: AfterPut
  /** Set to intercept every shard DELETE before the file goes. */
  beforeDelete?: DeleteHook
  afterDelete?: DeleteHook
  /** Stores whose reads (stat, get) fail, as a node that stopped answering. */
  unreachable: Set<string>
  /** Closes the service (as a gateway stopping) and opens it again over the same metadata and stores. */
  restart(): Promise<void>
  close(): Promise<void>
}

let rig: MoverRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

async function openMoverRig(tuning: Partial<ServiceContext['tuning']> = {}): Promise<MoverRig> {
  const disks: TestDisk[] = []
  for (const _ of NODE_IDS) disks.push(await createTestDisk())
  const stores = NODE_IDS.map((id, i) => {
    const inner = createDiskStore(id, disks[i]!)
    const store: ShardStore = Object.create(inner) as ShardStore
    ;(store as { put: ShardStore['put'] }).put = async (name, body) => {
      await inner.put(name, body)
      await r.afterPut?.(id, name)
    }
    const reachable = () => {
      if (r.unreachable.has(id)) throw new Error(`${id} does not answer`)
    }
    ;(store as { stat: ShardStore['stat'] }).stat = async (name) => {
      reachable()
      return inner.stat(name)
    }
    ;(store as { get: ShardStore['get'] }).get = (name, offset, length, unit) => {
      reachable()
      return inner.get(name, offset, length, unit)
    }
    ;(store as { delete: ShardStore['delete'] }).delete = async (name) => {
      await r.beforeDelete?.(id, name)
      await inner.delete(name)
      await r.afterDelete?.(id, name)
    }
    return store
  })
  const byId = new Map(stores.map((s) => [s.id, s]))
  const dir = await mkdtemp(join(tmpdir(), 'coffer-mover-'))
  const start = async () => {
    const svc = await openService({
      metaUrl: `file:${join(dir, 'meta.db')}`,
      stores,
      ec: { k: 2, m: 1 },
      codec: testCodec(),
      platform: createPlatform(),
      masterKey: testMasterKeyFile(),
      aead: createNodeAead(),
      tuning: { inlineMax: 0, rebalanceRate: 1024 ** 3, rebalanceIntervalMs: HOUR, ...tuning },
      nodes: { storeFor: (n) => byId.get(n.id)!, bootstrap: NODE_IDS },
    })
    await ensureRootUser(svc, { accessKeyId: 'AKROOT', secretAccessKey: 'secret' })
    return svc
  }
  const first = await start()
  const r: MoverRig = {
    svc: first,
    actor: await actorFor(first, 'AKROOT'),
    stores,
    unreachable: new Set(),
    restart: async () => {
      await closeService(r.svc)
      r.svc = await start()
    },
    close: async () => {
      await closeService(r.svc)
      for (const d of disks) await d.destroy()
      await rm(dir, { recursive: true, force: true })
    },
  }
  return r
}

async function put(r: MoverRig, key: string, bytes: Uint8Array): Promise<DataLayout> {
  await putBytes(r, 'b', key, bytes)
  const row = await meta.getObject(r.svc.db, 'b', key)
  return layoutsOf(parseStoredData(row!.layout, key))[0]!
}

/** Rounds until the pass is over (bounded). */
async function runPass(svc: ServiceContext): Promise<void> {
  for (let i = 0; i < 50; i++) if (!(await rebalanceRound(svc)).more) return
  throw new Error('the pass did not end in 50 rounds')
}

/** Write ids of the shard files on the stores that no object or part row references. */
async function unreferencedShards(r: MoverRig): Promise<string[]> {
  const out = new Set<string>()
  for (const entry of await listShards(r.stores)) {
    const id = entry.slice(entry.indexOf('/', 'https://'.length) + 1).replace(/\.\d+$/, '')
    if ((await meta.layoutsNaming(r.svc.db, id)).length === 0) out.add(entry)
  }
  return [...out]
}

describe('rebalance mover: no copy is left behind by a move that fails', () => {
  it('a copy whose PUT landed but failed, of an object deleted and collected meanwhile, is collected', async () => {
    rig = await openMoverRig()
    const r = rig
    await createBucket(r.svc, r.actor, 'b', 'us-east-1')
    const layout = await put(r, 'k', pseudoRandom(300_000, 3))
    const target = NODE_IDS.find((id) => !layout.stores.includes(id))!
    const copyName = shardName(layout.id, 0)
    // The copy reaches its target, then (as in the cluster race test) the key is deleted and GC
    // removes the write's shards; the target stops answering before its PUT is acknowledged: the
    // file is there, the mover saw a failure, could not read the copy back and cannot rebuild
    // from shards that are gone.
    let faulted = false
    r.afterPut = async (store, name) => {
      if (store !== target || name !== copyName || faulted) return
      faulted = true
      await deleteObject(r.svc, r.actor, 'b', 'k')
      expect((await collectGarbage(r.svc, Date.now() + HOUR, 0)).removed).toBe(1)
      r.unreachable.add(target)
      throw new Error('the answer to the shard PUT never came')
    }
    await drainNode(r.svc, layout.stores[0]!)
    await runPass(r.svc)
    expect(faulted).toBe(true)
    expect((await rebalanceStatus(r.svc)).totals.errors).toBe(1)
    r.unreachable.clear() // the node is back
    await collectGarbage(r.svc, Date.now() + HOUR, 0)
    expect(await unreferencedShards(r)).toEqual([])
  })

  it('a rebuilt copy writes no other shard: GC, halfway through removing the write, would miss it', async () => {
    rig = await openMoverRig()
    const r = rig
    await createBucket(r.svc, r.actor, 'b', 'us-east-1')
    const layout = await put(r, 'k', pseudoRandom(300_000, 4))
    const [from, second, third] = layout.stores as [string, string, string]
    const target = NODE_IDS.find((id) => !layout.stores.includes(id))!
    // The copy lands but its answer is lost, so copyShard rebuilds. Meanwhile the key is deleted
    // and GC removes the write's shards, one store faster than another: shard 1 is gone, shard 2
    // still there when the rebuild looks, and removed once the rebuild has read it.
    let gc: Promise<unknown> | undefined
    let secondGone = () => {}
    const secondDeleted = new Promise<void>((resolve) => (secondGone = resolve))
    let releaseThird = () => {}
    const thirdMayGo = new Promise<void>((resolve) => (releaseThird = resolve))
    r.beforeDelete = async (store, name) => {
      if (name !== shardName(layout.id, 2) || store !== third) return
      await thirdMayGo
    }
    r.afterPut = async (store, name) => {
      if (store === target && name === shardName(layout.id, 0) && !gc) {
        await deleteObject(r.svc, r.actor, 'b', 'k')
        gc = collectGarbage(r.svc, Date.now() + HOUR, 0)
        await secondDeleted
        throw new Error('the answer to the shard PUT never came')
      }
    }
    r.afterDelete = async (store, name) => {
      if (store === second && name === shardName(layout.id, 1)) secondGone()
    }
    // Whatever the rebuild does, the third shard's removal goes ahead once the pass is over.
    await drainNode(r.svc, from)
    await runPass(r.svc).finally(releaseThird)
    await gc
    await collectGarbage(r.svc, Date.now() + HOUR, 0)
    expect(await unreferencedShards(r)).toEqual([])
  })

  it('a service stopping ends the budget pause at once; the next start settles the copy it left', async () => {
    // 10 KiB/s: the copy of a 150 KB shard is followed by a pause of about 15 s.
    rig = await openMoverRig({ rebalanceRate: 10 * 1024, rebalancePauseMs: 10 })
    const r = rig
    await createBucket(r.svc, r.actor, 'b', 'us-east-1')
    const layout = await put(r, 'k', pseudoRandom(300_000, 5))
    const target = NODE_IDS.find((id) => !layout.stores.includes(id))!
    let landed = () => {}
    const copyLanded = new Promise<void>((resolve) => (landed = resolve))
    r.afterPut = async (store, name) => {
      if (store === target && name === shardName(layout.id, 0)) landed()
    }
    await drainNode(r.svc, layout.stores[0]!)
    startBackground(r.svc)
    await copyLanded
    // The copy is read back (milliseconds), then the pause begins: stop in the middle of it.
    await new Promise((resolve) => setTimeout(resolve, 500))
    const t0 = Date.now()
    await r.restart()
    // Not the rest of the pause (about 14 s), nor a slice of it (up to 5 s), nor STOP_WAIT_MS.
    expect(Date.now() - t0, 'closing waited for the pause').toBeLessThan(2_000)
    expect(STOP_WAIT_MS).toBeGreaterThan(2_000)
    // The stopped mover gave its lease back: the next start's first round runs at once, not
    // LEASE_MS (15 s) later. It settles the move in flight (the copy is queued for GC), and puts
    // that move off until GC has run.
    expect(await meta.getSetting(r.svc.db, 'rebalance-lease')).toBeUndefined()
    await runPass(r.svc)
    expect((await rebalanceStatus(r.svc)).totals.passes).toBe(1)
    await collectGarbage(r.svc, Date.now() + HOUR, 0)
    const files = (await listShards(r.stores)).filter((f) => f.includes(layout.id))
    expect(files.sort()).toEqual(layout.stores.map((store, i) => `${store}/${shardName(layout.id, i)}`).sort())
  })

  it("a service stopping mid-copy ends the copy's streaming at once; the target keeps nothing, a later pass moves it", async () => {
    rig = await openMoverRig()
    const r = rig
    await createBucket(r.svc, r.actor, 'b', 'us-east-1')
    const layout = await put(r, 'k', pseudoRandom(2_000_000, 9)) // 2+1: a shard of about 1 MB
    const source = layout.stores[0]!
    const target = NODE_IDS.find((id) => !layout.stores.includes(id))!
    await drainNode(r.svc, source)
    expect((await rebalanceRound(r.svc)).more).toBe(true) // the counting round
    // The source hands out its shard a piece at a time, 5 s apart (a node at the end of a slow
    // link; a shard of a big object takes minutes): the stop lands after the first piece.
    const store = r.stores.find((s) => s.id === source)! as { get: ShardStore['get'] }
    const fast = store.get
    const stopping = new AbortController()
    let pieces = 0
    store.get = (name, offset, length, unit) => {
      const reader = fast(name, offset, length, unit).getReader()
      return new ReadableStream<Uint8Array>({
        async pull(c) {
          if (pieces > 0) await new Promise((resolve) => setTimeout(resolve, 5_000))
          const { done, value } = await reader.read()
          if (done) return c.close()
          if (++pieces === 1) setTimeout(() => stopping.abort(new Error('the service is stopping')), 50)
          c.enqueue(value)
        },
        cancel: (why) => reader.cancel(why),
      })
    }
    const t0 = Date.now()
    // The round ends by throwing the stop's reason, as the budget pause does (the background
    // worker takes that as a stop, not a failure).
    await expect(rebalanceRound(r.svc, Date.now(), stopping.signal)).rejects.toThrow('the service is stopping')
    // Without the stop reaching the copy, the round waits out every piece (5 s each), then the check.
    expect(Date.now() - t0, 'the round waited for the copy').toBeLessThan(3_000)
    expect(pieces).toBe(1)
    // Not a failed move (none counted, none logged as one): the move stays in flight for the next start.
    expect((await rebalanceStatus(r.svc)).currentPass).toMatchObject({ phase: 'move', moved: 0, errors: 0 })
    expect((await listShards(r.stores)).filter((f) => f.startsWith(`${target}/`))).toEqual([])
    store.get = fast
    // The next round settles the move left in flight (the copy never landed, so it is queued for
    // GC, which finds nothing) and puts that move off until GC has run; the next pass makes it.
    await runPass(r.svc)
    expect((await rebalanceStatus(r.svc)).totals).toMatchObject({ passes: 1, moved: 0, errors: 0 })
    await collectGarbage(r.svc, Date.now() + HOUR, 0)
    const later = Date.now() + 2 * HOUR // past rebalanceIntervalMs: a new pass
    for (let i = 0; i < 10 && (await rebalanceRound(r.svc, later)).more; i++);
    expect((await rebalanceStatus(r.svc)).totals).toMatchObject({ passes: 2, moved: 1, errors: 0 })
    await collectGarbage(r.svc, Date.now() + 4 * HOUR, 0)
    const files = (await listShards(r.stores)).filter((f) => f.includes(layout.id))
    const moved = layout.stores.map((st, i) => `${i === 0 ? target : st}/${shardName(layout.id, i)}`)
    expect(files.sort()).toEqual(moved.sort())
  })

  it('a service stopping mid-round starts no further copy: the round ends after the move in progress', async () => {
    rig = await openMoverRig()
    const r = rig
    await createBucket(r.svc, r.actor, 'b', 'us-east-1')
    const layouts: DataLayout[] = []
    for (let i = 0; i < 8; i++) layouts.push(await put(r, `k${i}`, pseudoRandom(10_000, 20 + i)))
    // The node holding the most shards is drained: each of its shards is one move, in a row of its own.
    const held = (id: string) => layouts.filter((l) => l.stores.includes(id)).length
    const drained = [...NODE_IDS].sort((a, b) => held(b) - held(a))[0]!
    const toMove = held(drained)
    expect(toMove).toBeGreaterThanOrEqual(3) // 8 objects on 3 of 4 nodes: the fullest holds 6 or more
    await drainNode(r.svc, drained)
    expect((await rebalanceRound(r.svc)).more).toBe(true) // the counting round
    expect((await rebalanceStatus(r.svc)).currentPass).toMatchObject({ phase: 'move', toMove })
    // The stop lands while the round's first copy is being made. The copy then takes a few ms more,
    // so that at 1 GiB/s the budget's due time has passed: the pause (which a stop ends too) is
    // not entered, and only the check before the next row or copy can end the round.
    const stopping = new AbortController()
    let copies = 0
    r.afterPut = async () => {
      if (++copies > 1) return
      stopping.abort(new Error('the service is stopping'))
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    expect((await rebalanceRound(r.svc, Date.now(), stopping.signal)).more).toBe(true)
    expect(copies, 'copies started after the stop').toBe(1)
    expect((await rebalanceStatus(r.svc)).currentPass).toMatchObject({ phase: 'move', moved: 1 })
    // The round saved where it stopped: the rest of the pass moves the others, each once.
    await runPass(r.svc)
    expect(copies).toBe(toMove)
    expect((await rebalanceStatus(r.svc)).totals).toMatchObject({ passes: 1, moved: toMove, errors: 0 })
  })

  it('a service stopping between two moves of one row starts no further copy; the next start moves the rest', async () => {
    rig = await openMoverRig()
    const r = rig
    await createBucket(r.svc, r.actor, 'b', 'us-east-1')
    // One row of two layouts (a multipart object of two parts), each with a shard on the drained node.
    const { uploadId } = await createUpload(r.svc, r.actor, { bucket: 'b', key: 'k', headers: {}, userMeta: {} })
    const parts = [
      { partNumber: 1, bytes: pseudoRandom(MIN_PART_SIZE, 30) },
      { partNumber: 2, bytes: pseudoRandom(10_000, 31) },
    ]
    for (const { partNumber, bytes } of parts)
      await uploadPart(r.svc, r.actor, {
        bucket: 'b',
        key: 'k',
        uploadId,
        partNumber,
        body: streamFromBytes(bytes, 64 * 1024),
        digests: () => ({ etag: `"p${partNumber}"` }),
        length: bytes.length,
      })
    await completeUpload(r.svc, r.actor, {
      bucket: 'b',
      key: 'k',
      uploadId,
      parts: parts.map(({ partNumber }) => ({ partNumber, etag: `"p${partNumber}"`, checksums: {} })),
      conditions: {},
    })
    const row = await meta.getObject(r.svc.db, 'b', 'k')
    const [first, second] = layoutsOf(parseStoredData(row!.layout, 'k')) as [DataLayout, DataLayout]
    // Two sets of 3 of the 4 nodes share at least two.
    const drained = first.stores.find((id) => second.stores.includes(id))!
    await drainNode(r.svc, drained)
    expect((await rebalanceRound(r.svc)).more).toBe(true) // the counting round
    expect((await rebalanceStatus(r.svc)).currentPass).toMatchObject({ phase: 'move', toMove: 2 })
    // The stop lands while the first layout's copy is made (then past the budget's due time, as
    // in the test above): the round ends before the second layout's copy, as the pause ends it.
    const stopping = new AbortController()
    const reason = new Error('the service is stopping')
    const copied: string[] = []
    r.afterPut = async (_store, name) => {
      copied.push(name)
      if (copied.length > 1) return
      stopping.abort(reason)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    await expect(rebalanceRound(r.svc, Date.now(), stopping.signal)).rejects.toBe(reason)
    expect(copied, 'copies started after the stop').toEqual([shardName(first.id, first.stores.indexOf(drained))])
    // The first move was switched in before the stop was seen; the next start moves the second.
    await runPass(r.svc)
    expect(copied).toHaveLength(2)
    expect((await rebalanceStatus(r.svc)).totals).toMatchObject({ passes: 1, moved: 2, errors: 0 })
    await collectGarbage(r.svc, Date.now() + HOUR, 0)
    expect(await unreferencedShards(r)).toEqual([])
    expect((await listShards(r.stores)).filter((f) => f.startsWith(`${drained}/`))).toEqual([])
  })

  it("a service stopping between two rounds gives the lease back; another gateway's stays its own", async () => {
    // One counting round, then a pause of an hour before the next: the stop finds no round running.
    rig = await openMoverRig({ rebalancePauseMs: HOUR })
    const r = rig
    await createBucket(r.svc, r.actor, 'b', 'us-east-1')
    const layout = await put(r, 'k', pseudoRandom(10_000, 6))
    await drainNode(r.svc, layout.stores[0]!)
    startBackground(r.svc)
    for (let i = 0; i < 100 && (await rebalanceStatus(r.svc)).currentPass?.phase !== 'move'; i++)
      await new Promise((resolve) => setTimeout(resolve, 50))
    expect((await rebalanceStatus(r.svc)).currentPass?.phase).toBe('move')
    expect(await meta.getSetting(r.svc.db, 'rebalance-lease')).toBeDefined()
    await r.restart()
    expect(await meta.getSetting(r.svc.db, 'rebalance-lease')).toBeUndefined()
    // This service's round takes the lease; once it has run out another gateway takes it (written
    // here directly): stopping this service leaves that gateway's lease alone.
    expect((await rebalanceRound(r.svc)).more).toBe(false) // the pass ends: one small object
    await r.svc.db.run(
      sql`update settings set value = json_set(value, '$.holder', 'another gateway') where key = 'rebalance-lease'`,
    )
    startBackground(r.svc)
    await r.restart()
    expect(JSON.parse((await meta.getSetting(r.svc.db, 'rebalance-lease'))!).holder).toBe('another gateway')
  })
})
