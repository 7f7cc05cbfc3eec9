/**
 * Node only: a storage node's two hot routes — shard PUT and shard GET — served straight from
 * Node's IncomingMessage and ServerResponse. src/storage/remote/server.ts (Hono) stays the
 * node's implementation of the whole API: it answers every other request here, and all of them
 * on Bun. Why a second path for these two: through @hono/node-server a shard PUT's body reached
 * the disk store as 16 KiB Web chunks, each copied once by `Readable.toWeb` (a fresh ArrayBuffer
 * per chunk: V8's external-memory pressure set off full GCs) and passed through three stream
 * layers, plus a Request, a Response and the router per shard (docs/architecture.md §8,
 * "Distributed mode: a Node fast path for shard PUT and GET").
 *
 * It takes only requests it answers exactly as the Hono routes would: `PUT /v2/shards/<name>`
 * without a query and `GET /v2/shards/<name>?offset=N&length=N` — the forms RemoteStore sends —
 * with a valid shard name written without escapes. Anything else (a bad name, another query
 * form, HEAD, other routes) goes on to the app, which answers it, errors included.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { isShardName } from '../storage/disk-store.ts'
import { SHARDS_PATH } from '../storage/remote/protocol.ts'
import { shardPutFailure } from '../storage/remote/server.ts'
import { ShardNotFound, type ShardStore } from '../storage/shard-store.ts'
import { releaseBytes } from '../util/byte-pool.ts'
import type { Logger } from '../util/log.ts'
import { nodeWebBody } from './node-web-body.ts'
import { settleUnreadBody } from './unread-body.ts'
import { drained } from './drained.ts'

/**
 * Body bytes queued for the disk store before the request is paused. The store gathers 512 KiB
 * per `writev` and reads on while one is in flight, so this keeps the socket flowing during a
 * write and bounds a PUT's memory (with the IncomingMessage's own buffer) to a few MiB whatever
 * the shard's size. Counted in bytes: `Readable.toWeb` counted chunks against a byte figure.
 */
const BODY_QUEUE_BYTES = 1024 * 1024

/**
 * A GET reads the shard in pieces of this size (the `unit` of ShardStore.get), into buffers of the
 * store's read pool when it has one: each goes back to the pool once the socket has taken it, so a
 * node serving GETs allocates almost no fresh ArrayBuffers — every one adds to V8's external-memory
 * pressure, which set off a full GC every few dozen 1 MiB GETs (docs/architecture.md §8).
 */
export const GET_READ_UNIT = 256 * 1024

const SHARD_TARGET = new RegExp(`^${SHARDS_PATH}/([^/?]+)(?:\\?(.*))?$`)
const RANGE_QUERY = /^offset=(\d{1,16})&length=(\d{1,16})$/

export interface ShardRoutes {
  store: ShardStore
  logger: Logger
}

/**
 * The request handler for the hot routes: true when it took the request (and will answer it),
 * false when the request is the app's.
 */
export function createShardRoutes(o: ShardRoutes): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { store, logger } = o

  /** The app's JSON error, through the same unread-body handling as every app answer. */
  const fail = async (req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string) => {
    const body = JSON.stringify({ error: code, message })
    const answer = await settleUnreadBody(
      req,
      new Response(body, { status, headers: { 'content-type': 'application/json' } }),
    )
    if (res.headersSent || res.destroyed) return
    const headers: Record<string, string | number> = Object.fromEntries(answer.headers)
    headers['content-length'] = Buffer.byteLength(body)
    res.writeHead(answer.status, headers)
    res.end(body)
  }
  const internal = (req: IncomingMessage, res: ServerResponse, e: unknown) => {
    const message = e instanceof Error ? e.message : String(e)
    logger.log('error', 'node: store error', {
      method: req.method,
      path: (req.url ?? '').split('?')[0],
      error: message,
    })
    return fail(req, res, 500, 'InternalError', message)
  }

  async function put(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    let bodyError: { e: unknown } | undefined
    try {
      // The body as a Web stream of Node's own chunks (node-web-body.ts): no copy, one layer,
      // paused while BODY_QUEUE_BYTES wait; a cut body errors it, and `bodyError` hears of it first.
      // Cancelled (the store gave up, e.g. the drive is full), it pauses: the error answer drains the rest.
      const body = nodeWebBody(req, {
        queueBytes: BODY_QUEUE_BYTES,
        onCancel: 'pause',
        onError: (e) => (bodyError = { e }),
      })
      await store.put(name, body)
    } catch (e) {
      const f = shardPutFailure(e, bodyError)
      return f ? fail(req, res, f.status, f.code, f.message) : internal(req, res, e)
    }
    res.writeHead(204)
    res.end()
  }

  async function get(req: IncomingMessage, res: ServerResponse, name: string, offset: number, length: number) {
    let reader: ReadableStreamDefaultReader<Uint8Array>
    let first: ReadableStreamReadResult<Uint8Array>
    try {
      reader = store.get(name, offset, length, GET_READ_UNIT).getReader()
      // The first read opens the file: a missing shard or a bad range is still a status code.
      first = await reader.read()
    } catch (e) {
      if (e instanceof ShardNotFound) return fail(req, res, 404, 'NoSuchShard', `shard ${name} not found`)
      if (e instanceof RangeError) return fail(req, res, 416, 'InvalidRange', e.message)
      return internal(req, res, e)
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(length) })
    try {
      for (let r = first; !r.done; r = await reader.read()) {
        const piece = r.value
        // Back to the pool only once written: TLS has encrypted it and holds no reference.
        if (!res.write(piece, (e) => e || releaseBytes(piece))) await drained(res)
        if (res.destroyed) throw new Error('client gone')
      }
      res.end()
    } catch (e) {
      // Mid-body: the status is out, so the connection is cut and the client sees a short body.
      reader.cancel(e).catch(() => {})
      res.destroy()
    }
  }

  return (req, res) => {
    const method = req.method
    if (method !== 'PUT' && method !== 'GET') return false
    const m = SHARD_TARGET.exec(req.url ?? '')
    if (!m || !isShardName(m[1]!)) return false
    const name = m[1]!
    const query = m[2]
    let done: Promise<void>
    if (method === 'PUT') {
      if (query !== undefined) return false
      done = put(req, res, name)
    } else {
      const r = query === undefined ? null : RANGE_QUERY.exec(query)
      if (!r) return false
      const offset = Number(r[1])
      const length = Number(r[2])
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length)) return false
      done = get(req, res, name, offset, length)
    }
    done.catch((e) => {
      // Only a bug gets here (every answer above catches its own): never an unhandled rejection.
      logger.log('error', 'node: shard route failed', { error: e instanceof Error ? e.message : String(e) })
      res.destroy()
    })
    return true
  }
}
