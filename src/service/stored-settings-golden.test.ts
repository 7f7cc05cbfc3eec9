import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import * as meta from '../meta/index.ts'
import { pseudoRandom } from '../storage/erasure-storage.testkit.ts'
import { streamFromBytes } from '../util/streams.ts'
import { createBucket } from './buckets.ts'
import { consoleSession, createConsoleSession } from './console-sessions.ts'
import { recordSignInFailure, signInRetryAfter } from './console-sign-in-limit.ts'
import { type GcRig, openGcRig } from './gc.testkit.ts'
import { getStagedKey, stagedKeySetting } from './keyring.ts'
import { putBucketLifecycle } from './lifecycle/config.ts'
import { isLifecycleState, LIFECYCLE_STATE, lifecycleRound, lifecycleStatus } from './lifecycle/worker.ts'
import { putObject } from './put-object.ts'
import { isRebalanceState, REBALANCE_STATE, rebalanceStatus } from './rebalance/mover.ts'

// FORMAT golden texts of the `settings` values Coffer keeps (docs/formats.md §4) beyond the bucket
// settings of stored-json-golden.test.ts: the background workers' progress and leases, a staged
// namespace key, console sessions and sign-in counts. Each stands for rows already stored: a later
// Coffer must read every one as today, so never edit a text here — a new shape is a new `v` with
// a golden text of its own. The second half checks what today's code writes against them.

const GOLDEN = {
  /** settings['lifecycle-state'] in the middle of a pass (every optional field present). */
  lifecycleState:
    '{"v":1,"cursor":{"bucket":"logs","phase":"versions","afterVersion":{"key":"app/1.log","ord":2},' +
    '"carry":{"key":"app/1.log","newerModified":1764806400000,"noncurrent":1}},' +
    '"pass":{"startedAt":1764806400000,"examined":10,"expired":2,"noncurrentRemoved":1,"markersRemoved":0,' +
    '"uploadsAborted":0,"bytesFreed":4096,"keptLocked":1},' +
    '"lastPass":{"startedAt":1764720000000,"examined":8,"expired":1,"noncurrentRemoved":0,"markersRemoved":1,' +
    '"uploadsAborted":1,"bytesFreed":100,"keptLocked":0,"endedAt":1764720001000},' +
    '"totals":{"examined":30,"expired":4,"noncurrentRemoved":2,"markersRemoved":1,"uploadsAborted":1,' +
    '"bytesFreed":8192,"keptLocked":1,"passes":3}}',
  /** The same between passes, as a finished pass leaves it (no cursor, no pass). */
  lifecycleStateIdle:
    '{"v":1,"lastPass":{"startedAt":1764720000000,"examined":8,"expired":1,"noncurrentRemoved":0,' +
    '"markersRemoved":1,"uploadsAborted":1,"bytesFreed":100,"keptLocked":0,"endedAt":1764720001000},' +
    '"totals":{"examined":8,"expired":1,"noncurrentRemoved":0,"markersRemoved":1,"uploadsAborted":1,' +
    '"bytesFreed":100,"keptLocked":0,"passes":1}}',
  /** settings['rebalance-state'] with a move in flight (every optional field present). */
  rebalanceState:
    '{"v":1,"cursor":{"bucket":"photos","key":"2026/12/a.jpg","ord":0},' +
    '"pass":{"startedAt":1764806400000,"layoutVersion":3,"phase":"move","examined":50,"toMove":12,' +
    '"toMoveBytes":3145728,"moved":5,"bytes":1310720,"rebuilt":1,"discarded":0,"deferred":1,"errors":0},' +
    '"inflight":[{"id":"0f6c2b3e-7d51-4a4e-9d0b-3c1f2a8e5b11","index":4,"from":"https://10.0.1.5:9100",' +
    '"to":"https://10.0.1.7:9100"}],' +
    '"lastPass":{"startedAt":1764720000000,"layoutVersion":2,"phase":"move","examined":40,"toMove":0,' +
    '"toMoveBytes":0,"moved":0,"bytes":0,"rebuilt":0,"discarded":0,"deferred":0,"errors":0,"endedAt":1764720002000},' +
    '"totals":{"passes":2,"moved":7,"bytes":1835008,"rebuilt":1,"discarded":1,"errors":0},' +
    '"lastError":"a store is down: https://10.0.1.6:9100"}',
  /** settings['lifecycle-lease'] and settings['rebalance-lease']. */
  lease: '{"holder":"8f14e45f-ceea-467a-9b36-0b3b1b6e5c1a","until":4102444800000}',
  /** settings['ns-key-staged/<ns>']: a rotation's new namespace key, wrapped by the master key. */
  stagedKey: '{"version":2,"blob":"AQID"}',
  /** settings['console-session/<SHA-256 of the id>']. */
  consoleSession:
    '{"accessKeyId":"AKROOT","csrf":"9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c","expiresAt":4102444800000}',
  /** settings['console-signin/<SHA-256 of "key:<access key>" or "ip:<address>">']. */
  signInCount: '{"count":5,"expiresAt":4102444800000}',
} as const

