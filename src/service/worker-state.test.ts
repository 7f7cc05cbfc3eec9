/**
 * The workers' progress rows read back with their shapes checked (./worker-state.ts): a damaged
 * row makes the worker start afresh and say so, never throw on every round or fail the status
 * (admin API, metrics); a row saved by a newer Coffer is left alone by this one; a lease row that
 * is not JSON does not stop every gateway's worker. Through the real service over libSQL.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as meta from '../meta/index.ts'
import { pseudoRandom } from '../storage/erasure-storage.testkit.ts'
import { streamFromBytes } from '../util/streams.ts'
import { createBucket } from './buckets.ts'
import { type GcRig, openGcRig } from './gc.testkit.ts'
import { putBucketLifecycle } from './lifecycle/config.ts'
import { isLifecycleState, LIFECYCLE_STATE, lifecycleRound, lifecycleStatus } from './lifecycle/worker.ts'
import { putObject } from './put-object.ts'
import { REBALANCE_STATE, rebalanceStatus } from './rebalance/mover.ts'
import { readWorkerState } from './worker-state.ts'

let g: GcRig | undefined
afterEach(async () => {
  await g?.close()
  g = undefined
})

const DAY = 86_400_000

/** A bucket whose one object is due for expiry a year from now, and the rig's logged warnings. */
async function rigWithDueObject() {
  g = await openGcRig()
  const { svc, actor } = g
  const warnings: string[] = []
  const logger = svc.logger
  svc.logger = {
    log(level, msg, fields) {
      if (level === 'warn') warnings.push(`${msg} ${JSON.stringify(fields)}`)
      logger.log(level, msg, fields)
    },
  }
  await createBucket(svc, actor, 'logs', 'us-east-1')
  await putObject(svc, actor, {
    bucket: 'logs',
    key: 'old',
    body: streamFromBytes(pseudoRandom(1000, 3), 1000),
    digests: () => ({ etag: '"o"' }),
    headers: {},
    userMeta: {},
  })
  await putBucketLifecycle(svc, actor, 'logs', [
    { id: 'expire', enabled: true, filter: { prefix: '', tags: [] }, expiration: { days: 1 } },
  ])
  return { svc, actor, warnings, later: Date.now() + 365 * DAY }
}

const exists = async (svc: GcRig['svc']) => (await meta.getObject(svc.db, 'logs', 'old')) !== undefined

describe('readWorkerState', () => {
  const isState = (v: unknown): v is { v: 1; n: number } =>
    typeof v === 'object' &&
    v !== null &&
    (v as { v?: unknown }).v === 1 &&
    typeof (v as { n?: unknown }).n === 'number'
  const fresh = () => ({ v: 1 as const, n: 0 })

  it('absent: fresh; readable: as stored; damaged: fresh and why; newer: left alone', async () => {
    g = await openGcRig()
    const db = g.svc.db
    const read = () => readWorkerState(db, 'w', isState, fresh)
    expect(await read()).toEqual({ state: { v: 1, n: 0 } })
    await meta.setSetting(db, 'w', '{"v":1,"n":7}')
    expect(await read()).toEqual({ state: { v: 1, n: 7 } })
    await meta.setSetting(db, 'w', '{"v":1,"n":')
    expect(await read()).toMatchObject({ state: { v: 1, n: 0 }, damaged: expect.stringContaining('not JSON') })
    await meta.setSetting(db, 'w', '{"v":1,"n":"seven"}')
    expect(await read()).toMatchObject({ state: { v: 1, n: 0 }, damaged: expect.stringContaining('not a version 1') })
    await meta.setSetting(db, 'w', '[1,2]')
    expect((await read()).damaged).toContain('not a version 1')
    await meta.setSetting(db, 'w', '{"v":2,"somethingNew":true}')
    expect(await read()).toEqual({ newer: 2 })
  })
})

describe('lifecycle worker state', () => {
  it('a damaged state: the status says so, the round starts a fresh pass, expires, and saves a readable state', async () => {
    const { svc, warnings, later } = await rigWithDueObject()
    await meta.setSetting(svc.db, LIFECYCLE_STATE, '{"v":1,"totals":"lost","cursor":{"bucket":7}}')
    expect((await lifecycleStatus(svc)).stateProblem).toContain("settings['lifecycle-state'] is not a version 1 state")
    let more = true
    for (let i = 0; i < 10 && more; i++) more = (await lifecycleRound(svc, later)).more
    expect(await exists(svc)).toBe(false)
    expect(warnings.some((w) => w.includes('lifecycle: saved progress unreadable'))).toBe(true)
    const saved: unknown = JSON.parse((await meta.getSetting(svc.db, LIFECYCLE_STATE))!)
    expect(isLifecycleState(saved)).toBe(true)
    expect(saved).toMatchObject({ totals: { passes: 1, expired: 1 } })
    const status = await lifecycleStatus(svc)
    expect(status.stateProblem).toBeUndefined()
    expect(status.totals.expired).toBe(1)
  })

  it('a state saved by a newer Coffer: no round here, the row untouched, the status says why', async () => {
    const { svc, later } = await rigWithDueObject()
    const newer = '{"v":2,"shards":{"cursor":"opaque"}}'
    await meta.setSetting(svc.db, LIFECYCLE_STATE, newer)
    expect(await lifecycleRound(svc, later)).toEqual({ more: false })
    expect(await exists(svc)).toBe(true)
    expect(await meta.getSetting(svc.db, LIFECYCLE_STATE)).toBe(newer)
    expect((await lifecycleStatus(svc)).stateProblem).toContain('newer Coffer (state v2)')
  })

  it('a lease row that is not JSON is taken over, not a failure of every round', async () => {
    const { svc, later } = await rigWithDueObject()
    await meta.setSetting(svc.db, 'lifecycle-lease', 'not json')
    expect((await lifecycleStatus(svc)).lease).toBeUndefined()
    let more = true
    for (let i = 0; i < 10 && more; i++) more = (await lifecycleRound(svc, later)).more
    expect(await exists(svc)).toBe(false)
    expect((await lifecycleStatus(svc)).lease?.holder).toEqual((await lifecycleStatus(svc)).gateway.worker)
  })
})

describe('rebalance worker state', () => {
  it('the status reads a damaged or newer state without failing, and says which', async () => {
    g = await openGcRig()
    const { svc } = g
    await meta.setSetting(svc.db, REBALANCE_STATE, 'truncated {')
    const damaged = await rebalanceStatus(svc)
    expect(damaged.totals).toEqual({ passes: 0, moved: 0, bytes: 0, rebuilt: 0, discarded: 0, errors: 0 })
    expect(damaged.stateProblem).toContain("settings['rebalance-state'] is not JSON")
    await meta.setSetting(
      svc.db,
      REBALANCE_STATE,
      '{"v":1,"totals":{"passes":1,"moved":2,"bytes":3,"rebuilt":0,"discarded":0,"errors":0},"inflight":[{"id":"x"}]}',
    )
    expect((await rebalanceStatus(svc)).stateProblem).toContain('not a version 1 state')
    await meta.setSetting(svc.db, REBALANCE_STATE, '{"v":3}')
    expect((await rebalanceStatus(svc)).stateProblem).toContain('newer Coffer (state v3)')
  })
})
