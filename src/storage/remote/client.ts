/**
 * RemoteStore: a ShardStore over a storage node's API (protocol.ts), reached through a ClusterFetch.
 * Signs every request, streams both ways with idle timeouts, maps 404 → ShardNotFound and every
 * transport failure, timeout or 5xx → RemoteStoreError ("store unavailable" to the engine).
 */
import { fromUtf8 } from '../../util/bytes.ts'
import { readAll } from '../../util/streams.ts'
import { isShardName } from '../disk-store.ts'
import { ShardNotFound, type ShardStore } from '../shard-store.ts'
import { deriveRequestKey, EMPTY_SHA256, signRequest, type AuthPlatform } from './auth.ts'
import { DEFAULT_LIST_PAGE, HEALTH_PATH, LIST_PATH, SHARDS_PATH, STAT_PATH, STREAMING_PAYLOAD, type ClusterFetch } from './protocol.ts'
import { frameBody } from './trailer.ts'

export type { ClusterFetch } from './protocol.ts'

export interface RemoteStoreOptions {
  /** The node's base URL, `https://host:port`. */
  url: string
  /** The 32-byte cluster secret. */
  secret: Uint8Array
  fetch: ClusterFetch
  /** A node that sends or takes no bytes (or gives no answer) for this long is treated as down. */
  timeoutMs: number
  platform: AuthPlatform
  /** Store id for placement (default: the URL without a trailing slash). */
  id?: string
  listPageSize?: number
  /** How long a health answer is reused (default HEALTH_TTL_MS). */
  healthTtlMs?: number
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
 * An abort timer that counts only while the node is the one we are waiting for. Cheap per chunk:
 * run() stamps the time, and a single pending timeout re-arms itself for the remainder.
 */
class IdleTimer {
  readonly controller = new AbortController()
  private last = 0
  private counting = false
  private timer: ReturnType<typeof setTimeout> | undefined
  /** Rejects with the abort reason; settled once, shared by every race. */
  private readonly aborted: Promise<never>

  constructor(
    private readonly ms: number,
    private readonly what: string,
  ) {
    this.aborted = new Promise<never>((_, reject) => {
      this.controller.signal.addEventListener('abort', () => reject(this.controller.signal.reason), { once: true })
    })
    this.aborted.catch(() => {}) // observed through race(); never an unhandled rejection
  }

  readonly run = () => {
    this.last = Date.now()
    this.counting = true
    this.timer ??= setTimeout(this.fire, this.ms)
  }

  readonly pause = () => {
    this.counting = false
  }

  /** Ends the timer for good (no timeout stays pending). */
  readonly stop = () => {
    this.counting = false
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private readonly fire = () => {
    this.timer = undefined
    if (!this.counting) return // run() re-arms
    const idle = Date.now() - this.last
    if (idle >= this.ms) this.controller.abort(new Error(`${this.what}: no progress within ${this.ms} ms`))
    else this.timer = setTimeout(this.fire, this.ms - idle)
  }

  get timedOut(): boolean {
    return this.controller.signal.aborted
  }

  /**
   * `p`, or the abort reason once aborted: a transport that ignores the signal cannot hang us.
   * Once per request only: each race leaves a reaction on `aborted` until the timer is dropped.
   */
  race<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.aborted])
  }
}

function checkName(name: string): void {
  if (!isShardName(name)) throw new TypeError(`invalid shard name ${JSON.stringify(name)}: use [A-Za-z0-9._-], not starting with '.'`)
}

