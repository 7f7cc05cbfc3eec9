/**
 * The lifecycle worker when its service stops (docs/architecture.md §9): the round in flight ends
 * before its next page or row, and the stopped worker gives its lease back. A service over temp
 * drives and a libSQL file, restarted over the same file as a gateway restarting.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import { afterEach, describe, expect, it } from 'vitest'
import * as meta from '../../meta/index.ts'
import { makeRig, type Rig } from '../../storage/erasure-storage.testkit.ts'
import { startBackground } from '../background.ts'
import { createBucket } from '../buckets.ts'
import type { ServiceContext } from '../context.ts'
import { put } from '../gc.testkit.ts'
import { openTestService } from '../gateways.testkit.ts'
import { type Actor, actorFor } from '../identities.ts'
import { closeService } from '../open.ts'
import { putBucketLifecycle } from './config.ts'
import { DAY_MS } from './rules.ts'
import { LIFECYCLE_STATE, lifecycleRound, lifecycleStatus } from './worker.ts'

const LEASE = 'lifecycle-lease'
const BUCKETS = ['lc-1', 'lc-2', 'lc-3', 'lc-4']
const KEYS_PER_BUCKET = 3

interface WorkerRig {
  svc: ServiceContext
  actor: Actor
  /** Closes the service (stopping its background) and opens it again over the same metadata. */
  restart(): Promise<void>
  close(): Promise<void>
}

let rig: WorkerRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

async function openWorkerRig(): Promise<WorkerRig> {
  const drives: Rig = await makeRig()
  const dir = await mkdtemp(join(tmpdir(), 'coffer-lifecycle-'))
  const open = () => openTestService(`file:${join(dir, 'meta.db')}`, drives.stores)
  const svc = await open()
  const r: WorkerRig = {
    svc,
    actor: await actorFor(svc, 'AKROOT'),
    restart: async () => {
      await closeService(r.svc)
      r.svc = await open()
      r.actor = await actorFor(r.svc, 'AKROOT')
    },
    close: async () => {
      await closeService(r.svc)
      await drives.destroy()
      await rm(dir, { recursive: true, force: true })
    },
  }
  return r
}

/** Buckets whose every object expires a day after it was written, each with `keys` objects. */
async function expiringBuckets(r: WorkerRig, keys = KEYS_PER_BUCKET): Promise<void> {
  for (const name of BUCKETS) {
    await createBucket(r.svc, r.actor, name, 'us-east-1')
    await putBucketLifecycle(r.svc, r.actor, name, [
      { id: 'expire', enabled: true, filter: { prefix: '', tags: [] }, expiration: { days: 1 } },
    ])
    for (let i = 0; i < keys; i++) await put(r, name, `k${i}`, new Uint8Array([i]))
  }
}

/** Keys left in each bucket. */
async function keysLeft(r: WorkerRig): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const name of BUCKETS) out[name] = (await meta.versionsAfter(r.svc.db, name, undefined, 100)).length
  return out
}

interface RawClient {
  execute: (stmt: { args?: unknown[] } | string, ...rest: unknown[]) => Promise<unknown>
}

/** Calls `onRead` when the metadata is first asked anything about bucket `name` (as its row, its versions). */
function whenAsked(svc: ServiceContext, name: string, onRead: () => void): () => void {
  const client = (svc.db as unknown as { $client: RawClient }).$client
  const original = client.execute
  client.execute = (stmt, ...rest) => {
    if (typeof stmt === 'object' && stmt.args?.includes(name)) onRead()
    return original.call(client, stmt, ...rest)
  }
  return () => {
    client.execute = original
  }
}

