import { describe, expect, it, vi } from 'vitest'
import { type BodyLimits, guardBody } from './body-guard.ts'
import { S3Error } from './errors.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A client that sends `chunks` bytes of `size`, `gapMs` apart, then stalls (or ends). */
function client(o: { chunks: number; size?: number; gapMs: number; end?: boolean }): ReadableStream<Uint8Array> {
  let sent = 0
  return new ReadableStream<Uint8Array>(
    {
      async pull(c) {
        if (sent > 0) await sleep(o.gapMs)
        if (sent >= o.chunks) {
          if (o.end) c.close()
          else await new Promise(() => {}) // stalls for ever, as a client that stopped sending
          return
        }
        sent++
        c.enqueue(new Uint8Array(o.size ?? 1))
      },
    },
    { highWaterMark: 0 },
  )
}

/** Reads the guarded body to its end (or error); `pauseMs` between reads plays a slow consumer. */
async function drain(
  body: ReadableStream<Uint8Array>,
  limits: BodyLimits,
  pauseMs = 0,
): Promise<{ bytes: number; error?: S3Error; ms: number }> {
  const t0 = Date.now()
  const reader = guardBody(body, limits)!.getReader()
  let bytes = 0
  try {
    for (let i = 0; i < 100_000; i++) {
      const r = await reader.read()
      if (r.done) return { bytes, ms: Date.now() - t0 }
      bytes += r.value.length
      if (pauseMs) await sleep(pauseMs)
    }
    throw new Error('the body never ended')
  } catch (e) {
    if (!(e instanceof S3Error)) throw e
    return { bytes, error: e, ms: Date.now() - t0 }
  }
}

describe('guardBody', () => {
  it('ends a body that stops sending with RequestTimeout after the idle limit, not before', async () => {
    const r = await drain(client({ chunks: 3, gapMs: 10 }), { minRate: 0, idleMs: 300, maxMs: 0 })
    expect(r.error?.code).toBe('RequestTimeout')
    expect(r.error?.status).toBe(400)
    expect(r.bytes).toBe(3)
    expect(r.ms).toBeGreaterThanOrEqual(280)
    expect(r.ms).toBeLessThan(2000)
  })

  it('ends a drip that never stalls for the idle limit but stays under the minimum rate', async () => {
    // One byte every 40 ms (25 bytes/s) against 1,000 bytes/s: every gap is well inside the
    // 200 ms slack, but the slack drains by ~39 ms per byte.
    const drip = { chunks: 200, gapMs: 40, end: true }
    const r = await drain(client(drip), { minRate: 1000, idleMs: 200, maxMs: 0 })
    expect(r.error?.code).toBe('RequestTimeout')
    expect(r.error?.details.Reason).toMatch(/fell behind 1000 bytes\/s/)
    expect(r.ms).toBeLessThan(1500)
    // The same drip without a rate check runs to its end: the rate is what ended it above.
    const free = await drain(client({ ...drip, chunks: 15 }), { minRate: 0, idleMs: 200, maxMs: 0 })
    expect(free.error).toBeUndefined()
    expect(free.bytes).toBe(15)
  })

  it('lets a body at the minimum rate or above run to its end', async () => {
    // 64 bytes every 20 ms = 3,200 bytes/s against 1,000: never behind.
    const r = await drain(client({ chunks: 30, size: 64, gapMs: 20, end: true }), {
      minRate: 1000,
      idleMs: 100,
      maxMs: 0,
    })
    expect(r.error).toBeUndefined()
    expect(r.bytes).toBe(30 * 64)
  })

  it('does not count the time the server itself holds back (backpressure)', async () => {
    // The client has each chunk ready at once; the consumer waits 150 ms between reads, longer
    // than the 80 ms slack, and reads 1 byte at a time (below any rate over wall-clock time).
    const r = await drain(client({ chunks: 5, gapMs: 0, end: true }), { minRate: 1000, idleMs: 80, maxMs: 0 }, 150)
    expect(r.error).toBeUndefined()
    expect(r.bytes).toBe(5)
  })

  it('ends a body that takes longer than the whole-body limit, however fast it is', async () => {
    const r = await drain(client({ chunks: 10_000, size: 1024, gapMs: 5, end: true }), {
      minRate: 1000,
      idleMs: 1000,
      maxMs: 250,
    })
    expect(r.error?.code).toBe('RequestTimeout')
    expect(r.error?.details.Reason).toMatch(/whole body took longer than 250 ms/)
    expect(r.ms).toBeGreaterThanOrEqual(230)
    expect(r.ms).toBeLessThan(2000)
  })

  it('turns a body that fails to read (the client went away) into IncompleteBody', async () => {
    let n = 0
    const broken = new ReadableStream<Uint8Array>({
      pull(c) {
        if (n++ === 0) c.enqueue(new Uint8Array(4))
        else c.error(new Error('socket hang up'))
      },
    })
    const r = await drain(broken, { minRate: 1000, idleMs: 1000, maxMs: 0 })
    expect(r.error?.code).toBe('IncompleteBody')
    expect(r.bytes).toBe(4)
  })

  it('arms one timer for a body that keeps pace, not one per chunk, and leaves none behind', async () => {
    const set = vi.spyOn(globalThis, 'setTimeout')
    const clear = vi.spyOn(globalThis, 'clearTimeout')
    try {
      const chunks = 2000
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          c.enqueue(new Uint8Array(16))
          if (c.desiredSize !== null && set.mock.calls.length > 10) c.close() // runaway guard
        },
      })
      const reader = guardBody(body, { minRate: 1000, idleMs: 500, maxMs: 60_000 })!.getReader()
      for (let i = 0; i < chunks; i++) expect((await reader.read()).done).toBe(false)
      const armed = set.mock.results.length
      expect(armed).toBeLessThanOrEqual(2)
      await reader.cancel()
      // Every timer the guard armed is cleared once the body is done with.
      const ids = set.mock.results.map((r) => r.value)
      for (const id of ids) expect(clear.mock.calls.some(([c]) => c === id)).toBe(true)
    } finally {
      set.mockRestore()
      clear.mockRestore()
    }
  })

  it('ends a stall at the slack a drip has left, with the timer armed at the first read', async () => {
    // The first read arms the timer at the full 600 ms; a drip (1 byte per 80 ms against 1000
    // bytes/s) spends the slack, so the stall after it ends ~600 ms after the first read, not
    // 600 ms after the stall began (~920 ms).
    const r = await drain(client({ chunks: 5, gapMs: 80 }), { minRate: 1000, idleMs: 600, maxMs: 0 })
    expect(r.error?.code).toBe('RequestTimeout')
    expect(r.bytes).toBeGreaterThanOrEqual(1)
    expect(r.ms).toBeGreaterThanOrEqual(580)
    expect(r.ms).toBeLessThan(820)
  })

  it('passes no body through as none', () => {
    expect(guardBody(null, { minRate: 1, idleMs: 1, maxMs: 1 })).toBeNull()
  })
})
