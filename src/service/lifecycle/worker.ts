/**
 * The lifecycle worker: applies every bucket's rules in the background (docs/architecture.md
 * §9). It walks the buckets that have rules, each bucket's versions in primary-key order (key,
 * newest version first) and then its uploads, in rounds of at most `lifecycleBatch` rows with
 * `lifecyclePauseMs` between rounds (its I/O budget). The cursor and the pass's counters are
 * saved in `settings` after every round, so a restart resumes where it stopped and memory never
 * grows with the bucket. One gateway at a time runs it (a lease in `settings`, given back when
 * its service stops). A service stopping ends a round before its next page or row.
 *
 * Actions are the statements of S3's own deletes, a round's all in ONE transaction (one commit
 * instead of one per object), each gated on its own rows: Expiration of a current version
 * removes it (unversioned) or adds a delete marker (versioned, suspended), conditional on the
 * version still being current; NoncurrentVersionExpiration and ExpiredObjectDeleteMarker remove
 * a version for good, judged against its Object Lock first (a retained or held version is kept)
 * and only while it is the row and the lock that were judged (a lone marker: while it is still
 * alone); AbortIncompleteMultipartUpload aborts. Every removal queues its data for GC in that
 * same transaction.
 */
import * as meta from '../../meta/index.ts'
import { isCount, isRecord } from '../../util/shape.ts'
import type { ServiceContext } from '../context.ts'
import { versionLockOf } from '../locks.ts'
import { deleteRefusal } from '../object-lock.ts'
import { deleteMarkerRow } from '../versioning.ts'
import { hasCounts, optional, readWorkerState, stateProblem, type WorkerStateRead } from '../worker-state.ts'
import { dayMsOf, lifecycleOf } from './config.ts'
import { afterDays, expiryOf, type LifecycleRule, ruleMatches } from './rules.ts'

export const LIFECYCLE_STATE = 'lifecycle-state'
const LEASE = 'lifecycle-lease'
/**
 * What a round charges its budget for a step that finds no rows (a bucket with no versions or no
 * uploads, or one whose rules went): each step is still a query or two, a round trip each on
 * sqld, so without a charge a round walks every empty bucket with rules, however many, before it
 * ends and saves its cursor. With it a round takes at most `rows` steps.
 */
const STEP_ROWS = 1
/**
 * Renewed by every round; a gateway that died holding it delays the next pass by at most this
 * (another gateway, or the same one restarted, then resumes from the saved cursor).
 */
const LEASE_MS = 10_000

export interface PassCounters {
  startedAt: number
  /** Versions and uploads looked at. */
  examined: number
  /** Current versions expired (removed, or hidden by a delete marker). */
  expired: number
  noncurrentRemoved: number
  markersRemoved: number
  uploadsAborted: number
  /** Logical bytes of versions removed for good (their data queued for GC). */
  bytesFreed: number
  /** Versions due but kept: under retention or legal hold. */
  keptLocked: number
}

interface Cursor {
  bucket: string
  phase: 'versions' | 'uploads'
  afterVersion?: { key: string; ord: number }
  afterUpload?: { key: string; uploadId: string }
  /** The key being walked: the newer version's last-modified time and noncurrent versions seen. */
  carry?: { key: string; newerModified?: number; noncurrent: number }
}

/** FORMAT: settings['lifecycle-state'] (docs/formats.md §4). */
export interface LifecycleState {
  v: 1
  cursor?: Cursor
  pass?: PassCounters
  lastPass?: PassCounters & { endedAt: number }
  totals: Omit<PassCounters, 'startedAt'> & { passes: number }
}

const zero = (startedAt: number): PassCounters => ({
  startedAt,
  examined: 0,
  expired: 0,
  noncurrentRemoved: 0,
  markersRemoved: 0,
  uploadsAborted: 0,
  bytesFreed: 0,
  keptLocked: 0,
})

const COUNTERS = [
  'examined',
  'expired',
  'noncurrentRemoved',
  'markersRemoved',
  'uploadsAborted',
  'bytesFreed',
  'keptLocked',
] as const