describe('lifecycle worker: stopping', () => {
  it('a stop that lands mid-round ends the round before its next row; the next start goes on from there', async () => {
    rig = await openWorkerRig()
    const r = rig
    await expiringBuckets(r)
    const later = Date.now() + 3 * DAY_MS // every object due
    // The stop lands while the round reads the second bucket (on sqld, a round trip away): one
    // round could take all four buckets (200 rows), but ends with the first one's judged.
    const stopping = new AbortController()
    const restore = whenAsked(r.svc, 'lc-2', () => stopping.abort(new Error('the service is stopping')))
    const stopped = await lifecycleRound(r.svc, later, 200, stopping.signal).finally(restore)
    expect(stopping.signal.aborted).toBe(true)
    expect(stopped.more).toBe(true)
    // What it judged was applied and the cursor saved after it: nothing of the others was judged.
    expect(await keysLeft(r)).toEqual({
      'lc-1': 0,
      'lc-2': KEYS_PER_BUCKET,
      'lc-3': KEYS_PER_BUCKET,
      'lc-4': KEYS_PER_BUCKET,
    })
    expect((await lifecycleStatus(r.svc)).currentPass).toMatchObject({
      examined: KEYS_PER_BUCKET,
      expired: KEYS_PER_BUCKET,
    })
    expect((await lifecycleRound(r.svc, later, 200)).more).toBe(false)
    expect(await keysLeft(r)).toEqual({ 'lc-1': 0, 'lc-2': 0, 'lc-3': 0, 'lc-4': 0 })
    expect((await lifecycleStatus(r.svc)).totals).toMatchObject({
      passes: 1,
      examined: BUCKETS.length * KEYS_PER_BUCKET,
      expired: BUCKETS.length * KEYS_PER_BUCKET,
    })
  })

  it('a stop before a pass has its first bucket neither walks the buckets nor ends the pass', async () => {
    rig = await openWorkerRig()
    const r = rig
    // Four empty buckets cost a round 8 of its 200 rows (one per step, STEP_ROWS): without a look
    // at the signal between buckets, one round walks them all (and, here, ends the pass).
    await expiringBuckets(r, 0)
    const stopping = new AbortController()
    stopping.abort(new Error('the service is stopping'))
    expect((await lifecycleRound(r.svc, Date.now(), 200, stopping.signal)).more).toBe(true)
    const status = await lifecycleStatus(r.svc)
    expect(status.totals.passes).toBe(0)
    expect(status.currentPass).toMatchObject({ examined: 0 })
    // The next start walks the pass from its first bucket, and ends it.
    expect((await lifecycleRound(r.svc, Date.now(), 200)).more).toBe(false)
    expect((await lifecycleStatus(r.svc)).totals.passes).toBe(1)
  })

  it("a stopped worker gives its lease back; another gateway's lease stays its own", async () => {
    rig = await openWorkerRig()
    const r = rig
    await expiringBuckets(r)
    // A round takes the lease (and renews it for 10 s); the background then has no round running.
    expect((await lifecycleRound(r.svc, Date.now(), 1)).more).toBe(true)
    expect(JSON.parse((await meta.getSetting(r.svc.db, LEASE))!).holder).toBe(
      (await lifecycleStatus(r.svc)).gateway.worker,
    )
    startBackground(r.svc)
    await r.restart()
    expect(await meta.getSetting(r.svc.db, LEASE)).toBeUndefined()
    // This service's round takes it; once it has run out another gateway takes it (written here
    // directly): stopping this service leaves that gateway's lease alone.
    expect((await lifecycleRound(r.svc, Date.now(), 1)).more).toBe(true)
    await r.svc.db.run(
      sql`update settings set value = json_set(value, '$.holder', 'another gateway') where key = ${LEASE}`,
    )
    startBackground(r.svc)
    await r.restart()
    expect(JSON.parse((await meta.getSetting(r.svc.db, LEASE))!).holder).toBe('another gateway')
  })
})

describe('lifecycle worker: rounds over empty buckets', () => {
  it('a step that finds no rows costs the round one of its rows: a round takes at most `rows` steps', async () => {
    rig = await openWorkerRig()
    const r = rig
    // Six buckets with rules and nothing in them: each is two steps (its versions, its uploads)
    // that find no rows. A round of 4 takes two buckets and saves its cursor at the third; before
    // the charge, one round walked them all, however many (a query or two each, on sqld a round
    // trip each), and ended the pass.
    const names = ['le-1', 'le-2', 'le-3', 'le-4', 'le-5', 'le-6']
    for (const name of names) {
      await createBucket(r.svc, r.actor, name, 'us-east-1')
      await putBucketLifecycle(r.svc, r.actor, name, [
        { id: 'expire', enabled: true, filter: { prefix: '', tags: [] }, expiration: { days: 1 } },
      ])
    }
    const cursorBucket = async () => JSON.parse((await meta.getSetting(r.svc.db, LIFECYCLE_STATE))!).cursor?.bucket
    expect(await lifecycleRound(r.svc, Date.now(), 4)).toEqual({ more: true })
    expect(await cursorBucket()).toBe('le-3')
    expect((await lifecycleStatus(r.svc)).totals.passes).toBe(0)
    expect(await lifecycleRound(r.svc, Date.now(), 4)).toEqual({ more: true })
    expect(await cursorBucket()).toBe('le-5')
    expect(await lifecycleRound(r.svc, Date.now(), 4)).toEqual({ more: false })
    expect(await cursorBucket()).toBeUndefined()
    expect((await lifecycleStatus(r.svc)).totals.passes).toBe(1)
  })
})