export function createRemoteStore(opts: RemoteStoreOptions): ShardStore {
  const base = opts.url.replace(/\/+$/, '')
  const id = opts.id ?? base
  const { platform, fetch, timeoutMs } = opts
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`)
  const key = deriveRequestKey(platform, opts.secret)
  const emptyHash = EMPTY_SHA256(platform)
  const pageSize = opts.listPageSize ?? DEFAULT_LIST_PAGE
  const healthTtl = opts.healthTtlMs ?? HEALTH_TTL_MS

  const unavailable = (what: string, e: unknown, timer?: IdleTimer): RemoteStoreError => {
    if (e instanceof RemoteStoreError) return e
    const cause = timer?.timedOut ? timer.controller.signal.reason : e
    return new RemoteStoreError(id, `${what} on ${id} failed: ${cause instanceof Error ? cause.message : String(cause)}`)
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

  function request(method: string, target: string, signal: AbortSignal, content = emptyHash, body?: ReadableStream<Uint8Array>): Request {
    const { headers } = signRequest(platform, key, { method, target, content })
    // duplex is required by fetch for a streamed body (not yet in TypeScript's RequestInit).
    return new Request(base + target, { method, headers, signal, body, ...(body ? { duplex: 'half' } : {}) } as RequestInit)
  }

  /** A small request (no body) answered with JSON or nothing; the timeout covers all of it. */
  async function small<T>(method: string, target: string, what: string, onStatus: (res: Response) => Promise<T | undefined>): Promise<T> {
    const timer = new IdleTimer(timeoutMs, `${what} on ${id}`)
    timer.run()
    try {
      const res = await timer.race(fetch(request(method, target, timer.controller.signal)))
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
    const target = `${SHARDS_PATH}/${name}`
    const { headers, signature } = signRequest(platform, key, { method: 'PUT', target, content: STREAMING_PAYLOAD })
    const timer = new IdleTimer(timeoutMs, `${what} on ${id}`)
    let bodyError: { e: unknown } | undefined
    // The clock runs only while a chunk waits for the node to take it, or for the final answer.
    const framed = frameBody(platform, key, signature, body, { waiting: timer.pause, sent: timer.run, sourceError: (e) => (bodyError = { e }) })
    const req = new Request(base + target, { method: 'PUT', headers, body: framed.stream, duplex: 'half', signal: timer.controller.signal } as RequestInit)
    timer.run()
    try {
      const res = await timer.race(fetch(req))
      if (res.status === 204 || res.status === 200) {
        await res.body?.cancel().catch(() => {})
        if (bodyError) throw bodyError.e // the node must have refused it; the body's error is the news
        return
      }
      throw await failure(res, what)
    } catch (e) {
      framed.abort(e)
      if (!timer.timedOut) timer.controller.abort(e) // cut an upload still in flight
      // Callers tell their own body's failure by identity, as with DiskStore.
      if (bodyError) throw bodyError.e
      throw unavailable(what, e, timer)
    } finally {
      timer.stop()
    }
  }

  function get(name: string, offset: number, length: number): ReadableStream<Uint8Array> {
    checkName(name)
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(`invalid shard range offset=${offset} length=${length}`)
    }
    const what = `GET ${name} [${offset}, ${offset + length})`
    const timer = new IdleTimer(timeoutMs, `${what} on ${id}`)
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
    let remaining = length
    const close = (reason?: unknown) => {
      timer.stop()
      const r = reader
      reader = undefined
      r?.cancel(reason).catch(() => {})
    }

    async function open(): Promise<ReadableStreamDefaultReader<Uint8Array> | undefined> {
      const res = await timer.race(fetch(request('GET', `${SHARDS_PATH}/${name}?offset=${offset}&length=${length}`, timer.controller.signal)))
      if (res.status === 404) {
        await res.body?.cancel().catch(() => {})
        throw new ShardNotFound(id, name)
      }
      if (res.status === 416) throw new RangeError(`${what} on ${id}: ${(await failure(res, what)).message}`)
      if (res.status !== 200) throw await failure(res, what)
      const r = res.body?.getReader()
      // On timeout, end a read the transport may leave pending (racing every read against one
      // long-lived promise instead would keep every chunk reachable until the stream ends).
      timer.controller.signal.addEventListener('abort', () => r?.cancel(timer.controller.signal.reason).catch(() => {}), { once: true })
      return r
    }

    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          timer.run()
          try {
            if (!reader) {
              reader = await open()
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
              if (remaining !== 0) throw new RemoteStoreError(id, `${what} on ${id}: body ended ${remaining} bytes short`)
              close()
              return controller.close()
            }
            if (r.value.length > remaining) throw new RemoteStoreError(id, `${what} on ${id}: body longer than requested`)
            remaining -= r.value.length
            controller.enqueue(r.value)
          } catch (e) {
            close(e)
            if (e instanceof ShardNotFound || e instanceof RangeError) throw e
            throw unavailable(what, e, timer)
          }
        },
        cancel: (reason) => close(reason),
      },
      { highWaterMark: 0 },
    )
  }

  let health: { at: number; ok: boolean } | undefined
  let probing: Promise<boolean> | undefined

  return {
    id,
    put,
    get,
    async stat(name) {
      checkName(name)
      return small('GET', `${STAT_PATH}/${name}`, `STAT ${name}`, async (res) => {
        if (res.status === 404) return (await res.body?.cancel().catch(() => {}), null)
        if (res.status !== 200) return undefined
        const { size } = (await res.json()) as { size?: unknown }
        if (!Number.isSafeInteger(size) || (size as number) < 0) throw new RemoteStoreError(id, `STAT ${name} on ${id}: bad answer`)
        return size as number
      }).then((s) => (s === null ? undefined : s))
    },
    async delete(name) {
      checkName(name)
      await small('DELETE', `${SHARDS_PATH}/${name}`, `DELETE ${name}`, async (res) => (res.status === 204 ? true : undefined))
    },
    async *list() {
      let cursor: string | undefined
      let first = true
      while (first || cursor !== undefined) {
        first = false
        const target = `${LIST_PATH}?limit=${pageSize}${cursor !== undefined ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
        const page = await small('GET', target, 'LIST', async (res) => (res.status === 200 ? ((await res.json()) as { names?: unknown; cursor?: unknown }) : undefined))
        if (!Array.isArray(page.names)) throw new RemoteStoreError(id, `LIST on ${id}: bad answer`)
        cursor = typeof page.cursor === 'string' ? page.cursor : undefined
        for (const n of page.names) if (typeof n === 'string' && isShardName(n)) yield n
      }
    },
    healthy() {
      if (health && Date.now() - health.at < healthTtl) return Promise.resolve(health.ok)
      probing ??= small('GET', HEALTH_PATH, 'HEALTH', async (res) => {
        await res.body?.cancel().catch(() => {})
        return res.status === 200
      })
        .catch(() => false)
        .then((ok) => {
          health = { at: Date.now(), ok }
          probing = undefined
          return ok
        })
      return probing
    },
  }
}
