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
import { lifecycleRound } from './lifecycle/worker.ts'
import { rebalanceRound } from './rebalance/mover.ts'

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

/** Timers of each started service, so that closeService can stop them. */
const running = new WeakMap<ServiceContext, (() => void)[]>()

/** Runs `task` every `ms`, never two at once; errors are logged, never thrown. */
function every(ms: number, logger: Logger, name: string, task: () => Promise<unknown>): () => void {
  let busy = false
  const timer = setInterval(() => {
    if (busy) return
    busy = true
    task()
      .catch((e) => logger.log('warn', `${name} failed`, { error: String(e) }))
      .finally(() => {
        busy = false
      })
  }, ms)
  return () => clearInterval(timer)
}

/**
 * Runs `pass` again at once while it reports more work (each pass is bounded and yields), else
 * after `ms`: a backlog drains at the speed of the stores, an idle queue costs one query per `ms`.
 */
function whileMore(ms: number, logger: Logger, name: string, pass: () => Promise<{ more: boolean }>): () => void {
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  const run = () => {
    timer = undefined
    pass()
      .then(
        (r) => r.more,
        (e: unknown) => {
          logger.log('warn', `${name} failed`, { error: String(e) })
          return false
        },
      )
      .then((more) => {
        if (!stopped) timer = setTimeout(run, more ? 0 : ms)
      })
  }
  timer = setTimeout(run, ms)
  return () => {
    stopped = true
    if (timer) clearTimeout(timer)
  }
}

/** As whileMore, but a pass that reports more waits `pauseMs()` (its budget), an idle one `idleMs`. */
function whileMoreEvery(
  pauseMs: () => number,
  idleMs: number,
  logger: Logger,
  name: string,
  pass: () => Promise<{ more: boolean }>,
): () => void {
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  const run = () => {
    timer = undefined
    pass()
      .then(
        (r) => r.more,
        (e: unknown) => {
          logger.log('warn', `${name} failed`, { error: String(e) })
          return false
        },
      )
      .then((more) => {
        if (!stopped) timer = setTimeout(run, more ? pauseMs() : idleMs)
      })
  }
  timer = setTimeout(run, Math.min(idleMs, 1000))
  return () => {
    stopped = true
    if (timer) clearTimeout(timer)
  }
}

/** Starts healer, scrubber and collectors; returns immediately. A second call does nothing. */
export function startBackground(ctx: ServiceContext): void {
  if (running.has(ctx)) return
  const { tuning, logger } = ctx
  const scrub: ScrubState = {}
  const lifecycle = createLifecycleBudget(tuning, ctx.load)
  running.set(ctx, [
    every(tuning.healIntervalMs, logger, 'heal', () => healRound(ctx)),
    every(tuning.scrubIntervalMs, logger, 'scrub', () =>
      scrubRound(ctx, scrub, tuning.scrubBatch, tuning.scrubDeepBytes),
    ),
    whileMore(Math.min(tuning.gcGraceMs, GC_INTERVAL_MAX_MS), logger, 'gc', () =>
      collectGarbage(ctx, Date.now(), tuning.gcGraceMs),
    ),
    whileMore(Math.min(tuning.orphanGraceMs, ORPHAN_INTERVAL_MAX_MS), logger, 'orphan collection', () =>
      collectOrphansPass(ctx, tuning.orphanGraceMs),
    ),
    every(MASTER_KEY_CHECK_MS, logger, 'master key check', () => followMasterKey(ctx)),
    ...(ctx.cluster ? [every(LAYOUT_FOLLOW_MS, logger, 'cluster layout', () => followClusterLayout(ctx))] : []),
    every(KMS_DELETION_CHECK_MS, logger, 'KMS key deletion', () => destroyDueKmsKeys(ctx)),
    // A pass runs round after round (each bounded, paused as its budget says while requests are
    // served); then waits for the next pass.
    whileMoreEvery(lifecycle.pause, Math.min(tuning.lifecycleIntervalMs, 60_000), logger, 'lifecycle', () =>
      lifecycle.round((rows) => lifecycleRound(ctx, Date.now(), rows)),
    ),
    // The rebalance mover (§14): rounds paused by its own budget, a new pass on a layout change.
    ...(ctx.cluster
      ? [
          whileMoreEvery(
            () => tuning.rebalancePauseMs,
            Math.min(tuning.rebalanceIntervalMs, LAYOUT_FOLLOW_MS),
            logger,
            'rebalance',
            () => rebalanceRound(ctx),
          ),
        ]
      : []),
  ])
}

export function stopBackground(ctx: ServiceContext): void {
  for (const stop of running.get(ctx) ?? []) stop()
  running.delete(ctx)
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
