/**
 * The storage-node API as a Hono sub-app over one ShardStore (the node's DiskStore): shard PUT
 * streamed, ranged GET, stat, DELETE, paged LIST, health. Who may call it is settled before a
 * request gets here: the node's TLS listener admits only clients with a certificate from the
 * cluster CA (docs/architecture.md §1). Web APIs and storage/util modules only.
 */
import { Hono, type Context } from 'hono'
import { toHex } from '../../util/bytes.ts'
import type { Logger } from '../../util/log.ts'
import { primeStream } from '../../util/streams.ts'
import { isShardName } from '../disk-store.ts'
import { isStoreFull, ShardNotFound, type ShardStore } from '../shard-store.ts'
import { DEFAULT_LIST_PAGE, HEALTH_PATH, LIST_PATH, MAX_LIST_PAGE, SHARDS_PATH, STAT_PATH } from './protocol.ts'

export interface NodeAppOptions {
  store: ShardStore
  logger: Logger
  /** The node clock (tests move it). */
  now?: () => number
  /** Open LIST cursors kept at once; the oldest is dropped beyond this. */
  maxListCursors?: number
  /** A LIST cursor not used for this long expires (the client gets 410 and starts over). */
  listCursorTtlMs?: number
}

/** A handful of gateways each walking the node (GC, healer) at once; each cursor holds one directory. */
const DEFAULT_MAX_LIST_CURSORS = 64
const DEFAULT_LIST_CURSOR_TTL_MS = 5 * 60_000

type Env = Record<string, never>

const error = (
  c: Context,
  status: 400 | 401 | 403 | 404 | 405 | 410 | 416 | 500 | 503 | 507,
  code: string,
  message: string,
) => c.json({ error: code, message }, status)

/** Parses a non-negative safe integer query value; undefined when absent, NaN when malformed. */
function intParam(v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  return /^\d{1,16}$/.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : NaN
}

/** Cursors of LIST walks in progress: the store yields names lazily, so pages need server state. */
class ListCursors {
  private readonly open = new Map<string, { it: AsyncIterator<string>; expires: number }>()
  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
  ) {}

  /** The iterator for a cursor, taken out while a page is read (a concurrent reuse gets 410). */
  take(cursor: string, now: number): AsyncIterator<string> | undefined {
    this.prune(now)
    const s = this.open.get(cursor)
    this.open.delete(cursor)
    return s?.it
  }

  park(it: AsyncIterator<string>, now: number): string {
    this.prune(now)
    while (this.open.size >= this.max) {
      const [oldest, s] = this.open.entries().next().value as [string, { it: AsyncIterator<string> }]
      this.open.delete(oldest)
      void s.it.return?.()
    }
    const cursor = toHex(crypto.getRandomValues(new Uint8Array(16)))
    this.open.set(cursor, { it, expires: now + this.ttlMs })
    return cursor
  }

  private prune(now: number): void {
    for (const [c, s] of this.open) {
      if (s.expires > now) continue
      this.open.delete(c)
      void s.it.return?.()
    }
  }
}

