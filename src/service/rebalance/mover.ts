/**
 * The rebalance mover (docs/architecture.md §14): moves existing shards to where the layout in
 * use would place them now — off draining nodes, and onto added ones — so that `node remove`
 * becomes possible and use evens out. A background worker beside heal, GC and lifecycle:
 *
 * - A pass walks every object version in primary-key order, first counting what is to move
 *   (metadata only), then moving it, in rounds of at most `rebalanceBatch` rows. The cursor,
 *   the pass's counters and the moves in flight are saved in `settings['rebalance-state']`, so a
 *   restart (or another gateway) resumes; memory is one page whatever the cluster holds.
 * - One gateway at a time (a lease in `settings`, renewed between rows, given back on stopping).
 * - A service stopping ends a round before its next row or copy, and ends the budget pause and a
 *   copy's streaming at once; copies already made are left in `inflight` for the next start to
 *   settle.
 * - `rebalanceRate` bytes/s is its I/O budget (0 turns the mover off).
 * - Each move: the shard is copied to its target and verified there (storage copyShard: streamed
 *   and read back, or rebuilt from the other shards when its source is down or bad); then the
 *   row's layout is switched in one transaction that holds only while the row still is exactly
 *   what was read, and that queues the old shard for GC (`switchObjectLayout`). A row overwritten,
 *   deleted or moved meanwhile keeps its data; the copy is queued for GC instead, as is the target
 *   of a copy that failed (it may have left its file there). Moves are
 *   recorded before the first byte is copied, so copies of a gateway killed mid-move are settled
 *   by the next round: kept if the switch committed, queued for GC otherwise.
 * - Readers never notice: a read that began before the switch reads the old shard, which GC keeps
 *   for its grace period; one after reads the new one.
 *
 * Uploaded parts of multipart uploads in progress are not moved (their layout is copied into the
 * object row by the completion): `node remove` waits for those uploads to complete or abort.
 */
import * as meta from '../../meta/index.ts'
import { type DataLayout, planMoves, type ShardMove, withShardOn } from '../../storage/index.ts'
import { isCount, isRecord } from '../../util/shape.ts'
import type { ServiceContext } from '../context.ts'
import { refreshSpace } from '../space.ts'
import { layoutsOf, parseStoredData } from '../stored-data.ts'
import { hasCounts, optional, readWorkerState, stateProblem, type WorkerStateRead } from '../worker-state.ts'
import { shardGarbage, shardNamed } from './garbage.ts'

export const REBALANCE_STATE = 'rebalance-state'
const LEASE = 'rebalance-lease'
/** Renewed between rows; a gateway that died holding it delays the mover by at most this. */
const LEASE_MS = 15_000
const GC_REASON_MOVED = 'moved'
const GC_REASON_DISCARDED = 'move-discarded'
const GC_REASON_FAILED = 'move-failed'
/** Shards switched by one transaction at most (a multipart object's many segments take several). */
const MOVES_PER_COMMIT = 16
/** A round stops after this much work (then saves its cursor, pauses, renews its lease). */
const ROUND_MS = 5_000
/** A pass that could not move everything is followed after at most this. */
const RETRY_MS = 30_000
/** The counting phase reads this many rows per batch of moving. */
const COUNT_FACTOR = 10

export interface RebalanceCounters {
  startedAt: number
  /** The cluster layout version the pass moves toward; a newer version starts a new pass. */
  layoutVersion: number
  phase: 'count' | 'move'
  /** Object versions looked at by the moving phase. */
  examined: number
  /** Shards (and their bytes) the counting phase found away from their placement. */
  toMove: number
  toMoveBytes: number
  moved: number
  bytes: number
  /** Moves whose source was down or bad: the shard was decoded from the others. */
  rebuilt: number
  /** Copies dropped because the row changed meanwhile (overwritten, deleted). */
  discarded: number
  /** Moves put off: an older copy of the shard still waits for GC on the target. */
  deferred: number
  errors: number
}

interface InflightMove {
  id: string
  index: number
  from: string
  to: string
}