const isPass = (v: unknown): v is PassCounters => isRecord(v) && hasCounts(v, ['startedAt', ...COUNTERS])
const isLastPass = (v: unknown): v is PassCounters & { endedAt: number } =>
  isRecord(v) && isPass(v) && isCount(v.endedAt)
const isAfterVersion = (v: unknown): v is Cursor['afterVersion'] =>
  isRecord(v) && typeof v.key === 'string' && Number.isSafeInteger(v.ord)
const isAfterUpload = (v: unknown): v is Cursor['afterUpload'] =>
  isRecord(v) && typeof v.key === 'string' && typeof v.uploadId === 'string'
const isCarry = (v: unknown): v is Cursor['carry'] =>
  isRecord(v) &&
  typeof v.key === 'string' &&
  isCount(v.noncurrent) &&
  (v.newerModified === undefined || Number.isFinite(v.newerModified))
const isCursor = (v: unknown): v is Cursor =>
  isRecord(v) &&
  typeof v.bucket === 'string' &&
  (v.phase === 'versions' || v.phase === 'uploads') &&
  optional(isAfterVersion)(v.afterVersion) &&
  optional(isAfterUpload)(v.afterUpload) &&
  optional(isCarry)(v.carry)

/** FORMAT check of settings['lifecycle-state'] v1 (docs/formats.md §4). */
export const isLifecycleState = (v: unknown): v is LifecycleState =>
  isRecord(v) &&
  v.v === 1 &&
  isRecord(v.totals) &&
  hasCounts(v.totals, [...COUNTERS, 'passes']) &&
  optional(isCursor)(v.cursor) &&
  optional(isPass)(v.pass) &&
  optional(isLastPass)(v.lastPass)

function freshLifecycleState(): LifecycleState {
  const { startedAt: _, ...totals } = zero(0)
  return { v: 1, totals: { ...totals, passes: 0 } }
}

/** The stored progress, checked (./worker-state.ts says what an unreadable row does). */
export function readLifecycleState(ctx: ServiceContext): Promise<WorkerStateRead<LifecycleState>> {
  return readWorkerState(ctx.db, LIFECYCLE_STATE, isLifecycleState, freshLifecycleState)
}

/** This gateway's worker: its lease holder id, and the rounds of a pass it worked since start. */
const workers = new WeakMap<ServiceContext, { id: string; rounds: number }>()
const workerOf = (ctx: ServiceContext) => {
  const w = workers.get(ctx) ?? { id: crypto.randomUUID(), rounds: 0 }
  workers.set(ctx, w)
  return w
}
const holderOf = (ctx: ServiceContext) => workerOf(ctx).id

/**
 * Gives the worker's lease back if this service holds it: called once its service has stopped
 * (stopBackground, after the round in flight ended), so the next start or another gateway goes
 * on from the saved cursor at once instead of after LEASE_MS.
 */
export async function giveBackLifecycleLease(ctx: ServiceContext): Promise<boolean> {
  const w = workers.get(ctx)
  return w !== undefined && (await meta.releaseLease(ctx.db, LEASE, w.id))
}

/** What a round decided, applied at its end in one transaction; `done` counts what took effect. */
interface Pending {
  actions: meta.LifecycleAction[]
  done: (() => void)[]
}

const decide = (p: Pending, action: meta.LifecycleAction, done: () => void) => {
  p.actions.push(action)
  p.done.push(done)
}

/** A lease row's `{ holder, until }`; empty when it is not readable (takeLease then overwrites it). */
function parseLease(raw: string): { holder?: string; until?: number } {
  try {
    const v: unknown = JSON.parse(raw)
    if (isRecord(v) && typeof v.holder === 'string' && isCount(v.until)) return { holder: v.holder, until: v.until }
  } catch {}
  return {}
}