const json = (text: string | undefined): unknown => JSON.parse(String(text))
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/** Key names and leaf types, recursively (values differ run to run: ids, times, counts). */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shape)
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [
          k,
          k === 'v' || k === 'phase' ? (v as Record<string, unknown>)[k] : shape((v as Record<string, unknown>)[k]),
        ]),
    )
  return typeof v
}

/** Every field `written` has, shaped as the golden text's field of that name (optional ones may be absent). */
function expectFieldsShapedAs(written: unknown, golden: unknown): void {
  const w = written as Record<string, unknown>
  const gold = golden as Record<string, unknown>
  for (const k of Object.keys(w)) {
    expect(k in gold, `field ${k} is in the golden text`).toBe(true)
    expect(shape(w[k]), k).toEqual(shape(gold[k]))
  }
}

let g: GcRig | undefined
afterEach(async () => {
  await g?.close()
  g = undefined
})

describe('stored settings: the golden texts are read as today', () => {
  it('worker states pass their format checks and show in the status as stored', async () => {
    expect(isLifecycleState(json(GOLDEN.lifecycleState))).toBe(true)
    expect(isLifecycleState(json(GOLDEN.lifecycleStateIdle))).toBe(true)
    expect(isRebalanceState(json(GOLDEN.rebalanceState))).toBe(true)
    g = await openGcRig()
    const { svc } = g
    await meta.setSetting(svc.db, LIFECYCLE_STATE, GOLDEN.lifecycleState)
    await meta.setSetting(svc.db, 'lifecycle-lease', GOLDEN.lease)
    const life = await lifecycleStatus(svc)
    expect(life).toMatchObject({
      running: true,
      currentPass: { examined: 10, bytesFreed: 4096 },
      lastPass: { endedAt: 1_764_720_001_000 },
      totals: { passes: 3, expired: 4 },
      lease: { holder: '8f14e45f-ceea-467a-9b36-0b3b1b6e5c1a', until: 4_102_444_800_000 },
    })
    expect(life.stateProblem).toBeUndefined()
    await meta.setSetting(svc.db, REBALANCE_STATE, GOLDEN.rebalanceState)
    const moves = await rebalanceStatus(svc)
    expect(moves).toMatchObject({
      running: true,
      currentPass: { layoutVersion: 3, phase: 'move', toMoveBytes: 3_145_728, deferred: 1 },
      totals: { passes: 2, moved: 7 },
      lastError: 'a store is down: https://10.0.1.6:9100',
    })
    expect(moves.stateProblem).toBeUndefined()
  })

  it('a lease held until later is honoured by the SQL that takes leases; an expired one is taken', async () => {
    g = await openGcRig()
    const { db } = g.svc
    await meta.setSetting(db, 'rebalance-lease', GOLDEN.lease)
    expect(await meta.takeLease(db, 'rebalance-lease', 'other', 4_102_444_799_000, 4_102_444_900_000)).toBe(false)
    expect(await meta.takeLease(db, 'rebalance-lease', '8f14e45f-ceea-467a-9b36-0b3b1b6e5c1a', 0, 1)).toBe(true)
    await meta.setSetting(db, 'rebalance-lease', GOLDEN.lease)
    expect(await meta.takeLease(db, 'rebalance-lease', 'other', 4_102_444_800_001, 4_102_444_900_000)).toBe(true)
  })

  it('a staged namespace key, a console session and a sign-in count', async () => {
    g = await openGcRig()
    const { svc } = g
    await meta.setSetting(svc.db, stagedKeySetting('tenant-a'), GOLDEN.stagedKey)
    expect(await getStagedKey(svc, 'tenant-a')).toEqual({ version: 2, blob: 'AQID' })

    const id = 'a'.repeat(64)
    await meta.setSetting(svc.db, `console-session/${sha256(id)}`, GOLDEN.consoleSession)
    expect(await consoleSession(svc, id, 4_102_444_799_000)).toEqual({
      accessKeyId: 'AKROOT',
      csrf: '9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c',
      expiresAt: 4_102_444_800_000,
    })
    expect(await consoleSession(svc, id, 4_102_444_800_001)).toBeUndefined()

    await meta.setSetting(svc.db, `console-signin/${sha256('key:AKVICTIM')}`, GOLDEN.signInCount)
    expect(await signInRetryAfter(svc, ['key:AKVICTIM'], 4_102_444_790_000)).toBe(10_000)
  })
})

