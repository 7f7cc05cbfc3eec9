/**
 * The lifecycle worker's budget (docs/architecture.md §9): how long it waits after a round. An
 * embedded metadata file is read and committed on the request thread, so every millisecond a
 * round takes is a millisecond no request is served. While the gateway serves requests (any
 * started since the last look, or a timer held up by others' work) the worker keeps to
 * `lifecycleBusyPercent` of the time, pausing (100 / percent − 1) times as long as its round
 * took, and its rounds shrink to `BUSY_ROUND_DIVISOR`th of `lifecycleBatch`: the same share of
 * the thread in shorter holds, so a request that arrives mid-round waits less (the tail latency);
 * idle, it pauses `lifecyclePauseMs` only. The signal comes through the ForegroundLoad port.
 */
import type { ForegroundLoad, Tuning } from '../context.ts'

/**
 * The longest pause: the round's save renews the lease for 10 s, and a pause past it would let
 * another gateway take the pass over for no reason.
 */
export const MAX_PAUSE_MS = 5_000
/** A timer this late while the worker paused means other work holds the thread. */
export const BUSY_LOOP_DELAY_MS = 10

/** While busy, a round examines this fraction of `lifecycleBatch` rows (at least one). */
export const BUSY_ROUND_DIVISOR = 8

/** Rows the next round may examine, busy or idle. */
export function roundRows(busy: boolean, t: Pick<Tuning, 'lifecycleBatch' | 'lifecycleBusyPercent'>): number {
  const full = Math.max(1, t.lifecycleBatch)
  // A share of 100 % asks for no budget while busy: full rounds, as when idle.
  return busy && t.lifecycleBusyPercent < 100 ? Math.max(1, Math.ceil(full / BUSY_ROUND_DIVISOR)) : full
}

/** The pause after a round of `roundMs`, busy or idle. */
export function pauseAfter(
  roundMs: number,
  busy: boolean,
  t: Pick<Tuning, 'lifecyclePauseMs' | 'lifecycleBusyPercent'>,
): number {
  const floor = Math.max(0, t.lifecyclePauseMs)
  if (!busy) return Math.min(floor, MAX_PAUSE_MS)
  const share = Math.min(100, Math.max(1, t.lifecycleBusyPercent)) / 100
  return Math.round(Math.min(MAX_PAUSE_MS, Math.max(floor, (roundMs * (1 - share)) / share)))
}

export interface LifecycleBudget {
  /** Times a round of at most the rows given to `run`, and returns what it returned. */
  round<T>(run: (rows: number) => Promise<T>): Promise<T>
  /** The pause after the last round. */
  pause(): number
}

/** A budget over `load` (none: always idle, the floor pause). */
export function createLifecycleBudget(tuning: Tuning, load: ForegroundLoad | undefined): LifecycleBudget {
  let seen = load?.requests() ?? 0
  let last = tuning.lifecyclePauseMs
  let busyLast = false
  return {
    async round(run) {
      // Before the round, the delay seen is others' (the pause's); after it, partly the round's own.
      const delayed = (load?.loopDelayMs() ?? 0) > BUSY_LOOP_DELAY_MS
      const t0 = performance.now()
      try {
        return await run(roundRows(busyLast || delayed, tuning))
      } finally {
        const ms = performance.now() - t0
        load?.loopDelayMs()
        const now = load?.requests() ?? 0
        const busy = delayed || now !== seen
        seen = now
        busyLast = busy
        last = pauseAfter(ms, busy, tuning)
      }
    },
    pause: () => last,
  }
}