/** The lease as stored: whose, until when (ms). */
async function leaseIsMine(ctx: ServiceContext, holder: string, now: number): Promise<boolean> {
  const raw = await meta.getSetting(ctx.db, LEASE)
  if (!raw) return false
  const lease = parseLease(raw)
  // A margin, so that a round that starts just before the end does not outlive the lease.
  return lease.holder === holder && (lease.until ?? 0) > now + LEASE_MS / 2
}

/**
 * One bounded round: at most `rows` (`lifecycleBatch`, fewer while the gateway is busy) examined, a
 * step that finds none counted as one (STEP_ROWS), what is due applied in ONE
 * transaction (one commit, not one per object: an embedded commit fsyncs on the request thread),
 * then the cursor and counters saved under the lease. `more` while the pass is unfinished (the
 * caller waits as its budget says, ./budget.ts, and runs the next round); a new pass starts once
 * `lifecycleIntervalMs` has passed since the last one ended. A service stopping (`stopping`
 * aborted) ends the round before its next page or row, as its end would: what it judged is
 * applied, and the cursor saved after the last row judged.
 */
export async function lifecycleRound(
  ctx: ServiceContext,
  now = Date.now(),
  rows = ctx.tuning.lifecycleBatch,
  stopping?: AbortSignal,
): Promise<{ more: boolean }> {
  const holder = holderOf(ctx)
  // Renewed by the save at the end of each round: a read here, a write only to take it.
  if (!(await leaseIsMine(ctx, holder, now)) && !(await meta.takeLease(ctx.db, LEASE, holder, now, now + LEASE_MS)))
    return { more: false }
  const read = await readLifecycleState(ctx)
  // Progress saved by a newer Coffer: its gateways run the worker; this one does not touch the row.
  if (read.newer !== undefined) return { more: false }
  const state = read.state
  if (read.damaged)
    ctx.logger.log('warn', 'lifecycle: saved progress unreadable; starting a fresh pass', { why: read.damaged })
  if (!state.pass) {
    if (state.lastPass && now - state.lastPass.endedAt < ctx.tuning.lifecycleIntervalMs) return { more: false }
    state.pass = zero(now)
    state.cursor = undefined
  }
  const pass = state.pass
  workerOf(ctx).rounds++
  const pending: Pending = { actions: [], done: [] }
  let budget = Math.max(1, rows)
  // Seen where the round waits on the metadata (a page, the next bucket; on sqld each a round
  // trip): a stop that lands there leaves the rest of the round to the next start.
  let stopped = false
  while (budget > 0) {
    if (stopping?.aborted) {
      stopped = true
      break
    }
    if (!state.cursor) {
      const first = (await meta.lifecycleBuckets(ctx.db, '', 1))[0]
      if (!first) break
      state.cursor = { bucket: first.name, phase: 'versions' }
    }
    const cursor: Cursor = state.cursor
    const bucket = await meta.getBucket(ctx.db, cursor.bucket)
    const rules = bucket ? (lifecycleOf(bucket)?.rules ?? []) : []
    let done: boolean
    if (!bucket || rules.length === 0) {
      budget -= STEP_ROWS
      done = true
    } else if (cursor.phase === 'versions') {
      const rows = await meta.versionsAfter(ctx.db, bucket.name, cursor.afterVersion, budget)
      for (const row of rows) {
        if (stopping?.aborted) {
          stopped = true // the cursor names the last row judged
          break
        }
        await onVersion(ctx, bucket, rules, cursor, row, pass, now, pending)
      }
      if (stopped) break
      budget -= Math.max(STEP_ROWS, rows.length)
      if (rows.length === 0 || budget > 0) {
        cursor.phase = 'uploads'
        cursor.afterVersion = undefined
        cursor.carry = undefined
      }
      continue
    } else {
      const uploads = await meta.uploadsAfter(ctx.db, bucket.name, cursor.afterUpload, budget)
      // Judged without waiting on anything: a stop cannot land between two uploads.
      for (const u of uploads) onUpload(ctx, rules, cursor, u, pass, now, pending)
      budget -= Math.max(STEP_ROWS, uploads.length)
      done = uploads.length === 0 || budget > 0
    }
    if (done) {
      const next = (await meta.lifecycleBuckets(ctx.db, cursor.bucket, 1))[0]
      if (!next) {
        state.cursor = undefined
        break
      }
      state.cursor = { bucket: next.name, phase: 'versions' }
    }
  }
  // Every action is guarded again inside this commit; one whose guard fails is skipped alone.
  // A crash before the save below redoes the round from the saved cursor: what was applied is
  // gone or no longer what was judged, so nothing is done twice.
  const applied = await meta.applyLifecycle(ctx.db, pending.actions, Date.now())
  for (const [i, ok] of applied.entries()) if (ok) pending.done[i]!()
  // A stop before the first bucket of a pass leaves no cursor: that pass has not started, not ended.
  const finished = !stopped && state.cursor === undefined
  if (finished) {
    const { startedAt: _, ...counts } = pass
    const t = state.totals
    for (const k of Object.keys(counts) as (keyof typeof counts)[]) t[k] += counts[k]
    t.passes += 1
    state.lastPass = { ...pass, endedAt: Date.now() }
    state.pass = undefined
  }
  const end = Date.now()
  const saved = await meta.saveUnderLease(ctx.db, LEASE, holder, end + LEASE_MS, LIFECYCLE_STATE, JSON.stringify(state))
  // Lost the lease (paused past it): the gateway that took it goes on from the saved cursor.
  return { more: saved && !finished }
}

