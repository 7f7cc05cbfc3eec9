/**
 * RemoteStore: a ShardStore over a storage node's API (protocol.ts), reached through a ClusterFetch
 * (whose mutual TLS is what authenticates the gateway to the node). Streams both ways with idle timeouts, maps 404 → ShardNotFound and every
 * transport failure, timeout or 5xx → RemoteStoreError ("store unavailable" to the engine); a node
 * that did not answer is skipped for a short back-off (backoff.ts).
 */
import { fromUtf8 } from '../../util/bytes.ts'
import { readAll } from '../../util/streams.ts'
import { isShardName } from '../disk-store.ts'
import { ShardNotFound, type ShardStore, type SpaceReport, StoreFull } from '../shard-store.ts'
import { DOWN_BACKOFF_MS, NodeBackoff } from './backoff.ts'
import { IdleTimer } from './idle-timer.ts'
import { DEFAULT_LIST_PAGE, HEALTH_PATH, LIST_PATH, SHARDS_PATH, STAT_PATH, type ClusterFetch } from './protocol.ts'

export type { ClusterFetch } from './protocol.ts'

export interface RemoteStoreOptions {
  /** The node's base URL, `https://host:port`. */
  url: string
  fetch: ClusterFetch
  /** A node that sends or takes no bytes (or gives no answer) for this long is treated as down. */
  timeoutMs: number
  /** Store id for placement (default: the URL without a trailing slash). */
  id?: string
  listPageSize?: number
  /** How long a health answer is reused (default HEALTH_TTL_MS). */
  healthTtlMs?: number
  /**
   * After the node did not answer (no connection, reset, timeout), data requests fail at once for
   * this long, then one tries again (default DOWN_BACKOFF_MS; 0: always try). healthy() always probes.
   */
  downBackoffMs?: number
}

/** healthy() may run per request: one probe a second per node is plenty and cheap. */
export const HEALTH_TTL_MS = 1000
/** Error bodies are short JSON; never read more of one than this. */
const ERROR_BODY_LIMIT = 4096

/** The node could not be used: network error, timeout, 5xx or a refused request. */
export class RemoteStoreError extends Error {
  constructor(
    readonly store: string,
    message: string,
    /** The HTTP status when the node answered. */
    readonly status?: number,
  ) {
    super(message)
    this.name = 'RemoteStoreError'
  }
}

/**
 * Reads a short answer's body (a 404's JSON) to its end, so the connection goes back to the pool:
 * cancelling it instead closes the socket, and the next request pays a new mutual-TLS handshake.
 * A body longer than ERROR_BODY_LIMIT is cancelled (that connection is dropped). Never throws.
 */
async function discard(res: Response): Promise<void> {
  if (res.body) await readAll(res.body, ERROR_BODY_LIMIT).catch(() => {})
}

/** Not sent: the node did not answer a moment ago and its back-off has not run out. */
export class NodeSkipped extends RemoteStoreError {}

function checkName(name: string): void {
  if (!isShardName(name))
    throw new TypeError(`invalid shard name ${JSON.stringify(name)}: use [A-Za-z0-9._-], not starting with '.'`)
}

