/**
 * The work that keeps data durable without a request asking: healer, scrubber, garbage and
 * orphan collectors on timers, and one full maintenance pass on demand. Uses heal.ts and gc.ts.
 */
import type { Logger } from '../util/log.ts'
import type { ServiceContext } from './context.ts'
import { collectGarbage, collectOrphansPass } from './gc.ts'
import { healAll, healRound, type ScrubState, scrubRound } from './heal.ts'
import { followMasterKey } from './keyring.ts'
import { followClusterLayout, LAYOUT_FOLLOW_MS } from './cluster-layout.ts'
import { destroyDueKmsKeys } from './kms.ts'
import { createLifecycleBudget } from './lifecycle/budget.ts'
import { giveBackLifecycleLease, lifecycleRound } from './lifecycle/worker.ts'
import { giveBackRebalanceLease, rebalanceRound } from './rebalance/mover.ts'

/**
 * GC looks for due entries at least this often (one small query when there are none): under
 * sustained overwrites entries fall due all the time, and each second they wait is disk held.
 */
export const GC_INTERVAL_MAX_MS = 2_000
/** Orphan collection at least this often; stale intents are rare (crashed writes). */
const ORPHAN_INTERVAL_MAX_MS = 10_000

/**
 * How often a gateway compares its master key with the fingerprint in the metadata: a rotation
 * through another gateway is followed within this (keyring.ts followMasterKey), as soon as the
 * new key file is in place.
 */
export const MASTER_KEY_CHECK_MS = 2_000
/** How often KMS keys whose deletion date passed are destroyed (one indexed query when none is). */
const KMS_DELETION_CHECK_MS = 5_000

/**
 * How long closeService waits for the passes in flight before the metadata closes. A pass cut off
 * there fails half-done: GC entries it had taken stay leased for GC_LEASE_MS (5 min), and their
 * shards on the disks that long; heal entries likewise. Passes are short (a GC removal is a few
 * DELETEs); the rebalance mover ends its round before its next row or copy (its budget pause and
 * a copy's streaming at once), the lifecycle worker before its next page or row, and then both
 * give their lease back.
 */
export const STOP_WAIT_MS = 5_000

/**
 * One background worker: stop its timer; the pass it is running now, if any; and what it gives
 * back once stopped with no pass left running (a lease, so another gateway need not wait it out).
 */
interface Worker {
  stop(): void
  inFlight(): Promise<unknown> | undefined
  release?(): Promise<unknown>
}

/** Workers of each started service, and the signal its passes see when closeService stops them. */
const running = new WeakMap<ServiceContext, { workers: Worker[]; stopping: AbortController }>()

/** A failed pass is logged, unless it failed because the service is stopping (the mover's pause). */
function logFailure(logger: Logger, name: string, e: unknown, stopping: AbortSignal): void {
  if (!(stopping.aborted && e === stopping.reason)) logger.log('warn', `${name} failed`, { error: String(e) })
}

/** Runs `task` every `ms`, never two at once; errors are logged, never thrown. */
function every(ms: number, logger: Logger, name: string, task: () => Promise<unknown>, stopping: AbortSignal): Worker {
  let current: Promise<unknown> | undefined
  const timer = setInterval(() => {
    if (current) return
    current = task()
      .catch((e) => logFailure(logger, name, e, stopping))
      .finally(() => {
        current = undefined
      })
  }, ms)
  return { stop: () => clearInterval(timer), inFlight: () => current }
}

/**
 * Runs `pass` again at once while it reports more work (each pass is bounded and yields), else
 * after `ms`: a backlog drains at the speed of the stores, an idle queue costs one query per `ms`.
 */
function whileMore(
  ms: number,
  logger: Logger,
  name: string,
  pass: () => Promise<{ more: boolean }>,
  stopping: AbortSignal,
): Worker {
  return whileMoreEvery(() => 0, ms, logger, name, pass, stopping, ms)
}

/** As whileMore, but a pass that reports more waits `pauseMs()` (its budget), an idle one `idleMs`. */
function whileMoreEvery(
  pauseMs: () => number,
  idleMs: number,
  logger: Logger,
  name: string,
  pass: () => Promise<{ more: boolean }>,
  stopping: AbortSignal,
  firstMs = Math.min(idleMs, 1000),
): Worker {
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let current: Promise<unknown> | undefined
  const run = () => {
    timer = undefined
    current = pass()
      .then(
        (r) => r.more,
        (e: unknown) => {
          logFailure(logger, name, e, stopping)
          return false
        },
      )
      .then((more) => {
        current = undefined
        if (!stopped) timer = setTimeout(run, more ? pauseMs() : idleMs)
      })
  }
  timer = setTimeout(run, firstMs)
  return {
    stop: () => {
      stopped = true
      if (timer) clearTimeout(timer)
    },
    inFlight: () => current,
  }
}

