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

  const timeout = (why: string) =>
    new S3Error('RequestTimeout', TIMEOUT_MESSAGE, { Reason: why, Received: `${received}` })

  /** The next chunk, or a RequestTimeout once the slack (or the whole-body deadline) runs out. */
  function next(): Promise<ReadableStreamReadResult<Uint8Array>> {
    const start = now()
    deadline ??= limits.maxMs > 0 ? start + limits.maxMs : Number.POSITIVE_INFINITY
    const left = deadline - start
    if (left <= 0) return Promise.reject(timeout(`the whole body took longer than ${limits.maxMs} ms`))
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<never>((_, reject) => {
      const ms = Math.min(slack, left)
      timer = setTimeout(
        () =>
          reject(
            ms === left
              ? timeout(`the whole body took longer than ${limits.maxMs} ms`)
              : timeout(`the body fell behind ${limits.minRate} bytes/s by more than ${limits.idleMs} ms`),
          ),
        ms,
      )
    })
    return Promise.race([reader.read(), late]).then(
      (r) => {
        clearTimeout(timer)
        const waited = now() - start
        const bytes = r.done ? 0 : r.value.length
        received += bytes
        const earned = limits.minRate > 0 ? (bytes * 1000) / limits.minRate : Number.POSITIVE_INFINITY
        slack = Math.min(limits.idleMs, slack - waited + earned)
        return r
      },
      (e: unknown) => {
        clearTimeout(timer)
        throw e
      },
    )
  }

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await next()
          if (done) controller.close()
          else controller.enqueue(value)
        } catch (e) {
          if (isS3Error(e) && e.code === 'RequestTimeout') {
            // Stop reading; the handler answers and the runtime closes the connection after.
            reader.cancel(e).catch(() => {})
            controller.error(e)
          } else controller.error(isS3Error(e) ? e : new S3Error('IncompleteBody'))
        }
      },
      cancel(reason) {
        return reader.cancel(reason)
      },
    },
    // Nothing is read ahead: the clock runs only while the consumer waits for the client.
    { highWaterMark: 0 },
  )
}
