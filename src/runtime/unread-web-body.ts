/**
 * Bun: refusing a request whose body was not read, so that every client hears the S3 error.
 *
 * Bun.serve (uWebSockets) answers `Expect: 100-continue` with `100 Continue` itself, before it
 * calls the handler, and offers no hook to hold it back (Node's 'checkContinue'). So a client
 * told to send its body is already sending it when Coffer refuses (missing bucket, wrong
 * signature, bad SSE-C key): answered at once with `Connection: close`, the socket closed under
 * the body and curl reported "Send failure: Broken pipe" (Node clients EPIPE) instead of the error.
 * The remedy is Node's second one (src/runtime/unread-body.ts): read and drop the rest of the body
 * first, within the same bounds, then answer — and keep the connection when the body ended.
 */
import { REFUSAL_DRAIN_BYTES, REFUSAL_DRAIN_MIN_RATE, REFUSAL_DRAIN_MS } from './unread-body.ts'

const RATE_GRACE_MS = 1000

const declaresBody = (req: Request): boolean => {
  const length = req.headers.get('content-length')
  return req.headers.has('transfer-encoding') || (length !== null && length !== '0')
}

/**
 * Called with the application's answer before the runtime writes it. When the application left
 * the request body untouched, reads and drops it (bounded); returns the answer to send, without
 * `Connection: close` when the body was read to its end. A body the application began reading
 * is its own (its stream is locked): the answer goes as it is.
 */
export async function settleUnreadWebBody(req: Request, res: Response): Promise<Response> {
  const body = req.body
  if (!declaresBody(req) || body === null || req.bodyUsed || body.locked) return res
  const ended = await drain(body)
  if (ended && res.headers.get('connection') === 'close') res.headers.delete('connection')
  return res
}

/** Reads and drops `body`; true when it ended within REFUSAL_DRAIN_BYTES, _MS and _MIN_RATE. */
async function drain(body: ReadableStream<Uint8Array>): Promise<boolean> {
  const reader = body.getReader()
  const started = Date.now()
  let bytes = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const stop = new Promise<'stop'>((resolve) => {
    // Checked every 100 ms: the deadline, and a body too slow to wait for after a short grace.
    const check = () => {
      const ms = Date.now() - started
      if (ms >= REFUSAL_DRAIN_MS || (ms > RATE_GRACE_MS && bytes < (REFUSAL_DRAIN_MIN_RATE * ms) / 1000))
        resolve('stop')
      else timer = setTimeout(check, 100)
    }
    timer = setTimeout(check, 100)
  })
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), stop])
      if (next === 'stop') return false
      if (next.done) return true
      bytes += next.value.byteLength
      if (bytes > REFUSAL_DRAIN_BYTES) return false
    }
  } catch {
    return false // the client went away: nothing left to drain
  } finally {
    clearTimeout(timer)
    reader.cancel().catch(() => {})
  }
}