/** FORMAT: settings['rebalance-state'] (docs/formats.md §4). */
export interface RebalanceState {
  v: 1
  cursor?: meta.LayoutCursor
  pass?: RebalanceCounters
  /** Copies being made now: settled at the next round if the gateway dies before its switch. */
  inflight?: InflightMove[]
  lastPass?: RebalanceCounters & { endedAt: number }
  totals: { passes: number; moved: number; bytes: number; rebuilt: number; discarded: number; errors: number }
  lastError?: string
}

const newPass = (now: number, layoutVersion: number): RebalanceCounters => ({
  startedAt: now,
  layoutVersion,
  phase: 'count',
  examined: 0,
  toMove: 0,
  toMoveBytes: 0,
  moved: 0,
  bytes: 0,
  rebuilt: 0,
  discarded: 0,
  deferred: 0,
  errors: 0,
})

const TOTALS = ['passes', 'moved', 'bytes', 'rebuilt', 'discarded', 'errors'] as const
const PASS_COUNTS = [
  'startedAt',
  'layoutVersion',
  'examined',
  'toMove',
  'toMoveBytes',
  'moved',
  'bytes',
  'rebuilt',
  'discarded',
  'deferred',
  'errors',
] as const

const isPass = (v: unknown): v is RebalanceCounters =>
  isRecord(v) && (v.phase === 'count' || v.phase === 'move') && hasCounts(v, PASS_COUNTS)
const isLastPass = (v: unknown): v is RebalanceCounters & { endedAt: number } =>
  isRecord(v) && isPass(v) && isCount(v.endedAt)
const isCursor = (v: unknown): v is meta.LayoutCursor =>
  isRecord(v) && typeof v.bucket === 'string' && typeof v.key === 'string' && Number.isSafeInteger(v.ord)
const isMove = (v: unknown): v is InflightMove =>
  isRecord(v) && typeof v.id === 'string' && isCount(v.index) && typeof v.from === 'string' && typeof v.to === 'string'
const isMoves = (v: unknown): v is InflightMove[] => Array.isArray(v) && v.every(isMove)

/** FORMAT check of settings['rebalance-state'] v1 (docs/formats.md §4). */
export const isRebalanceState = (v: unknown): v is RebalanceState =>
  isRecord(v) &&
  v.v === 1 &&
  isRecord(v.totals) &&
  hasCounts(v.totals, TOTALS) &&
  optional(isCursor)(v.cursor) &&
  optional(isPass)(v.pass) &&
  optional(isMoves)(v.inflight) &&
  optional(isLastPass)(v.lastPass) &&
  (v.lastError === undefined || typeof v.lastError === 'string')

const freshRebalanceState = (): RebalanceState => ({
  v: 1,
  totals: { passes: 0, moved: 0, bytes: 0, rebuilt: 0, discarded: 0, errors: 0 },
})

/**
 * The stored progress, checked (./worker-state.ts says what an unreadable row does). A damaged
 * row loses its `inflight` moves: a copy made then stays on its target named by no row (space,
 * not data: every row still names the shards it had).
 */
export function readRebalanceState(ctx: ServiceContext): Promise<WorkerStateRead<RebalanceState>> {
  return readWorkerState(ctx.db, REBALANCE_STATE, isRebalanceState, freshRebalanceState)
}

const saveState = (ctx: ServiceContext, state: RebalanceState) =>
  meta.setSetting(ctx.db, REBALANCE_STATE, JSON.stringify(state))

const holders = new WeakMap<ServiceContext, string>()
const holderOf = (ctx: ServiceContext) => {
  const h = holders.get(ctx) ?? crypto.randomUUID()
  holders.set(ctx, h)
  return h
}
const lease = (ctx: ServiceContext) => {
  const now = Date.now()
  return meta.takeLease(ctx.db, LEASE, holderOf(ctx), now, now + LEASE_MS)
}

/**
 * Gives the mover's lease back if this service holds it: called once its service has stopped
 * (stopBackground, after the round in flight ended), so the next start or another gateway runs
 * the mover at once instead of after LEASE_MS. Moves a stopped round left in flight are in the
 * saved state, for that next round to settle.
 */