export function createRemoteStore(opts: RemoteStoreOptions): ShardStore {
  const base = opts.url.replace(/\/+$/, '')
  const id = opts.id ?? base
  const { timeoutMs, fetch } = opts
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`)
  const pageSize = opts.listPageSize ?? DEFAULT_LIST_PAGE
  const healthTtl = opts.healthTtlMs ?? HEALTH_TTL_MS
  const backoffMs = opts.downBackoffMs ?? DOWN_BACKOFF_MS
  // A trial holds the others back until it has an outcome, but never longer than one back-off:
  // a PUT trial answers only at its end, and a long upload must not keep the node skipped.
  const backoff = new NodeBackoff(backoffMs, Math.min(timeoutMs, backoffMs || timeoutMs))

  /** Throws at once while the node is known down: the engine turns to parity without waiting. */
  const admit = (what: string): void => {
    const why = backoff.refusal()
    if (why !== undefined) throw new NodeSkipped(id, `${what} on ${id} ${why}`)
  }
  /** Records a request that got no answer from the node (not one the caller or its body ended). */
  const noAnswer = (e: unknown, timer: IdleTimer): void => {
    const cause = timer.timedOut ? timer.controller.signal.reason : e
    backoff.failed(cause instanceof Error ? cause.message : String(cause))
  }

  const unavailable = (what: string, e: unknown, timer?: IdleTimer): RemoteStoreError => {
    if (e instanceof RemoteStoreError) return e
    const cause = timer?.timedOut ? timer.controller.signal.reason : e
    return new RemoteStoreError(
      id,
      `${what} on ${id} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
    )
  }

  /** Turns a non-success answer into the error the engine expects. */
  async function failure(res: Response, what: string): Promise<RemoteStoreError> {
    let detail = ''
    try {
      const text = res.body ? fromUtf8(await readAll(res.body, ERROR_BODY_LIMIT)) : ''
      detail = (JSON.parse(text) as { message?: string }).message ?? text
    } catch {
      // unreadable or not JSON: the status says enough
    }
    return new RemoteStoreError(id, `${what} on ${id}: HTTP ${res.status}${detail ? ` (${detail})` : ''}`, res.status)
  }

  /** A request without a body. */
  const request = (method: string, target: string, signal: AbortSignal): Request =>
    new Request(base + target, { method, signal })

  /**
   * A small request (no body) answered with JSON or nothing; the timeout covers all of it. A
   * `probe` (the health check) goes to the node even while it is marked down: it is how it comes back.
   */
  async function small<T>(
    method: string,
    target: string,
    what: string,
    onStatus: (res: Response) => Promise<T | undefined>,
    probe = false,
  ): Promise<T> {
    if (!probe) admit(what)
    const timer = new IdleTimer(timeoutMs, `${what} on ${id}`)
    timer.run()
    let res: Response | undefined
    try {
      try {
        res = await timer.race(fetch(request(method, target, timer.controller.signal)))
        backoff.answered()
      } catch (e) {
        noAnswer(e, timer)
        throw e
      }
      const handled = await onStatus(res)
      if (handled !== undefined) return handled
      throw await failure(res, what)
    } catch (e) {
      throw unavailable(what, e, timer)
    } finally {
      timer.stop()
    }
  }

  async function put(name: string, body: ReadableStream<Uint8Array>): Promise<void> {
    checkName(name)
    const what = `PUT ${name}`
    try {
      admit(what)
    } catch (e) {
      await body.cancel(e).catch(() => {}) // as after any failed put: the producer stops
      throw e
    }
    const target = `${SHARDS_PATH}/${name}`
    const timer = new IdleTimer(timeoutMs, `${what} on ${id}`)
    let bodyError: { e: unknown } | undefined
    // The clock runs only while a chunk waits for the node to take it, or for the final answer.
    const framed = timedBody(body, {
      waiting: timer.pause,
      sent: timer.run,
      sourceError: (e) => (bodyError = { e }),
    })
    // duplex is required by fetch for a streamed body (not yet in TypeScript's RequestInit).
    const req = new Request(base + target, {
      method: 'PUT',
      body: framed.stream,
      duplex: 'half',
      signal: timer.controller.signal,
    } as RequestInit)
    timer.run()
    let answered = false
    try {
      const res = await timer.race(fetch(req))
      answered = true
      backoff.answered()
      if (res.status === 204 || res.status === 200) {
        await res.body?.cancel().catch(() => {})
        if (bodyError) throw bodyError.e // the node must have refused it; the body's error is the news
        return
      }
      // The node's drive is full: this shard failed for lack of space (the node itself is fine).
      if (res.status === 507 && !bodyError) throw new StoreFull(id, (await failure(res, what)).message)
      throw await failure(res, what)
    } catch (e) {
      // The node's fault only when it gave no answer and our own body did not end the upload.
      if (!answered && !bodyError) noAnswer(e, timer)
      framed.abort(e)
      if (!timer.timedOut) timer.controller.abort(e) // cut an upload still in flight
      // Callers tell their own body's failure by identity, as with DiskStore.
      if (bodyError) throw bodyError.e
      if (e instanceof StoreFull) throw e
      throw unavailable(what, e, timer)
    } finally {
      timer.stop()
    }
  }

  function get(name: string, offset: number, length: number, unit?: number): ReadableStream<Uint8Array> {
    checkName(name)
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(`invalid shard range offset=${offset} length=${length}`)
    }
    const what = `GET ${name} [${offset}, ${offset + length})`
    const timer = new IdleTimer(timeoutMs, `${what} on ${id}`)
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
    let remaining = length
    let cancelled = false
    const close = (reason?: unknown) => {
      timer.stop()
      const r = reader
      reader = undefined
      r?.cancel(reason).catch(() => {})
    }

    async function open(): Promise<ReadableStreamDefaultReader<Uint8Array> | undefined> {
      admit(what)
      const res = await timer.race(
        fetch(
          request('GET', `${SHARDS_PATH}/${name}?offset=${offset}&length=${length}`, timer.controller.signal),
          unit === undefined ? undefined : { unit },
        ),
      )
      backoff.answered()
      if (res.status === 404) {
        await discard(res)
        throw new ShardNotFound(id, name)
      }
      if (res.status === 416) throw new RangeError(`${what} on ${id}: ${(await failure(res, what)).message}`)
      if (res.status !== 200) throw await failure(res, what)
      const r = res.body?.getReader()
      // On timeout, end a read the transport may leave pending (racing every read against one
      // long-lived promise instead would keep every chunk reachable until the stream ends).
      timer.controller.signal.addEventListener(
        'abort',
        () => r?.cancel(timer.controller.signal.reason).catch(() => {}),
        { once: true },
      )
      return r
    }

    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          timer.run()
          try {
            if (!reader) {
              reader = await open()
              // Cancelled while the answer was on its way: cancel() found no body to cancel.
              if (cancelled) return close()
              if (!reader) {
                if (length !== 0) throw new RemoteStoreError(id, `${what} on ${id}: empty response`)
                close()
                return controller.close()
              }
            }
            const r = await reader.read()
            if (timer.timedOut) throw timer.controller.signal.reason
            timer.pause() // the consumer's pace is not the node's fault
            if (r.done) {
              if (remaining !== 0)
                throw new RemoteStoreError(id, `${what} on ${id}: body ended ${remaining} bytes short`)
              close()
              return controller.close()
            }
            if (r.value.length > remaining)
              throw new RemoteStoreError(id, `${what} on ${id}: body longer than requested`)
            remaining -= r.value.length
            controller.enqueue(r.value)
          } catch (e) {
            close(e)
            if (e instanceof ShardNotFound || e instanceof RangeError) throw e
            // No answer, a reset or a stall mid-body: the node is not serving. An HTTP error
            // answer (RemoteStoreError with a status) or a refusal by admit() is not news.
            if (!cancelled && !(e instanceof NodeSkipped) && !(e instanceof RemoteStoreError && e.status !== undefined))
              noAnswer(e, timer)
            throw unavailable(what, e, timer)
          }
        },
        cancel: (reason) => {
          cancelled = true
          close(reason)
        },
      },
      { highWaterMark: 0 },
    )
  }

  let health: { at: number; ok: boolean; space?: SpaceReport } | undefined
  let probing: Promise<{ ok: boolean; space?: SpaceReport }> | undefined
  const host = new URL(base).hostname

  /** One health probe a TTL, shared by healthy() and space(). */
  function probe(): Promise<{ ok: boolean; space?: SpaceReport }> {
    if (health && Date.now() - health.at < healthTtl) return Promise.resolve(health)
    probing ??= small(
      'GET',
      HEALTH_PATH,
      'HEALTH',
      async (res) => {
        const body = (await res.json().catch(() => ({}))) as { space?: unknown }
        return { ok: res.status === 200, space: spaceOf(body.space, host) }
      },
      true,
    )
      .catch(() => ({ ok: false }))
      .then((h) => {
        health = { at: Date.now(), ...h }
        probing = undefined
        return h
      })
    return probing
  }

  return {
    id,
    put,
    get,
    async stat(name) {
      checkName(name)
      return small('GET', `${STAT_PATH}/${name}`, `STAT ${name}`, async (res) => {
        if (res.status === 404) {
          await discard(res)
          return null
        }
        if (res.status !== 200) return undefined
        const { size } = (await res.json()) as { size?: unknown }
        if (!Number.isSafeInteger(size) || (size as number) < 0)
          throw new RemoteStoreError(id, `STAT ${name} on ${id}: bad answer`)
        return size as number
      }).then((s) => (s === null ? undefined : s))
    },
    async delete(name) {
      checkName(name)
      await small('DELETE', `${SHARDS_PATH}/${name}`, `DELETE ${name}`, async (res) =>
        res.status === 204 ? true : undefined,
      )
    },
    async *list() {
      let cursor: string | undefined
      let first = true
      while (first || cursor !== undefined) {
        first = false
        const target = `${LIST_PATH}?limit=${pageSize}${cursor !== undefined ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
        const page = await small('GET', target, 'LIST', async (res) =>
          res.status === 200 ? ((await res.json()) as { names?: unknown; cursor?: unknown }) : undefined,
        )
        if (!Array.isArray(page.names)) throw new RemoteStoreError(id, `LIST on ${id}: bad answer`)
        cursor = typeof page.cursor === 'string' ? page.cursor : undefined
        for (const n of page.names) if (typeof n === 'string' && isShardName(n)) yield n
      }
    },
    healthy: async () => (await probe()).ok,
    space: async () => (await probe()).space,
  }
}

/**
 * The node's space report, checked; its filesystem named by the node's host too, since device
 * numbers are only unique within one machine (two nodes on one machine and disk share it).
 */
function spaceOf(v: unknown, host: string): SpaceReport | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const { free, total, fs } = v as { free?: unknown; total?: unknown; fs?: unknown }
  if (!Number.isSafeInteger(free) || !Number.isSafeInteger(total) || (free as number) < 0) return undefined
  return {
    free: free as number,
    total: total as number,
    ...(typeof fs === 'string' && fs.length <= 100 ? { fs: `${host}/${fs}` } : {}),
  }
}

interface TimedBody {
  stream: ReadableStream<Uint8Array>
  /** Cancels the source if it is still being read (the request failed before taking it all). */
  abort(reason: unknown): void
}

/**
 * Passes a shard body through to the transport, telling the idle timer who is waiting: `waiting`
 * when the transport asks for more (the wait is on the producer), `sent` once a chunk is handed
 * over (the wait is on the node), `sourceError` with the body's own error.
 */
function timedBody(
  body: ReadableStream<Uint8Array>,
  hooks: { waiting: () => void; sent: () => void; sourceError: (e: unknown) => void },
): TimedBody {
  const reader = body.getReader()
  let finished = false
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        hooks.waiting()
        let r: ReadableStreamReadResult<Uint8Array>
        try {
          r = await reader.read()
        } catch (e) {
          finished = true
          hooks.sourceError(e)
          throw e
        }
        if (r.done) {
          finished = true
          controller.close()
        } else controller.enqueue(r.value)
        hooks.sent()
      },
      cancel(reason) {
        finished = true
        return reader.cancel(reason)
      },
    },
    { highWaterMark: 0 },
  )
  return {
    stream,
    abort(reason) {
      if (finished) return
      finished = true
      reader.cancel(reason).catch(() => {})
    },
  }
}
