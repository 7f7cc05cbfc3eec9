/**
 * Time limits on request bodies, policed on the body stream with Web APIs only (no socket code):
 * a minimum average rate with bounded slack, and a limit on the whole body. Failures are S3 errors.
 */
import { isS3Error, S3Error } from './errors.ts'

export interface BodyLimits {
  /**
   * Bytes per second a body must keep up on average; 0 turns the rate check off (the idle limit
   * still holds). Only time spent waiting for the client counts, never our own backpressure.
   */
  minRate: number
  /**
   * How far (ms) a body may fall behind `minRate`: a body starts with this much slack, each byte
   * earns 1/minRate s of it back (never more than this), and waiting for the client spends it.
   * So a body that stalls for this long ends, and one at half the rate ends after twice this.
   */
  idleMs: number
  /** The whole body, ms from the first read to the last byte (our backpressure included); 0: none. */
  maxMs: number
}

/**
 * 1 KiB/s: far below any working link (a 3G phone does 50 KiB/s or more), well above a drip.
 * 20 s of slack: a client pausing for a GC or a retransmit goes on; the runtime's own idle
 * limit (120 s, src/runtime) is far off, so the client hears RequestTimeout, not a silent close.
 * An hour for the whole body: 5 GiB (S3's largest PUT) at 1.5 MB/s; larger or slower uploads
 * are what multipart uploads are for (every SDK switches to them well below that size).
 */
export const DEFAULT_BODY_LIMITS: BodyLimits = { minRate: 1024, idleMs: 20_000, maxMs: 3_600_000 }

/** AWS's text for this error; the timings say which limit ended the body. */
const TIMEOUT_MESSAGE =
  'Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.'

/**
 * `body` policed by `limits`: a body that falls too far behind, or takes too long in all, errors
 * with RequestTimeout (the write it feeds aborts, nothing is committed); a body that fails to
 * read (the client went away) errors with IncompleteBody. `now` is for tests.
 */
export function guardBody(
  body: ReadableStream<Uint8Array> | null,
  limits: BodyLimits,
  now: () => number = Date.now,
): ReadableStream<Uint8Array> | null {
  if (!body) return body
  const reader = body.getReader()
  let slack = limits.idleMs
  let deadline: number | undefined
  let received = 0
  // The wait for the client in progress: when it began, when it runs out, and which limit that is.
  let waiting = false
  let waitDue = 0
  let waitWhole = false
  /** Closed, errored or cancelled: nothing more happens. */
  let ended = false
  let stream!: ReadableStreamDefaultController<Uint8Array>

  // One timer per body, not one per read: a body arrives in 16 KiB pieces, and a setTimeout,
  // clearTimeout and Promise.race for each cost the request thread more than reading the piece
  // (docs/architecture.md §8, "Big PUTs: the request thread's per-chunk work"). The timer is
  // armed for the current wait's end at the latest and, when it fires, checks the wait then in
  // progress: it ends the body, re-arms for that wait's end, or (no wait) lapses until the next.
  let timer: ReturnType<typeof setTimeout> | undefined
  let timerAt = Number.POSITIVE_INFINITY

  const timeout = (why: string) =>
    new S3Error('RequestTimeout', TIMEOUT_MESSAGE, { Reason: why, Received: `${received}` })
  const wholeBody = () => timeout(`the whole body took longer than ${limits.maxMs} ms`)

  const disarm = () => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    timerAt = Number.POSITIVE_INFINITY
  }
  const arm = (at: number) => {
    if (timer !== undefined && timerAt <= at) return
    disarm()
    timerAt = at
    timer = setTimeout(check, Math.max(0, at - now()))
  }
  /** Ends the body with `e`: stop reading (the handler answers; the runtime closes the connection after). */
  const fail = (e: S3Error) => {
    ended = true
    disarm()
    reader.cancel(e).catch(() => {})
    stream.error(e)
  }
  function check(): void {
    timer = undefined
    timerAt = Number.POSITIVE_INFINITY
    if (ended || !waiting) return
    if (now() < waitDue) {
      arm(waitDue)
      return
    }
    fail(
      waitWhole
        ? wholeBody()
        : timeout(`the body fell behind ${limits.minRate} bytes/s by more than ${limits.idleMs} ms`),
    )
  }

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        stream = controller
      },
      async pull(controller) {
        if (ended) return
        const start = now()
        deadline ??= limits.maxMs > 0 ? start + limits.maxMs : Number.POSITIVE_INFINITY
        const left = deadline - start
        if (left <= 0) {
          fail(wholeBody())
          return
        }
        const ms = Math.min(slack, left)
        waiting = true
        waitDue = start + ms
        waitWhole = ms === left
        arm(waitDue)
        let r: ReadableStreamReadResult<Uint8Array>
        try {
          r = await reader.read()
        } catch (e) {
          waiting = false
          if (ended) return
          ended = true
          disarm()
          controller.error(isS3Error(e) ? e : new S3Error('IncompleteBody'))
          return
        }
        waiting = false
        if (ended) return // timed out while waiting: the stream has its error already
        const waited = now() - start
        const bytes = r.done ? 0 : r.value.length
        received += bytes
        const earned = limits.minRate > 0 ? (bytes * 1000) / limits.minRate : Number.POSITIVE_INFINITY
        slack = Math.min(limits.idleMs, slack - waited + earned)
        if (r.done) {
          ended = true
          disarm()
          controller.close()
        } else controller.enqueue(r.value)
      },
      cancel(reason) {
        ended = true
        disarm()
        return reader.cancel(reason)
      },
    },
    // Nothing is read ahead: the clock runs only while the consumer waits for the client.
    { highWaterMark: 0 },
  )
}