export async function giveBackRebalanceLease(ctx: ServiceContext): Promise<boolean> {
  const holder = holders.get(ctx)
  return holder !== undefined && (await meta.releaseLease(ctx.db, LEASE, holder))
}

/** Resolves after `ms`, or at once when `signal` aborts. */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })

/**
 * Waits until `due` (the I/O budget), renewing the lease meanwhile so no other gateway's mover
 * starts beside this one. A service stopping (`stopping` aborted) ends the wait by throwing its
 * reason: the round ends there, its moves in flight recorded for the next start to settle.
 */
async function pauseUntil(ctx: ServiceContext, due: number, stopping?: AbortSignal): Promise<void> {
  for (let left = due - Date.now(); left > 0; left = due - Date.now()) {
    stopping?.throwIfAborted()
    await sleep(Math.min(left, LEASE_MS / 3), stopping)
    stopping?.throwIfAborted()
    if (due - Date.now() > 0) await lease(ctx)
  }
}

function foldIntoTotals(state: RebalanceState, pass: RebalanceCounters): void {
  const t = state.totals
  t.moved += pass.moved
  t.bytes += pass.bytes
  t.rebuilt += pass.rebuilt
  t.discarded += pass.discarded
  t.errors += pass.errors
}

/**
 * One bounded round of the mover. `more` while a pass is unfinished (the caller pauses
 * `rebalancePauseMs` and runs the next); a pass starts when the layout version differs from the
 * last pass's, or `rebalanceIntervalMs` after the last one ended (to pick up what it could not move).
 */
export async function rebalanceRound(
  ctx: ServiceContext,
  now = Date.now(),
  stopping?: AbortSignal,
): Promise<{ more: boolean }> {
  const cluster = ctx.cluster
  if (!cluster || ctx.tuning.rebalanceRate <= 0) return { more: false }
  if (!(await lease(ctx))) return { more: false }
  const read = await readRebalanceState(ctx)
  // Progress saved by a newer Coffer: its gateways run the mover; this one does not touch the row.
  if (read.newer !== undefined) return { more: false }
  const state = read.state
  if (read.damaged)
    ctx.logger.log('warn', 'rebalance: saved progress unreadable; starting afresh', { why: read.damaged })
  if (state.inflight?.length) {
    await settleInflight(ctx, state.inflight)
    state.inflight = undefined
    await saveState(ctx, state)
  }
  const version = cluster.layout.version
  if (state.pass && state.pass.layoutVersion !== version) {
    // The layout changed under the pass: its targets did too. Start over toward the new one.
    foldIntoTotals(state, state.pass)
    state.pass = undefined
  }
  if (!state.pass) {
    const last = state.lastPass
    // A pass that left work behind (errors, moves put off) is followed sooner than a clean one.
    const wait =
      last && last.errors + last.deferred > 0
        ? Math.min(RETRY_MS, ctx.tuning.rebalanceIntervalMs)
        : ctx.tuning.rebalanceIntervalMs
    if (last && last.layoutVersion === version && now - last.endedAt < wait) return { more: false }
    state.pass = newPass(now, version)
    state.cursor = undefined
  }
  const pass = state.pass
  const full = await storesWithoutRoom(ctx)
  const batch = Math.max(1, ctx.tuning.rebalanceBatch)
  let finished = false
  if (pass.phase === 'count') {
    const rows = await meta.objectLayoutsAfter(ctx.db, state.cursor, batch * COUNT_FACTOR)
    for (const row of rows) {
      for (const layout of rowLayouts(row)) {
        const moves = planMoves(layout.stores, ctx.storage.placement(layout.id, full))
        pass.toMove += moves.length
        pass.toMoveBytes += moves.length * ctx.storage.shardBytes(layout.size, layout.id)
      }
    }
    const last = rows.at(-1)
    state.cursor = last ? { bucket: last.bucket, key: last.key, ord: last.ord } : state.cursor
    if (rows.length < batch * COUNT_FACTOR) {
      pass.phase = 'move'
      state.cursor = undefined
    }
  } else {
    const started = Date.now()
    const budget = { started, bytes: 0 }
    const rows = await meta.objectLayoutsAfter(ctx.db, state.cursor, batch)
    let done = 0
    for (const row of rows) {
      // A service stopping ends the round before its next row, as the round's end would: the
      // cursor after the rows done is saved below, and the next start goes on from there.
      if (stopping?.aborted) break
      pass.examined++
      await moveRow(ctx, state, pass, row, full, budget, stopping)
      state.cursor = { bucket: row.bucket, key: row.key, ord: row.ord }
      done++
      if (Date.now() - started > ROUND_MS || !(await lease(ctx))) break
    }
    finished = rows.length < batch && done === rows.length
  }
  if (finished) {
    foldIntoTotals(state, pass)
    state.totals.passes++
    state.lastPass = { ...pass, endedAt: Date.now() }
    state.pass = undefined
    state.cursor = undefined
  }
  await saveState(ctx, state)
  return { more: !finished }
}

