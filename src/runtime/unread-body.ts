/**
 * Node: refusing a request whose body was not read, so that every client hears the S3 error.
 *
 * Node answers `Expect: 100-continue` with `100 Continue` as soon as the headers arrive, unless the
 * server handles 'checkContinue'. Coffer then refused (missing bucket, wrong signature, bad SSE-C
 * key), answered with `Connection: close` and closed the socket under a body the client had been
 * told to send: the unread bytes made the kernel reset the connection, and botocore (boto3, the AWS
 * CLI) reported SSLEOFError instead of the error. So:
 *  1. `100 Continue` goes out only when the application starts reading the body (`deferContinue`):
 *     a refusal decided before that reaches a client that still holds its body, and closing is clean.
 *  2. A refusal of a body that is already coming (no `Expect`, or a refusal after reading began) is
 *     answered after reading and dropping what follows (`settleUnreadBody`), bounded in bytes, time
 *     and rate; a body drained to its end keeps the connection, one cut off closes it as before.
 *  3. Whenever the connection does close after such an answer, it lingers: answer and FIN first,
 *     then what the client still sends is read (bounded) before the socket is closed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

/** The most of a refused body read and dropped before answering; a larger one is cut off. */
export const REFUSAL_DRAIN_BYTES = 16 * 1024 * 1024
/** The longest a refusal waits for the rest of a body. */
export const REFUSAL_DRAIN_MS = 10_000
/**
 * After a short grace, a body arriving slower than this is not waited for: a stalled or dripping
 * client (RequestTimeout) hears its answer at once, not after REFUSAL_DRAIN_MS.
 */
export const REFUSAL_DRAIN_MIN_RATE = 256 * 1024
const RATE_GRACE_MS = 1000

/** Requests whose `100 Continue` has been sent (or that never asked for one). */
const continued = new WeakSet<IncomingMessage>()

/** For Node's 'checkContinue': sends `100 Continue` when the body is first read, not before. */
export function deferContinue(req: IncomingMessage, res: ServerResponse): void {
  const stream = req as IncomingMessage & { _read(n: number): void }
  const read = stream._read
  stream._read = function (this: IncomingMessage, n: number) {
    stream._read = read
    // Never after the answer has started: a 1xx after the final status is a protocol error. Node
    // reads (and drops) an unread body itself once the answer is sent.
    if (!res.headersSent) {
      res.writeContinue()
      continued.add(req)
    }
    return read.call(this, n)
  }
}

/** The request says a body follows (a zero Content-Length is none). */
export const declaresBody = (req: IncomingMessage): boolean =>
  req.headers['transfer-encoding'] !== undefined ||
  (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0')

const expectsContinue = (req: IncomingMessage): boolean => (req.headers.expect ?? '').toLowerCase() === '100-continue'

/**
 * Called with the application's answer before Node writes it. When the request body is still
 * unread and the client is sending it, reads and drops it (bounded); returns the answer to send,
 * without `Connection: close` when the body was read to its end.
 */
export async function settleUnreadBody(req: IncomingMessage, res: Response): Promise<Response> {
  if (req.complete || req.destroyed || !declaresBody(req)) return res
  // The client waits for `100 Continue` and holds its body: it hears the answer at once. A client
  // whose wait ran out (botocore and the JS SDK send after 1 s) may be sending anyway: the
  // connection closes only after what it still sends is read (lingerOnClose).
  if (expectsContinue(req) && !continued.has(req)) {
    lingerOnClose(req)
    return res
  }
  const ended = await drain(req)
  if (ended && res.headers.get('connection') === 'close') res.headers.delete('connection')
  else lingerOnClose(req)
  return res
}

/**
 * When Node closes this connection after the answer, it first sends the answer and a FIN, then
 * keeps reading (and dropping) what the client still sends — until the client closes its side,
 * REFUSAL_DRAIN_BYTES more arrive, or REFUSAL_DRAIN_MS pass — and only then closes: closing with
 * unread bytes makes the kernel reset the connection, and the client may lose the answer.
 */
function lingerOnClose(req: IncomingMessage): void {
  const socket = req.socket as IncomingMessage['socket'] & { destroySoon?: () => void }
  if (typeof socket.destroySoon !== 'function') return
  let lingering = false
  socket.destroySoon = () => {
    if (lingering) return
    lingering = true
    socket.end()
    let bytes = 0
    const close = () => {
      clearTimeout(timer)
      socket.destroy()
    }
    const timer = setTimeout(close, REFUSAL_DRAIN_MS)
    // Node's parser reads the socket and hands the body to `req`, which it drops after the answer.
    req.on('data', (chunk: Uint8Array) => {
      bytes += chunk.byteLength
      if (bytes > REFUSAL_DRAIN_BYTES) close()
    })
    req.resume()
    socket.once('end', close)
    socket.once('close', () => clearTimeout(timer))
  }
}

/** Reads and drops the rest of `req`'s body; true when it ended within the bounds. */
function drain(req: IncomingMessage): Promise<boolean> {
  return new Promise((resolve) => {
    const started = Date.now()
    let bytes = 0
    const finish = (ended: boolean) => {
      clearTimeout(deadline)
      clearInterval(pace)
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onStop)
      req.off('close', onStop)
      if (!ended) req.pause()
      resolve(ended)
    }
    const onData = (chunk: Uint8Array) => {
      bytes += chunk.byteLength
      if (bytes > REFUSAL_DRAIN_BYTES) finish(false)
    }
    const onEnd = () => finish(true)
    const onStop = () => finish(false)
    const deadline = setTimeout(onStop, REFUSAL_DRAIN_MS)
    const pace = setInterval(() => {
      const ms = Date.now() - started
      if (ms > RATE_GRACE_MS && bytes < (REFUSAL_DRAIN_MIN_RATE * ms) / 1000) finish(false)
    }, 100)
    // The application's own body stream (if it started one) is abandoned with its answer: only
    // this reader may take the bytes now, or a paused web stream would hold them back.
    req.removeAllListeners('data')
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', onStop)
    req.once('close', onStop)
    req.resume()
  })
}
