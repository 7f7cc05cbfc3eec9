/**
 * The background workers' progress rows in `settings` (`lifecycle-state`, `rebalance-state`;
 * docs/formats.md §4), read with their shapes checked instead of cast. A row this gateway cannot
 * read is one of two things, handled apart:
 * - written by a newer Coffer sharing the metadata (its `v` is above the one this version knows):
 *   the worker is left to the gateways that know the shape, and the row is never overwritten, so
 *   a rolling upgrade does not lose the newer gateways' progress;
 * - damaged (not JSON, not an object, or `v: 1` in a wrong shape): the row is progress only — a
 *   cursor and counters; every action is guarded again when it is applied — so the worker starts
 *   from a fresh state (which its next save writes over the damage) and says why.
 */
import * as meta from '../meta/index.ts'
import { describeValue, isCount, isRecord } from '../util/shape.ts'

/** The newest state version this Coffer reads and writes. */
export const WORKER_STATE_VERSION = 1

export type WorkerStateRead<T> =
  /** The stored state, or a fresh one when there is none or it was damaged (`damaged` says how). */
  | { state: T; damaged?: string; newer?: undefined }
  /** Written by a newer Coffer (`newer` is its `v`): leave the worker and the row alone. */
  | { state?: undefined; damaged?: undefined; newer: number }

export async function readWorkerState<T>(
  db: meta.Db,
  key: string,
  isState: (v: unknown) => v is T,
  fresh: () => T,
): Promise<WorkerStateRead<T>> {
  const raw = await meta.getSetting(db, key)
  if (raw === undefined || raw === '') return { state: fresh() }
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return { state: fresh(), damaged: `settings['${key}'] is not JSON: ${describeValue(raw)}` }
  }
  if (isRecord(value) && isCount(value.v) && value.v > WORKER_STATE_VERSION) return { newer: value.v }
  if (isState(value)) return { state: value }
  return {
    state: fresh(),
    damaged: `settings['${key}'] is not a version ${WORKER_STATE_VERSION} state: ${describeValue(value)}`,
  }
}

/** The fields named are all whole numbers ≥ 0 (a worker's counters). */
export const hasCounts = (v: Record<string, unknown>, names: readonly string[]): boolean =>
  names.every((n) => isCount(v[n]))

/** Absent, or passes `ok`. */
export const optional =
  <T>(ok: (v: unknown) => v is T) =>
  (v: unknown): v is T | undefined =>
    v === undefined || ok(v)

/** For a worker's status: why its stored progress was not used, when it was not. */
export function stateProblem(read: WorkerStateRead<unknown>): { stateProblem?: string } {
  if (read.newer !== undefined)
    return {
      stateProblem: `progress saved by a newer Coffer (state v${read.newer}): this gateway leaves the worker to it`,
    }
  return read.damaged ? { stateProblem: `${read.damaged}; the next round starts a fresh pass` } : {}
}