type LayoutRow = Awaited<ReturnType<typeof meta.objectLayoutsAfter>>[number]

function rowLayouts(row: LayoutRow): DataLayout[] {
  if (row.layout === null) return [] // a delete marker: no data
  return layoutsOf(parseStoredData(row.layout, `object ${row.bucket}/${row.key}`))
}

/** `raw` (an object row's stored data, as read) with the shards of `moves` of write `id` on their targets. */
function movedData(raw: unknown, id: string, moves: readonly ShardMove[]): unknown {
  const data = raw as { segments: { layout?: DataLayout }[] }
  return {
    ...data,
    segments: data.segments.map((seg) => {
      if (!seg.layout || seg.layout.id !== id) return seg // inline segments have no shards
      let layout = seg.layout
      for (const m of moves) layout = withShardOn(layout, m.index, m.to)
      return { ...seg, layout }
    }),
  }
}

/**
 * Moves every misplaced shard of one object version, MOVES_PER_COMMIT per switch. A service
 * stopping ends it before its next copy by throwing the stop's reason, as the budget pause does.
 */
async function moveRow(
  ctx: ServiceContext,
  state: RebalanceState,
  pass: RebalanceCounters,
  row: LayoutRow,
  full: ReadonlySet<string>,
  budget: { started: number; bytes: number },
  stopping?: AbortSignal,
): Promise<void> {
  let read: unknown = row.layout
  for (const layout of rowLayouts(row)) {
    let moves = planMoves(layout.stores, ctx.storage.placement(layout.id, full))
    if (moves.length === 0) continue
    // A store where an older copy of this write still waits for GC takes nothing now.
    const waiting = await meta.storesWithShardGarbage(ctx.db, layout.id)
    pass.deferred += moves.filter((m) => waiting.has(m.to)).length
    moves = moves.filter((m) => !waiting.has(m.to))
    for (let at = 0; at < moves.length; at += MOVES_PER_COMMIT) {
      stopping?.throwIfAborted() // before recording moves it would not start
      const chunk = moves.slice(at, at + MOVES_PER_COMMIT)
      state.inflight = chunk.map((m) => ({ id: layout.id, ...m }))
      await saveState(ctx, state)
      const copied: ShardMove[] = []
      const failed: ShardMove[] = []
      for (const m of chunk) {
        // Nor does a stopping service start another copy in the middle of a row: the round ends
        // here as in the budget pause, the copies made recorded in `inflight` for the next start.
        stopping?.throwIfAborted()
        try {
          // A stop ends a copy in the middle of its bytes too (a shard may be gigabytes): the
          // target's put keeps nothing, and the move stays in `inflight` for the next start.
          const copy = await ctx.storage.copyShard(layout, m.index, m.to, stopping)
          copied.push(m)
          pass.bytes += copy.bytes
          if (copy.how === 'rebuilt') pass.rebuilt++
          budget.bytes += copy.bytes
        } catch (e) {
          if (stopping?.aborted) throw stopping.reason // not a failed move: the round ends, as in the pause
          failed.push(m)
          pass.errors++
          state.lastError = `${layout.id}.${m.index} → ${m.to}: ${e instanceof Error ? e.message : String(e)}`
          ctx.logger.log('warn', 'rebalance: a shard could not be moved', { error: state.lastError })
          continue
        }
        // The I/O budget: never ahead of rebalanceRate bytes/s since the round began. A stop
        // ends the round here, the copies made recorded in `inflight` for the next start.
        await pauseUntil(ctx, budget.started + (budget.bytes * 1000) / ctx.tuning.rebalanceRate, stopping)
      }
      // A copy that failed may still have left its file on the target: a PUT that landed but whose
      // answer was lost, a rebuild that wrote the shard before its check failed. No row names it,
      // so it is queued like a discarded copy (GC removes it only while no row names it), before
      // `inflight` forgets it.
      if (failed.length > 0)
        await meta.enqueueGc(
          ctx.db,
          failed.map((m) => shardGarbage(layout.id, m.index, m.to)),
          GC_REASON_FAILED,
        )
      if (copied.length > 0) {
        const next = movedData(read, layout.id, copied)
        const garbage = copied.map((m) => shardGarbage(layout.id, m.index, m.from))
        if (await meta.switchObjectLayout(ctx.db, row, read, next, garbage, GC_REASON_MOVED)) {
          pass.moved += copied.length
          read = next
        } else {
          // Overwritten, deleted or changed meanwhile: the row keeps what it has; the copies are garbage.
          pass.discarded += copied.length
          await meta.enqueueGc(
            ctx.db,
            copied.map((m) => shardGarbage(layout.id, m.index, m.to)),
            GC_REASON_DISCARDED,
          )
          state.inflight = undefined
          await saveState(ctx, state)
          return
        }
      }
      state.inflight = undefined
      await saveState(ctx, state)
    }
  }
}

