/**
 * Domain errors of the metadata layer: they name what is missing, never an HTTP status; the
 * service maps them to S3 errors. Plain classes, no imports.
 */

/**
 * libSQL reads TEXT back only up to a NUL, so a key containing U+0000 would be listed as a
 * different key. The protocol layer should refuse such keys first (XML cannot carry them).
 */
export class UnstorableKeyError extends Error {
  constructor(readonly key: string) {
    super('object keys must not contain U+0000')
    this.name = 'UnstorableKeyError'
  }
}

export function assertStorableKey(key: string): void {
  if (key.includes('\u0000')) throw new UnstorableKeyError(key)
}

/**
 * A row read back does not have the shape this layer wrote (a damaged database, or a value
 * written by something else): an internal error, never the client's. Names the row, not secrets.
 */
export class CorruptRowError extends Error {
  override readonly name = 'CorruptRowError'
}

/**
 * The database could not grow: SQLITE_FULL ("database or disk is full"), from a full filesystem
 * under an embedded file or a sqld server's disk. The transaction was rolled back, nothing written.
 */
export function isDbFull(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c && depth < 4; c = (c as { cause?: unknown }).cause, depth++) {
    const { code, rawCode } = c as { code?: unknown; rawCode?: unknown }
    // 13 is SQLITE_FULL; extended codes keep it in the low byte.
    if (code === 'SQLITE_FULL' || (typeof rawCode === 'number' && (rawCode & 0xff) === 13)) return true
  }
  return false
}

/**
 * The metadata could not be reached or did not answer in time: sqld down, restarting or stalled
 * (connection refused or reset, the request timeout in db.ts, an HTTP 5xx from sqld), or the write
 * lock not had within the busy timeout. Nothing was acknowledged: the caller answers 503 and the
 * client retries; the next request opens a new connection, so a gateway recovers by itself.
 * Also a handle refused after a failed WAL sync (db.ts WalSyncError): 503 until a restart.
 */
export function isMetaUnavailable(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c && depth < 6; c = (c as { cause?: unknown }).cause, depth++) {
    const { name, code, message } = c as { name?: unknown; code?: unknown; message?: unknown }
    if (name === 'TimeoutError' || name === 'AbortError') return true
    if (name === 'WalSyncError') return true // db.ts: the handle is refused until a restart
    if (typeof code === 'string') {
      if (code.startsWith('SQLITE_BUSY')) return true
      if (/^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|UND_ERR_)/.test(code)) return true
      // An HTTP error status from sqld (the hrana client's HttpServerError): 5xx is the server's.
      if (code === 'SERVER_ERROR' && typeof message === 'string' && /HTTP status 5\d\d/.test(message)) return true
    }
    // undici: a connection that failed before any answer ("fetch failed", cause says why).
    if (name === 'TypeError' && message === 'fetch failed') return true
  }
  return false
}