describe('stored settings: what today’s code writes has the golden shapes', () => {
  it('the lifecycle worker’s state mid-pass and between passes, and its lease', async () => {
    g = await openGcRig()
    const { svc, actor } = g
    await createBucket(svc, actor, 'logs', 'us-east-1')
    for (const key of ['a', 'b', 'c'])
      await putObject(svc, actor, {
        bucket: 'logs',
        key,
        body: streamFromBytes(pseudoRandom(100, 5), 100),
        digests: () => ({ etag: '"l"' }),
        headers: {},
        userMeta: {},
      })
    await putBucketLifecycle(svc, actor, 'logs', [
      { id: 'expire', enabled: true, filter: { prefix: '', tags: [] }, expiration: { days: 1 } },
    ])
    const later = Date.now() + 365 * 86_400_000
    expect(await lifecycleRound(svc, later, 1)).toEqual({ more: true })
    const mid = json(await meta.getSetting(svc.db, LIFECYCLE_STATE)) as Record<string, unknown>
    expect(mid.cursor).toBeDefined()
    expect(mid.pass).toBeDefined()
    expectFieldsShapedAs(mid, json(GOLDEN.lifecycleState))
    let more = true
    for (let i = 0; i < 20 && more; i++) more = (await lifecycleRound(svc, later, 1)).more
    const idle = json(await meta.getSetting(svc.db, LIFECYCLE_STATE))
    expect(shape(idle)).toEqual(shape(json(GOLDEN.lifecycleStateIdle)))
    expect(shape(json(await meta.getSetting(svc.db, 'lifecycle-lease')))).toEqual(shape(json(GOLDEN.lease)))
  })

  it('a console session and a sign-in count', async () => {
    g = await openGcRig()
    const { svc } = g
    const { id } = await createConsoleSession(svc, 'AKROOT')
    const stored = await meta.getSetting(svc.db, `console-session/${sha256(id)}`)
    expect(shape(json(stored))).toEqual(shape(json(GOLDEN.consoleSession)))
    await recordSignInFailure(svc, ['key:AKVICTIM'])
    const count = await meta.getSetting(svc.db, `console-signin/${sha256('key:AKVICTIM')}`)
    expect(shape(json(count))).toEqual(shape(json(GOLDEN.signInCount)))
  })
})
