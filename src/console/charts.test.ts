import { describe, expect, it } from 'vitest'
import { RequestMetrics } from '../util/request-metrics.ts'
import { LineChart, niceCeiling, polylines, RequestCharts } from './charts.tsx'

describe('chart geometry', () => {
  it('rounds an axis top up to 1, 2 or 5 × 10^k', () => {
    expect(niceCeiling(0)).toBe(1)
    expect(niceCeiling(Number.NaN)).toBe(1)
    expect(niceCeiling(0.3)).toBe(0.5)
    expect(niceCeiling(1)).toBe(1)
    expect(niceCeiling(1.01)).toBe(2)
    expect(niceCeiling(3)).toBe(5)
    expect(niceCeiling(700)).toBe(1000)
  })

  it('scales values to the drawing area and breaks the line where a value is missing', () => {
    const lines = polylines([0, 10, undefined, 5, 5], 10, 400, 100)
    expect(lines).toHaveLength(2)
    // x from the left margin (96) in steps of 100; y 0 at the bottom (12 + 100), max at the top (12).
    expect(lines[0]).toBe('96,112 196,12')
    expect(lines[1]).toBe('396,62 496,62')
    expect(polylines([1, 1, 1, 1, 2], 2, 400, 100)).toEqual(['96,62 396,62 496,12'])
    // A lone point still shows; values above the axis are clipped to it.
    expect(polylines([undefined, 50], 10, 100, 100)).toEqual(['196,12 198,12'])
    expect(polylines([undefined, undefined], 10)).toEqual([])
  })
})

describe('charts as SVG', () => {
  it('renders a labelled image with one polyline group per series, no inline style or script', () => {
    const html = String(
      LineChart({
        id: 'c',
        title: 'Rate',
        format: (n) => `${n}/s`,
        lines: [
          { label: 'a', values: [0, 1, 2] },
          { label: 'b', values: [undefined, undefined, undefined] },
        ],
      }),
    )
    expect(html).toContain('role="img"')
    expect(html).toContain('viewBox="0 0 ')
    expect(html).toContain('<title id="c-t">Rate, last 1 minutes</title>')
    expect(html).toContain('a: latest 2/s, peak 2/s; b: latest none')
    expect([...html.matchAll(/<polyline /g)]).toHaveLength(1)
    expect(html).not.toMatch(/\sstyle=|<script|<style/)
  })

  it('draws the ring: requests recorded show as non-zero rate, throughput and latency', () => {
    const m = new RequestMetrics()
    const now = Date.now()
    for (let i = 0; i < 20; i++) m.record(now, { latencyMs: 4, bytesIn: 1000, bytesOut: 0, status: 200 })
    const html = String(RequestCharts({ series: m.series(now), bucketMs: m.options.bucketMs }))
    expect(html).toContain('<span id="requests-last-hour">20</span>')
    expect(html).toContain('requests: latest 2/s, peak 2/s')
    expect(html).toContain('in: latest 2.0 KiB/s')
    // An idle hour then one busy bucket: the flat run is drawn from its two ends.
    expect(html).toMatch(/<polyline points="96,162 694\.3,162 696,12"/)
    expect(html).toMatch(/p50: latest 4\.\d ms/)
  })
})