async function onVersion(
  ctx: ServiceContext,
  bucket: meta.BucketRow,
  rules: readonly LifecycleRule[],
  cursor: Cursor,
  row: meta.ObjectRow,
  pass: PassCounters,
  now: number,
  pending: Pending,
): Promise<void> {
  pass.examined++
  cursor.afterVersion = { key: row.key, ord: row.ord }
  if (cursor.carry?.key !== row.key) cursor.carry = { key: row.key, noncurrent: 0 }
  const carry = cursor.carry
  const newerModified = carry.newerModified
  carry.newerModified = row.lastModified.getTime()
  const dayMs = dayMsOf(ctx)
  const candidate = { key: row.key, size: row.size, tags: row.tags ?? [] }
  const matching = rules.filter((r) => ruleMatches(r, candidate))
  if (matching.length === 0) {
    if (!row.latest) carry.noncurrent++
    return
  }
  const writer: meta.Writer = { bucket: bucket.name, bucketId: bucket.id }
  if (row.latest && !row.deleteMarker) {
    const due = matching.some((r) => {
      const at = expiryOf(r, row.lastModified.getTime(), dayMs)
      return at !== undefined && at <= now
    })
    if (due) expireCurrent(bucket, writer, row, pass, pending)
    return
  }
  if (row.latest && row.deleteMarker) {
    // A marker with no versions left behind it is an expired object delete marker: "alone" is
    // checked in the commit, so a version written beside it meanwhile keeps it.
    if (!matching.some((r) => r.expiration?.expiredObjectDeleteMarker)) return
    removeForGood(writer, row, pass, now, pending, true)
    return
  }
  carry.noncurrent++
  const since =
    newerModified ?? (await meta.newerVersion(ctx.db, bucket.name, row.key, row.ord))?.lastModified.getTime()
  if (since === undefined) return
  const due = matching.some((r) => {
    const n = r.noncurrentExpiration
    return n && afterDays(since, n.noncurrentDays, dayMs) <= now && carry.noncurrent > (n.newerNoncurrentVersions ?? 0)
  })
  if (due) removeForGood(writer, row, pass, now, pending, false)
}

/** Expiration of a current version, as DeleteObject without a version id does it. */
function expireCurrent(
  bucket: meta.BucketRow,
  writer: meta.Writer,
  row: meta.ObjectRow,
  pass: PassCounters,
  pending: Pending,
): void {
  if (bucket.versioning === null) {
    // Only while it is still the row judged: an overwrite meanwhile is another row, and stays.
    const guards = { row }
    decide(pending, { kind: 'remove', writer, key: row.key, versionId: row.versionId, guards }, () => {
      pass.expired++
      pass.bytesFreed += row.size
    })
    return
  }
  // Only while the version judged is still current: a new write meanwhile is not hidden.
  const marker = deleteMarkerRow(bucket, row.key)
  decide(pending, { kind: 'marker', writer, marker, current: row }, () => {
    pass.expired++
  })
}

