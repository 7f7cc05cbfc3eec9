/**
 * The Node adapter: @hono/node-server over https.createServer with the TLS policy, streaming
 * bodies with large buffers, timeouts, and graceful close. The Node entry is bin/coffer.mjs.
 */
import { createAdaptorServer, type HttpBindings } from '@hono/node-server'
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import process from 'node:process'
import type { RunningServer, RuntimeAdapter, ServeOptions } from './adapter.ts'
import { createShardRoutes } from './node-shard-routes.ts'
import { CIPHER_STRING, TLS_MAX_VERSION, TLS_MIN_VERSION } from './tls-options.ts'
import { nodeWebBody } from './node-web-body.ts'
import { declaresBody, deferContinue, settleUnreadBody } from './unread-body.ts'

/**
 * Socket and stream buffer size. Node's default 16 KiB makes body streams pause every TLS record
 * or two; 1 MiB halves the per-byte overhead on large PUT/GET (docs/architecture.md §8). Also the
 * bytes a request body's Web stream queues before the request is paused (giveNodeBody).
 */
export const BODY_HIGH_WATER_MARK = 1024 * 1024
/** Time to receive a request's headers: a slow-loris guard that never touches bodies. */
export const HEADERS_TIMEOUT_MS = 60_000
/** Idle keep-alive connections close after this; above the 20 s idle time of common S3 clients. */
export const KEEP_ALIVE_TIMEOUT_MS = 30_000
/**
 * A connection with no byte in either direction for this long is dropped, silently. Request
 * bodies are policed sooner by the S3 layer (src/s3/body-guard.ts, at most MAX_BODY_IDLE_MS),
 * so an upload that stalls hears RequestTimeout first.
 */
export const IDLE_SOCKET_TIMEOUT_MS = 120_000
/** TLS handshakes must finish within this. */
export const HANDSHAKE_TIMEOUT_MS = 30_000

/** Node's own answers to a request its parser refused (as in node:_http_server). */
const PARSER_ANSWERS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n',
  ERR_HTTP_REQUEST_TIMEOUT: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n',
}
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'

/**
 * Node's default 'clientError' handling, except for a client that ends its side of the connection
 * before its declared Content-Length (llhttp: HPE_INVALID_EOF_STATE): that one hears the app's
 * IncompleteBody instead of a bare 400, so it knows its upload was cut. Like Node, it answers only
 * when no response has started on the socket, then drops the connection.
 */
function answerClientError(e: Error & { code?: string }, socket: Duplex, o: ServeOptions): void {
  const inFlight = (socket as Duplex & { _httpMessage?: { _headerSent?: boolean } })._httpMessage
  if (e.code !== 'ECONNRESET' && socket.writable && !inFlight?._headerSent) {
    if (e.code === 'HPE_INVALID_EOF_STATE' && o.incompleteBody) {
      const a = o.incompleteBody()
      const head = [
        `HTTP/1.1 ${a.status} ${STATUS_CODES[a.status] ?? ''}`,
        ...Object.entries(a.headers).map(([k, v]) => `${k}: ${v}`),
        `content-length: ${Buffer.byteLength(a.body)}`,
        'connection: close',
      ]
      socket.write(`${head.join('\r\n')}\r\n\r\n${a.body}`)
    } else socket.write(PARSER_ANSWERS[e.code ?? ''] ?? BAD_REQUEST)
  }
  socket.destroy(e)
}

/**
 * The `highWaterMark` server option reaches neither the TLS sockets nor the responses on Node 20
 * (both stay at 16 KiB: https.Server builds its TLSSocket without it). A response write then
 * reports "full" after every 64 KiB package, the body writer waits for 'drain', and each
 * package becomes its own TLS write and syscall, which costs about a third more CPU per byte
 * than batches of 1 MiB (docs/architecture.md §8). Raised here for the writable side only; the
 * readable side (request bodies) is left as it is. A socket of another shape is left alone.
 */
function raiseWriteHighWaterMark(socket: Duplex): void {
  const state = (socket as Duplex & { _writableState?: { highWaterMark?: unknown } })._writableState
  if (state && typeof state.highWaterMark === 'number' && state.highWaterMark < BODY_HIGH_WATER_MARK)
    state.highWaterMark = BODY_HIGH_WATER_MARK
}

/**
 * The request's body as a Web stream of Node's own chunks (node-web-body.ts) instead of
 * @hono/node-server's: that one is `Readable.toWeb(incoming)` (a copy of every 16 KiB TLS chunk
 * into a fresh ArrayBuffer) behind one more ReadableStream that pulls it chunk by chunk.
 * @hono/node-server's Request is its own lightweight object that builds a real Request only when
 * something reaches for it (`body` among others); giving this one instance its own `body` keeps all
 * the rest — url, headers, signal (aborted when the client goes), `text()` and the like reading the
 * IncomingMessage directly — as it is, and costs nothing per request (no second Request, no header
 * copy). Only bodies: Node buffers at most the queue plus the socket's own buffer.
 * A cancelled body pauses: settleUnreadBody (unread-body.ts) drains or drops the rest.
 */
