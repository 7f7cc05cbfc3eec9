/**
 * Small statistics for benchmark samples: percentiles (nearest rank), mean, and rate helpers.
 * Pure functions; no I/O.
 */

/** Nearest-rank percentile of `samples` (p in 0..100); NaN for an empty list. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

export function mean(samples: readonly number[]): number {
  if (samples.length === 0) return NaN
  let s = 0
  for (const x of samples) s += x
  return s / samples.length
}

export interface LatencySummary {
  count: number
  p50: number
  p99: number
  max: number
  mean: number
}

/** Latency summary in the samples' unit (milliseconds throughout the suite). */
export function summarize(samples: readonly number[]): LatencySummary {
  return {
    count: samples.length,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: samples.length ? Math.max(...samples) : NaN,
    mean: mean(samples),
  }
}

/** Decimal megabytes per second (10^6 bytes), the unit every table uses. */
export const mbPerSec = (bytes: number, ms: number): number => (ms > 0 ? bytes / 1e6 / (ms / 1000) : NaN)
export const perSec = (count: number, ms: number): number => (ms > 0 ? count / (ms / 1000) : NaN)