/**
 * Removes a version for good unless its Object Lock keeps it, and only while it is the row
 * judged with the lock judged (a retention or hold set meanwhile is seen by the commit).
 */
function removeForGood(
  writer: meta.Writer,
  row: meta.ObjectRow,
  pass: PassCounters,
  now: number,
  pending: Pending,
  alone: boolean,
): void {
  if (deleteRefusal(versionLockOf(row), new Date(now), false)) {
    pass.keptLocked++
    return
  }
  const guards = { lock: { lock: row.lock }, row, alone }
  decide(pending, { kind: 'remove', writer, key: row.key, versionId: row.versionId, guards }, () => {
    if (row.deleteMarker) pass.markersRemoved++
    else {
      pass.noncurrentRemoved++
      pass.bytesFreed += row.size
    }
  })
}

function onUpload(
  ctx: ServiceContext,
  rules: readonly LifecycleRule[],
  cursor: Cursor,
  u: meta.UploadRow,
  pass: PassCounters,
  now: number,
  pending: Pending,
): void {
  pass.examined++
  cursor.afterUpload = { key: u.key, uploadId: u.uploadId }
  const dayMs = dayMsOf(ctx)
  const due = rules.some(
    (r) =>
      r.enabled &&
      r.abortAfterDays !== undefined &&
      u.key.startsWith(r.filter.prefix) &&
      afterDays(u.initiatedAt.getTime(), r.abortAfterDays, dayMs) <= now,
  )
  if (due)
    decide(pending, { kind: 'abort', uploadId: u.uploadId }, () => {
      pass.uploadsAborted++
    })
}

export interface LifecycleStatus {
  /** Enabled rules over all buckets, and the buckets that have a configuration. */
  rules: number
  buckets: number
  running: boolean
  currentPass?: PassCounters
  lastPass?: PassCounters & { endedAt: number }
  totals: LifecycleState['totals']
  /** The gateway whose worker holds the lease (works the passes) and until when (ms). */
  lease?: { holder: string; until: number }
  /** This gateway's worker: its id (as `lease.holder` names it) and the rounds of a pass it worked since it started. */
  gateway: { worker: string; rounds: number }
  /** Set when the stored progress was not used: written by a newer Coffer, or damaged. */
  stateProblem?: string
}

/** Progress for the admin API, `coffer admin lifecycle status` and /_coffer/metrics. */
export async function lifecycleStatus(ctx: ServiceContext): Promise<LifecycleStatus> {
  let rules = 0
  let buckets = 0
  let after = ''
  for (let page = 0; page < 100_000; page++) {
    const rows = await meta.lifecycleBuckets(ctx.db, after, 100)
    for (const b of rows) {
      buckets++
      rules += lifecycleOf(b)?.rules.filter((r) => r.enabled).length ?? 0
    }
    if (rows.length < 100) break
    after = rows.at(-1)!.name
  }
  const read = await readLifecycleState(ctx)
  const state = read.state ?? freshLifecycleState()
  const lease = await meta.getSetting(ctx.db, LEASE)
  const w = workerOf(ctx)
  const held = lease === undefined ? {} : parseLease(lease)
  return {
    rules,
    buckets,
    running: state.pass !== undefined,
    ...(state.pass ? { currentPass: state.pass } : {}),
    ...(state.lastPass ? { lastPass: state.lastPass } : {}),
    totals: state.totals,
    ...(held.holder !== undefined && held.until !== undefined
      ? { lease: { holder: held.holder, until: held.until } }
      : {}),
    gateway: { worker: w.id, rounds: w.rounds },
    ...stateProblem(read),
  }
}