export function createNodeApp(o: NodeAppOptions): Hono<Env> {
  const { store, logger } = o
  const now = o.now ?? Date.now
  const cursors = new ListCursors(
    o.maxListCursors ?? DEFAULT_MAX_LIST_CURSORS,
    o.listCursorTtlMs ?? DEFAULT_LIST_CURSOR_TTL_MS,
  )
  const app = new Hono<Env>()

  app.use('*', async (c, next) => {
    // Hono would run HEAD as GET and stream a whole shard into the void; the protocol has no HEAD.
    if (c.req.raw.method === 'HEAD')
      return error(c, 405, 'MethodNotAllowed', 'HEAD is not part of the node protocol: use GET /v2/stat/<name>')
    await next()
  })

  const shardName = (c: Context) => {
    const name = c.req.param('name')
    return name !== undefined && isShardName(name) ? name : undefined
  }
  const badName = (c: Context) =>
    error(c, 400, 'InvalidShardName', 'shard names are [A-Za-z0-9._-], 1–200 characters, not starting with "."')
  const internal = (c: Context, e: unknown) => {
    logger.log('error', 'node: store error', {
      method: c.req.raw.method,
      path: new URL(c.req.url).pathname,
      error: e instanceof Error ? e.message : String(e),
    })
    return error(c, 500, 'InternalError', e instanceof Error ? e.message : String(e))
  }

  app.put(`${SHARDS_PATH}/:name`, async (c) => {
    const name = shardName(c)
    if (!name) return badName(c)
    const raw = c.req.raw.body ?? new ReadableStream<Uint8Array>({ start: (ctl) => ctl.close() })
    let bodyError: { e: unknown } | undefined
    try {
      await store.put(
        name,
        watchBody(raw, (e) => (bodyError = { e })),
      )
    } catch (e) {
      const f = shardPutFailure(e, bodyError)
      return f ? error(c, f.status, f.code, f.message) : internal(c, e)
    }
    return c.body(null, 204)
  })

  app.get(`${SHARDS_PATH}/:name`, async (c) => {
    const name = shardName(c)
    if (!name) return badName(c)
    const offset = intParam(c.req.query('offset')) ?? 0
    const length = intParam(c.req.query('length'))
    if (Number.isNaN(offset) || length === undefined || Number.isNaN(length)) {
      return error(c, 400, 'InvalidRange', 'GET needs ?offset=N&length=N as non-negative integers')
    }
    let body: ReadableStream<Uint8Array>
    try {
      body = await primeStream(store.get(name, offset, length))
    } catch (e) {
      if (e instanceof ShardNotFound) return error(c, 404, 'NoSuchShard', `shard ${name} not found`)
      if (e instanceof RangeError) return error(c, 416, 'InvalidRange', e.message)
      return internal(c, e)
    }
    return new Response(body, {
      status: 200,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
    })
  })

  app.get(`${STAT_PATH}/:name`, async (c) => {
    const name = shardName(c)
    if (!name) return badName(c)
    try {
      const size = await store.stat(name)
      return size === undefined ? error(c, 404, 'NoSuchShard', `shard ${name} not found`) : c.json({ size })
    } catch (e) {
      return internal(c, e)
    }
  })

  app.delete(`${SHARDS_PATH}/:name`, async (c) => {
    const name = shardName(c)
    if (!name) return badName(c)
    try {
      await store.delete(name)
    } catch (e) {
      return internal(c, e)
    }
    return c.body(null, 204)
  })

  app.get(LIST_PATH, async (c) => {
    const limit = intParam(c.req.query('limit')) ?? DEFAULT_LIST_PAGE
    if (Number.isNaN(limit) || limit < 1 || limit > MAX_LIST_PAGE)
      return error(c, 400, 'InvalidLimit', `limit must be 1–${MAX_LIST_PAGE}`)
    const cursor = c.req.query('cursor')
    let it: AsyncIterator<string>
    if (cursor === undefined) it = store.list()[Symbol.asyncIterator]()
    else {
      const found = cursors.take(cursor, now())
      if (!found) return error(c, 410, 'CursorExpired', 'list cursor unknown or expired: start the listing again')
      it = found
    }
    const names: string[] = []
    try {
      while (names.length < limit) {
        const r = await it.next()
        if (r.done) return c.json({ names })
        names.push(r.value)
      }
    } catch (e) {
      void it.return?.()
      return internal(c, e)
    }
    return c.json({ names, cursor: cursors.park(it, now()) })
  })

  app.get(HEALTH_PATH, async (c) => {
    const [ok, space] = await Promise.all([
      store.healthy().catch(() => false),
      store.space ? store.space().catch(() => undefined) : undefined,
    ])
    // The drive's free space rides along: gateways leave a full node out of writes.
    return c.json(space ? { ok, space } : { ok }, ok ? 200 : 503)
  })

  app.notFound((c) => error(c, 404, 'NoSuchRoute', `no node route ${c.req.raw.method} ${new URL(c.req.url).pathname}`))
  app.onError((e, c) => internal(c, e))
  return app
}

/**
 * How a failed shard PUT is answered when it is not an internal error — by the Hono route here and
 * by Node's fast path (src/runtime/node-shard-routes.ts), which must answer alike. `bodyError` is
 * the body stream's own failure, if it had one.
 */
export function shardPutFailure(
  e: unknown,
  bodyError: { e: unknown } | undefined,
): { status: 400 | 507; code: string; message: string } | undefined {
  if (bodyError && e === bodyError.e)
    return { status: 400, code: 'IncompleteBody', message: `shard body stream failed: ${String(e)}` }
  // The gateway counts this shard as failed for lack of space, not the node as down.
  if (isStoreFull(e)) return { status: 507, code: 'InsufficientStorage', message: e.message }
  return undefined
}

/** Passes `body` through, telling `onError` about its own failure (client gone, connection cut). */
function watchBody(body: ReadableStream<Uint8Array>, onError: (e: unknown) => void): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let r: ReadableStreamReadResult<Uint8Array>
        try {
          r = await reader.read()
        } catch (e) {
          onError(e)
          throw e
        }
        if (r.done) controller.close()
        else controller.enqueue(r.value)
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  )
}