/**
 * Copies a killed gateway left: each one a row now names is in use (its switch committed, which
 * queued the old shard); any other is queued for GC (GC looks again before removing it).
 */
async function settleInflight(ctx: ServiceContext, moves: readonly InflightMove[]): Promise<void> {
  const garbage = []
  for (const m of moves)
    if (!(await shardNamed(ctx, m.id, m.index, m.to))) garbage.push(shardGarbage(m.id, m.index, m.to))
  if (garbage.length > 0) await meta.enqueueGc(ctx.db, garbage, GC_REASON_DISCARDED)
}

/** Stores under their free-space minimum: they take no moved shard (placement leaves them out). */
async function storesWithoutRoom(ctx: ServiceContext): Promise<Set<string>> {
  await refreshSpace(ctx).catch(() => {})
  const out = new Set<string>()
  for (const [id, r] of ctx.space.stores) if (r && r.free < ctx.space.minFree) out.add(id)
  return out
}

export interface RebalanceStatus {
  /** Whether the mover runs on this cluster (storage nodes, rebalanceRate above 0). */
  enabled: boolean
  running: boolean
  layoutVersion?: number
  currentPass?: RebalanceCounters
  lastPass?: RebalanceCounters & { endedAt: number }
  totals: RebalanceState['totals']
  lastError?: string
  /** Set when the stored progress was not used: written by a newer Coffer, or damaged. */
  stateProblem?: string
}

/** Progress for the admin API, `coffer admin layout status` and /_coffer/metrics. */
export async function rebalanceStatus(ctx: ServiceContext): Promise<RebalanceStatus> {
  const read = await readRebalanceState(ctx)
  const state = read.state ?? freshRebalanceState()
  return {
    enabled: ctx.cluster !== undefined && ctx.tuning.rebalanceRate > 0,
    running: state.pass !== undefined,
    ...(ctx.cluster ? { layoutVersion: ctx.cluster.layout.version } : {}),
    ...(state.pass ? { currentPass: state.pass } : {}),
    ...(state.lastPass ? { lastPass: state.lastPass } : {}),
    totals: state.totals,
    ...(state.lastError ? { lastError: state.lastError } : {}),
    ...stateProblem(read),
  }
}
