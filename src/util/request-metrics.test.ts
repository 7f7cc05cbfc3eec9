import { describe, expect, it } from 'vitest'
import { LATENCY_BOUNDS_MS, latencyBin, quantileOf, RequestMetrics } from './request-metrics.ts'

const sample = (latencyMs: number, extra: Partial<{ bytesIn: number; bytesOut: number; status: number }> = {}) => ({
  latencyMs,
  bytesIn: 0,
  bytesOut: 0,
  status: 200,
  ...extra,
})

describe('latency histogram', () => {
  it('puts a latency in the first bin whose bound it does not exceed; the last bin takes the rest', () => {
    expect(latencyBin(0)).toBe(0)
    expect(latencyBin(0.1)).toBe(0)
    expect(latencyBin(0.11)).toBe(1)
    const b = latencyBin(10)
    expect(LATENCY_BOUNDS_MS[b]!).toBeGreaterThanOrEqual(10)
    expect(LATENCY_BOUNDS_MS[b - 1]!).toBeLessThan(10)
    expect(latencyBin(1e9)).toBe(LATENCY_BOUNDS_MS.length)
  })

  it('reads a quantile within 25 % above the true value, and nothing from an empty histogram', () => {
    const hist = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0)
    expect(quantileOf(hist, 0.5)).toBeUndefined()
    // 98 requests at 2 ms, 2 at 400 ms: p50 near 2, p99 near 400.
    for (let i = 0; i < 98; i++) hist[latencyBin(2)]!++
    hist[latencyBin(400)]! += 2
    const p50 = quantileOf(hist, 0.5)!
    const p99 = quantileOf(hist, 0.99)!
    expect(p50).toBeGreaterThanOrEqual(2)
    expect(p50).toBeLessThanOrEqual(2.5)
    expect(p99).toBeGreaterThanOrEqual(400)
    expect(p99).toBeLessThanOrEqual(500)
  })
})

describe('RequestMetrics ring', () => {
  const opts = { bucketMs: 10_000, buckets: 6 }

  it('sums requests, errors and bytes per bucket, oldest first, with percentiles', () => {
    const m = new RequestMetrics(opts)
    const t0 = 1_000_000
    m.record(t0, sample(1, { bytesIn: 100, status: 200 }))
    m.record(t0 + 1, sample(3, { bytesOut: 50, status: 503 }))
    m.record(t0 + 10_000, sample(7, { bytesIn: 10 }))
    const s = m.series(t0 + 10_000)
    expect(s).toHaveLength(6)
    expect(s[5]!.at).toBe(Math.floor((t0 + 10_000) / 10_000) * 10_000)
    expect(s[4]).toMatchObject({ requests: 2, errors: 1, bytesIn: 100, bytesOut: 50 })
    expect(s[4]!.p50).toBeGreaterThanOrEqual(1)
    expect(s[4]!.p99).toBeGreaterThanOrEqual(3)
    expect(s[5]).toMatchObject({ requests: 1, errors: 0, bytesIn: 10, bytesOut: 0 })
    expect(s[0]).toEqual({ at: s[0]!.at, requests: 0, errors: 0, bytesIn: 0, bytesOut: 0 })
    expect(m.totals()).toEqual({ requests: 3, errors: 1, bytesIn: 110, bytesOut: 50 })
  })

  it('forgets what is older than its history, and reuses a slot only after emptying it', () => {
    const m = new RequestMetrics(opts)
    m.record(0, sample(1))
    m.record(5_000, sample(1))
    // Six buckets later the same slot holds a new bucket: the old two requests are gone.
    m.record(60_000, sample(1))
    const s = m.series(60_000)
    expect(s.reduce((n, p) => n + p.requests, 0)).toBe(1)
    // Read long after: nothing left in the window, though the slots still hold old buckets.
    expect(m.series(10 * 60_000).every((p) => p.requests === 0 && p.p50 === undefined)).toBe(true)
    // The totals are counters: they keep everything.
    expect(m.totals().requests).toBe(3)
  })

  it('ignores negative or non-finite byte counts (an unknown length)', () => {
    const m = new RequestMetrics(opts)
    m.record(0, sample(-5, { bytesIn: Number.NaN, bytesOut: -1 }))
    expect(m.series(0)[5]).toMatchObject({ requests: 1, bytesIn: 0, bytesOut: 0 })
    expect(m.series(0)[5]!.p50).toBe(LATENCY_BOUNDS_MS[0])
  })

  it('refuses a shape that could not hold anything', () => {
    expect(() => new RequestMetrics({ bucketMs: 0, buckets: 6 })).toThrow(RangeError)
    expect(() => new RequestMetrics({ bucketMs: 10, buckets: 0 })).toThrow(RangeError)
  })
})