function giveNodeBody(req: Request, incoming: IncomingMessage): void {
  let body: ReadableStream<Uint8Array> | undefined
  const stream = () => (body ??= nodeWebBody(incoming, { queueBytes: BODY_HIGH_WATER_MARK, onCancel: 'pause' }))
  const properties: PropertyDescriptorMap = {
    body: { get: stream, configurable: true },
    bodyUsed: { get: () => body?.locked === true, configurable: true },
  }
  // The reading methods must read this same stream. @hono/node-server's own would read `incoming`
  // directly, and once anything had touched `body` (Hono's bodyLimit middleware does, before the
  // console reads a form) the stream's first pull had already set `incoming` reading into it: the
  // form then failed "Body is unusable" (a console 500) whenever the body had arrived by then.
  for (const kind of BODY_READERS) {
    properties[kind] = {
      value: () => {
        const type = req.headers.get('content-type')
        return new Response(stream(), type === null ? {} : { headers: { 'content-type': type } })[kind]()
      },
      configurable: true,
    }
  }
  Object.defineProperties(req, properties)
}

/** Request's methods that consume the body; giveNodeBody routes each through its one stream. */
const BODY_READERS = ['arrayBuffer', 'blob', 'formData', 'json', 'text'] as const

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e)
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

async function serve(o: ServeOptions): Promise<RunningServer> {
  const server = createAdaptorServer({
    // Whole-request time is unlimited (requestTimeout 0): a 5 GiB part may take minutes on a slow
    // link. Idle sockets and slow headers are bounded instead.
    fetch: async (req: Request, env: unknown) => {
      const { incoming } = env as HttpBindings
      const { remoteAddress, remotePort } = incoming.socket
      if (declaresBody(incoming) && incoming.method !== 'GET' && incoming.method !== 'HEAD') giveNodeBody(req, incoming)
      const res = await o.fetch(req, { rawTarget: incoming.url, connection: `${remoteAddress}:${remotePort}` })
      // A refusal of a body the client is still sending: see src/runtime/unread-body.ts.
      return settleUnreadBody(incoming, res)
    },
    createServer,
    serverOptions: {
      cert: o.cert,
      key: o.key,
      minVersion: TLS_MIN_VERSION,
      maxVersion: TLS_MAX_VERSION,
      ciphers: CIPHER_STRING,
      honorCipherOrder: true,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      highWaterMark: BODY_HIGH_WATER_MARK,
      requestTimeout: 0,
      headersTimeout: HEADERS_TIMEOUT_MS,
      keepAliveTimeout: o.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS,
      noDelay: true,
      // Mutual TLS (storage nodes): OpenSSL checks the chain, validity dates and the clientAuth usage.
      ...(o.clientCa !== undefined ? { ca: o.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
    },
  }) as Server
  if (o.shards) {
    // A storage node: its shard PUTs and GETs skip @hono/node-server and the app (node-shard-routes.ts).
    const shardRoutes = createShardRoutes(o.shards)
    const [app] = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>
    if (!app) throw new Error('@hono/node-server registered no request listener')
    server.removeAllListeners('request')
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (!shardRoutes(req, res)) app(req, res)
    })
  }
  server.setTimeout(IDLE_SOCKET_TIMEOUT_MS) // no 'timeout' listener: Node destroys the idle socket
  server.on('secureConnection', raiseWriteHighWaterMark)
  // `Expect: 100-continue`: Continue only once the app reads the body, so an early refusal reaches a
  // client that has not sent it (src/runtime/unread-body.ts). Then the request is served as any other.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    deferContinue(req, res)
    server.emit('request', req, res)
  })
  // Other `Expect` values are ignored, as S3 does; Node alone would answer 417 Expectation Failed.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res))
  server.on('clientError', (e: Error & { code?: string }, socket: Duplex) => answerClientError(e, socket, o))
  // A failed handshake (e.g. a client offering TLS 1.1 or plain HTTP) is the client's problem: drop it quietly.
  server.on('tlsClientError', () => {})
  const port = await listen(server, o.port, o.host)
  return {
    port,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs)
        server.close(() => {
          clearTimeout(timer)
          resolve()
        })
        server.closeIdleConnections()
      }),
  }
}

export function nodeAdapter(): RuntimeAdapter {
  return {
    name: 'node',
    serve,
    limits: [],
    onSignals(signals, cb) {
      for (const s of signals) process.on(s, () => cb(s))
    },
    exit: (code) => process.exit(code),
  }
}
