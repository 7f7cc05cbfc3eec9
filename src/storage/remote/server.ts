/**
 * The storage-node API as a Hono sub-app over one ShardStore (the node's DiskStore): every request
 * authenticated (auth.ts), shard PUT streamed and trailer-checked, ranged GET, stat, DELETE, paged
 * LIST, health. Web APIs, the Platform port and storage/util modules only.
 */
import { Hono, type Context } from 'hono'
import { toHex } from '../../util/bytes.ts'
import type { Logger } from '../../util/log.ts'
import { primeStream, readAll, BodyTooLarge } from '../../util/streams.ts'
import { isShardName } from '../disk-store.ts'
import { isStoreFull, ShardNotFound, type ShardStore } from '../shard-store.ts'
import { deriveRequestKey, NonceCache, sha256Hex, verifyRequest, type AuthPlatform } from './auth.ts'
import {
  DEFAULT_LIST_PAGE,
  HEADER_REPLAY_FLOOR,
  HEALTH_PATH,
  LIST_PATH,
  MAX_LIST_PAGE,
  MAX_SMALL_BODY,
  SHARDS_PATH,
  STAT_PATH,
  STREAMING_PAYLOAD,
} from './protocol.ts'
import type { ReplayMark } from './replay-mark.ts'
import { BodyAuthError, BodyStreamError, unframeBody } from './trailer.ts'

export interface NodeAppOptions {
  store: ShardStore
  /** The 32-byte cluster secret. */
  secret: Uint8Array
  platform: AuthPlatform
  logger: Logger
  /**
   * The persisted replay mark (replay-mark.ts): requests dated at or below its floor are refused,
   * and none is served before the mark covers its date. The runtime always gives one; without
   * it (unit tests) replays are refused only within one process's lifetime.
   */
  replayMark?: ReplayMark
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

type Env = { Variables: { signature: string } }

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
  const { store, platform, logger } = o
  const key = deriveRequestKey(platform, o.secret)
  const nonces = new NonceCache(undefined, undefined, o.replayMark?.floor)
  const now = o.now ?? Date.now
  const cursors = new ListCursors(
    o.maxListCursors ?? DEFAULT_MAX_LIST_CURSORS,
    o.listCursorTtlMs ?? DEFAULT_LIST_CURSOR_TTL_MS,
  )
  const app = new Hono<Env>()

  /** Logs one JSON line per refused request (never headers or secrets) and answers 401/403. */
  const refuse = (c: Context, status: 401 | 403, reason: string, floor?: number) => {
    const url = new URL(c.req.url)
    logger.log('warn', 'node: request refused', { status, reason, method: c.req.raw.method, path: url.pathname })
    if (floor !== undefined) c.header(HEADER_REPLAY_FLOOR, String(floor))
    return error(c, status, status === 401 ? 'Unauthenticated' : 'Forbidden', `request refused: ${reason}`)
  }

  app.use('*', async (c, next) => {
    const req = c.req.raw
    // Hono would run HEAD as GET and stream a whole shard into the void; the protocol has no HEAD.
    if (req.method === 'HEAD')
      return error(c, 405, 'MethodNotAllowed', 'HEAD is not part of the node protocol: use GET /v1/stat/<name>')
    const url = new URL(req.url)
    const v = verifyRequest(
      { method: req.method, target: url.pathname + url.search, headers: req.headers },
      { platform, key, nonces, now: now() },
    )
    if (!v.ok) return refuse(c, v.status, v.reason, v.floor)
    try {
      await o.replayMark?.cover(v.date)
    } catch (e) {
      // Served without a durable mark, this request could be replayed after a restart.
      logger.log('error', 'node: cannot save the replay mark', { error: e instanceof Error ? e.message : String(e) })
      return error(c, 503, 'Unavailable', 'the node cannot record its replay mark: try again')
    }
    const isShardPut = req.method === 'PUT' && url.pathname.startsWith(`${SHARDS_PATH}/`)
    if (isShardPut !== (v.content === STREAMING_PAYLOAD)) {
      return refuse(
        c,
        401,
        isShardPut ? 'a shard PUT must use the streaming trailer' : 'the streaming trailer is only for shard PUTs',
      )
    }
    if (!isShardPut) {
      // Small bodies (none today) are read whole and must hash to the signed value.
      let body: Uint8Array
      try {
        body = req.body ? await readAll(req.body, MAX_SMALL_BODY) : new Uint8Array(0)
      } catch (e) {
        if (e instanceof BodyTooLarge) return error(c, 400, 'BodyTooLarge', e.message)
        throw e
      }
      if (sha256Hex(platform, body) !== v.content) return refuse(c, 403, 'body does not match its signed SHA-256')
    }
    c.set('signature', v.signature)
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
    try {
      await store.put(name, unframeBody(platform, key, c.get('signature'), raw))
    } catch (e) {
      if (e instanceof BodyAuthError) return refuse(c, 403, e.message)
      if (e instanceof BodyStreamError) return error(c, 400, 'IncompleteBody', e.message)
      // The gateway counts this shard as failed for lack of space, not the node as down.
      if (isStoreFull(e)) return error(c, 507, 'InsufficientStorage', e.message)
      return internal(c, e)
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