/** Starts healer, scrubber and collectors; returns immediately. A second call does nothing. */
export function startBackground(ctx: ServiceContext): void {
  if (running.has(ctx)) return
  const { tuning, logger } = ctx
  const scrub: ScrubState = {}
  const lifecycle = createLifecycleBudget(tuning, ctx.load)
  const stopping = new AbortController()
  const signal = stopping.signal
  const workers = [
    every(tuning.healIntervalMs, logger, 'heal', () => healRound(ctx), signal),
    every(
      tuning.scrubIntervalMs,
      logger,
      'scrub',
      () => scrubRound(ctx, scrub, tuning.scrubBatch, tuning.scrubDeepBytes),
      signal,
    ),
    whileMore(
      Math.min(tuning.gcGraceMs, GC_INTERVAL_MAX_MS),
      logger,
      'gc',
      () => collectGarbage(ctx, Date.now(), tuning.gcGraceMs),
      signal,
    ),
    whileMore(
      Math.min(tuning.orphanGraceMs, ORPHAN_INTERVAL_MAX_MS),
      logger,
      'orphan collection',
      () => collectOrphansPass(ctx, tuning.orphanGraceMs),
      signal,
    ),
    every(MASTER_KEY_CHECK_MS, logger, 'master key check', () => followMasterKey(ctx), signal),
    ...(ctx.cluster ? [every(LAYOUT_FOLLOW_MS, logger, 'cluster layout', () => followClusterLayout(ctx), signal)] : []),
    every(KMS_DELETION_CHECK_MS, logger, 'KMS key deletion', () => destroyDueKmsKeys(ctx), signal),
    // A pass runs round after round (each bounded, paused as its budget says while requests are
    // served); then waits for the next pass.
    {
      ...whileMoreEvery(
        lifecycle.pause,
        Math.min(tuning.lifecycleIntervalMs, 60_000),
        logger,
        'lifecycle',
        () => lifecycle.round((rows) => lifecycleRound(ctx, Date.now(), rows, signal)),
        signal,
      ),
      release: () => giveBackLifecycleLease(ctx),
    },
    // The rebalance mover (§14): rounds paused by its own budget, a new pass on a layout change.
    ...(ctx.cluster
      ? [
          {
            ...whileMoreEvery(
              () => tuning.rebalancePauseMs,
              Math.min(tuning.rebalanceIntervalMs, LAYOUT_FOLLOW_MS),
              logger,
              'rebalance',
              () => rebalanceRound(ctx, Date.now(), signal),
              signal,
            ),
            release: () => giveBackRebalanceLease(ctx),
          },
        ]
      : []),
  ]
  running.set(ctx, { workers, stopping })
}

/**
 * Stops the timers, then waits (at most STOP_WAIT_MS) for the passes in flight to finish, so that
 * closing the metadata next does not cut one off with work taken and not done. A worker whose
 * pass ended within that wait (or that had none running) gives back what it holds (`release`):
 * a pass still running after it may still be working under its lease.
 */
export async function stopBackground(ctx: ServiceContext, waitMs = STOP_WAIT_MS): Promise<void> {
  const started = running.get(ctx)
  if (!started) return
  running.delete(ctx)
  for (const w of started.workers) w.stop()
  started.stopping.abort(new Error('the service is stopping'))
  let waited = false
  const ended = started.workers.map(async (w) => {
    await w.inFlight()?.catch(() => {}) // a failure is logged by the worker
    if (!w.release || waited) return
    await w.release().catch((e) => ctx.logger.log('warn', 'giving back a lease failed', { error: String(e) }))
  })
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([
    Promise.allSettled(ended),
    new Promise((resolve) => {
      timer = setTimeout(resolve, waitMs)
    }),
  ])
  waited = true
  clearTimeout(timer)
}

/**
 * One full maintenance pass now, finishing all the work it finds: scrub every object reading
 * every shard whole (missing, truncated, rotten and misplaced shards all show), then heal every
 * queued layout once — leased ones included, so nothing found waits for a later pass — then
 * collect garbage. What cannot finish now (a store down, data beyond repair) stays queued.
 */
export async function maintain(ctx: ServiceContext): Promise<void> {
  const { tuning } = ctx
  const state: ScrubState = {}
  for (let i = 0; i < 1_000_000; i++) {
    await scrubRound(ctx, state, tuning.scrubBatch, Number.POSITIVE_INFINITY)
    if (!state.cursor) break
  }
  await healAll(ctx)
  // Bounded: each pass is, and a pass that hit its bound is followed by at most 1,000 more.
  for (let i = 0; i < 1_000 && (await collectGarbage(ctx, Date.now(), tuning.gcGraceMs)).more; i++);
  for (let i = 0; i < 1_000 && (await collectOrphansPass(ctx, tuning.orphanGraceMs)).more; i++);
}
