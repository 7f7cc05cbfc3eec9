/**
 * The last hour of S3 requests in memory, for the console's charts (docs/architecture.md §13):
 * a ring of fixed time buckets (10 s × 360 by default), each holding request and error counts,
 * bytes in and out, and a latency histogram with log-spaced bounds, so p50/p99 come from a
 * bounded histogram, never from stored samples. Memory is fixed at construction (about 100 KB
 * with the defaults) whatever the load. Pure: the caller passes the time.
 * /_coffer/metrics stays the Prometheus source; `totals` feeds its counters.
 */

export interface RingOptions {
  /** Width of one bucket in ms. */
  bucketMs: number
  /** Buckets kept: bucketMs × buckets is the history. */
  buckets: number
}

export const RING_DEFAULTS: RingOptions = { bucketMs: 10_000, buckets: 360 }

/**
 * Latency histogram bounds (ms): 0.1 ms × 1.25^i, so a percentile read from it is within 25 %
 * of the true value; the last bin takes everything above (~ 10 minutes).
 */
export const LATENCY_BOUNDS_MS: readonly number[] = Array.from({ length: 64 }, (_, i) => 0.1 * 1.25 ** i)
const BINS = LATENCY_BOUNDS_MS.length + 1

/** The bin of a latency: the first bound it does not exceed (binary search; the last bin above all). */
export function latencyBin(ms: number): number {
  let lo = 0
  let hi = LATENCY_BOUNDS_MS.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (ms <= LATENCY_BOUNDS_MS[mid]!) hi = mid
    else lo = mid + 1
  }
  return lo
}

/**
 * The q-quantile (0 < q ≤ 1) of a histogram as its bin's upper bound; undefined when empty.
 * The overflow bin answers the last bound (a floor: "at least this").
 */
export function quantileOf(hist: ArrayLike<number>, q: number): number | undefined {
  let total = 0
  for (let i = 0; i < hist.length; i++) total += hist[i]!
  if (total === 0) return undefined
  const rank = Math.max(1, Math.ceil(q * total))
  let seen = 0
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i]!
    if (seen >= rank) return LATENCY_BOUNDS_MS[Math.min(i, LATENCY_BOUNDS_MS.length - 1)]!
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]
}

export interface RequestSample {
  /** Time to the response's headers, in ms. */
  latencyMs: number
  bytesIn: number
  bytesOut: number
  /** The response status: 5xx counts as an error. */
  status: number
}

/** One bucket of the series, oldest first; an idle bucket is all zeros with no percentiles. */
export interface SeriesPoint {
  /** Start of the bucket (epoch ms). */
  at: number
  requests: number
  errors: number
  bytesIn: number
  bytesOut: number
  p50?: number
  p99?: number
}

export interface Totals {
  requests: number
  errors: number
  bytesIn: number
  bytesOut: number
}

export class RequestMetrics {
  readonly options: RingOptions
  /** Which bucket number (time / bucketMs) each slot holds; -1 for none yet. */
  readonly #epoch: Float64Array
  readonly #requests: Float64Array
  readonly #errors: Float64Array
  readonly #bytesIn: Float64Array
  readonly #bytesOut: Float64Array
  readonly #hist: Uint32Array
  readonly #totals: Totals = { requests: 0, errors: 0, bytesIn: 0, bytesOut: 0 }

  constructor(options: RingOptions = RING_DEFAULTS) {
    if (!(options.bucketMs > 0 && Number.isInteger(options.buckets) && options.buckets > 0))
      throw new RangeError('bucketMs and buckets must be positive')
    this.options = options
    const n = options.buckets
    this.#epoch = new Float64Array(n).fill(-1)
    this.#requests = new Float64Array(n)
    this.#errors = new Float64Array(n)
    this.#bytesIn = new Float64Array(n)
    this.#bytesOut = new Float64Array(n)
    this.#hist = new Uint32Array(n * BINS)
  }

  /** The slot for time `now`, emptied first when it still holds an older bucket. */
  #slot(now: number): number {
    const epoch = Math.floor(now / this.options.bucketMs)
    const slot = epoch % this.options.buckets
    if (this.#epoch[slot] !== epoch) {
      this.#epoch[slot] = epoch
      this.#requests[slot] = 0
      this.#errors[slot] = 0
      this.#bytesIn[slot] = 0
      this.#bytesOut[slot] = 0
      this.#hist.fill(0, slot * BINS, (slot + 1) * BINS)
    }
    return slot
  }

  record(now: number, s: RequestSample): void {
    const slot = this.#slot(now)
    const bytesIn = Number.isFinite(s.bytesIn) && s.bytesIn > 0 ? s.bytesIn : 0
    const bytesOut = Number.isFinite(s.bytesOut) && s.bytesOut > 0 ? s.bytesOut : 0
    const error = s.status >= 500 ? 1 : 0
    this.#requests[slot]!++
    this.#errors[slot]! += error
    this.#bytesIn[slot]! += bytesIn
    this.#bytesOut[slot]! += bytesOut
    const bin = latencyBin(Math.max(0, s.latencyMs))
    // Saturates rather than wraps (4 billion requests in one bucket is not a real load).
    if (this.#hist[slot * BINS + bin]! < 0xffffffff) this.#hist[slot * BINS + bin]!++
    this.#totals.requests++
    this.#totals.errors += error
    this.#totals.bytesIn += bytesIn
    this.#totals.bytesOut += bytesOut
  }

  /** Every bucket of the history ending with the one holding `now`, oldest first. */
  series(now: number): SeriesPoint[] {
    const { bucketMs, buckets } = this.options
    const last = Math.floor(now / bucketMs)
    const out: SeriesPoint[] = []
    for (let epoch = last - buckets + 1; epoch <= last; epoch++) {
      const slot = ((epoch % buckets) + buckets) % buckets
      if (epoch < 0 || this.#epoch[slot] !== epoch) {
        out.push({ at: epoch * bucketMs, requests: 0, errors: 0, bytesIn: 0, bytesOut: 0 })
        continue
      }
      const hist = this.#hist.subarray(slot * BINS, (slot + 1) * BINS)
      out.push({
        at: epoch * bucketMs,
        requests: this.#requests[slot]!,
        errors: this.#errors[slot]!,
        bytesIn: this.#bytesIn[slot]!,
        bytesOut: this.#bytesOut[slot]!,
        p50: quantileOf(hist, 0.5),
        p99: quantileOf(hist, 0.99),
      })
    }
    return out
  }

  /** Counts since start (the Prometheus counters). */
  totals(): Totals {
    return { ...this.#totals }
  }
}
