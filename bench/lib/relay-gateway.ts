/**
 * Child entry of bench/relay-ceiling.ts: a do-nothing "gateway" over six relay nodes
 * (relay-node.ts), Coffer's 4+2 geometry with 256 KiB blocks (src/storage/geometry.ts). No S3,
 * no hashing, no CRC, no encryption at rest, no metadata (object sizes live in a Map): only the
 * bytes Coffer moves, over the same hops.
 * - `PUT /NAME`: the client's body is cut into 1 MiB stripes of four 256 KiB blocks; block j goes
 *   to node j, and nodes 4 and 5 get copies of blocks 0 and 1 in place of parity (the bytes moved
 *   are those of 4+2, the codec is left out: it is ≈ 6 GB/s on one core, §8). One streamed shard
 *   PUT per node, all six answered (each fdatasynced) before the client's 200.
 * - `GET /NAME`: one ranged GET of the whole shard from each of nodes 0..3 (as RemoteStore asks),
 *   read stripe by stripe — a block from each of the four, in parallel — and written to the client.
 * Sizes must be whole stripes (multiples of 1 MiB). Args: tls|plain KEY CERT PORTS
 * [CLIENT_CERT CLIENT_KEY CA] — KEY/CERT for the client-facing HTTPS listener, PORTS the six
 * nodes' ports (comma-separated), and with `tls` the client certificate and CA the gateway uses
 * towards the nodes (mutual TLS). Prints "listening PORT".
 */
import { readFileSync } from 'node:fs'
import {
  Agent as HttpAgent,
  type ClientRequest,
  type IncomingMessage,
  type RequestOptions,
  request as httpRequest,
} from 'node:http'
import { Agent as HttpsAgent, createServer, request as httpsRequest } from 'node:https'
import type { Duplex, Readable } from 'node:stream'
import { createSecureContext } from 'node:tls'
import { CIPHER_STRING, TLS_MAX_VERSION, TLS_MIN_VERSION } from '../../src/runtime/tls-options.ts'

const [mode, keyFile, certFile, portList, clientCertFile, clientKeyFile, caFile] = process.argv.slice(2) as string[]
const K = 4
const M = 2
const BLOCK = 256 * 1024
const STRIPE = K * BLOCK
/** Socket and body buffers as Coffer's Node adapter sets them (src/runtime/node.ts, cluster-fetch.ts). */
const HIGH_WATER_MARK = 1024 * 1024
/** What a node's response may have waiting on the gateway (cluster-fetch.ts RESPONSE_HIGH_WATER_MARK). */
const RESPONSE_HIGH_WATER_MARK = 256 * 1024
const ports = portList!.split(',').map(Number)
if (ports.length !== K + M) throw new Error(`need ${K + M} node ports, got ${portList}`)

const tls = mode === 'tls'
const agent = tls
  ? new HttpsAgent({
      // One secure context for every connection, as cluster-fetch.ts builds it.
      secureContext: createSecureContext({
        ca: readFileSync(caFile!),
        cert: readFileSync(clientCertFile!),
        key: readFileSync(clientKeyFile!),
        minVersion: TLS_MIN_VERSION,
        maxVersion: TLS_MAX_VERSION,
      }),
      keepAlive: true,
      maxFreeSockets: 32,
    })
  : new HttpAgent({ keepAlive: true, maxFreeSockets: 32 })
const sizes = new Map<string, number>()
let hopLogged = false

function raiseWriteHighWaterMark(socket: Duplex): void {
  const state = (socket as Duplex & { _writableState?: { highWaterMark: number } })._writableState
  if (state && state.highWaterMark < HIGH_WATER_MARK) state.highWaterMark = HIGH_WATER_MARK
}

/** A request to node `i`: Nagle off and 1 MiB of writes before 'drain', as cluster-fetch.ts does. */
function nodeRequest(i: number, method: string, path: string, headers: Record<string, string | number> = {}) {
  // highWaterMark: the response's buffer (Node ≥ 20 takes it; @types/node lags), as cluster-fetch.ts.
  const options = {
    agent,
    host: '127.0.0.1',
    port: ports[i],
    method,
    path,
    headers,
    highWaterMark: RESPONSE_HIGH_WATER_MARK,
  } as RequestOptions
  const req: ClientRequest = tls ? httpsRequest(options) : httpRequest(options)
  req.setNoDelay(true)
  req.on('socket', (socket) => {
    raiseWriteHighWaterMark(socket)
    if (tls && !hopLogged)
      socket.once('secureConnect', () => {
        const s = socket as import('node:tls').TLSSocket
        if (!hopLogged) console.error(`node hop: ${s.getProtocol()} ${s.getCipher().name}`)
        hopLogged = true
      })
  })
  return req
}

/** Resolves once `req` has a socket that is connected (and with TLS, past its handshake). */
function ready(req: ClientRequest): Promise<void> {
  req.flushHeaders()
  return new Promise((resolve, reject) => {
    req.once('error', reject)
    const check = (socket: Duplex) => {
      const s = socket as Duplex & { connecting?: boolean; _secureEstablished?: boolean }
      if (tls ? s._secureEstablished : !s.connecting) return resolve()
      socket.once(tls ? 'secureConnect' : 'connect', () => resolve())
    }
    if (req.socket) check(req.socket)
    else req.once('socket', check)
  })
}

/** The answer of a node request: its response (status checked) or its error. */
const answer = (req: ClientRequest) =>
  new Promise<IncomingMessage>((resolve, reject) => {
    req.on('error', reject)
    req.on('response', (res) => {
      if (res.statusCode === 200) return resolve(res)
      res.resume()
      reject(new Error(`node ${req.path}: HTTP ${res.statusCode}`))
    })
  })

/**
 * Exactly `n` bytes at a time from a stream, as views of its own chunks (no copy); the stream is
 * paused while `limit` bytes wait, so memory stays bounded whatever the object size.
 */
class ExactReader {
  private chunks: Buffer[] = []
  private have = 0
  private ended = false
  private failed: Error | undefined
  private wake: (() => void) | undefined

  constructor(
    private readonly s: Readable,
    private readonly limit: number,
  ) {
    s.on('data', (c: Buffer) => {
      this.chunks.push(c)
      this.have += c.length
      if (this.have >= this.limit) s.pause()
      this.wake?.()
    })
    s.on('end', () => {
      this.ended = true
      this.wake?.()
    })
    s.on('error', (e) => {
      this.failed = e
      this.wake?.()
    })
  }

  async take(n: number): Promise<Buffer[]> {
    while (this.have < n) {
      if (this.failed) throw this.failed
      if (this.ended) throw new Error(`stream ended ${n - this.have} bytes short`)
      if (this.s.isPaused()) this.s.resume()
      await new Promise<void>((r) => (this.wake = r))
      this.wake = undefined
    }
    const out: Buffer[] = []
    let need = n
    while (need > 0) {
      const c = this.chunks[0]!
      if (c.length <= need) {
        out.push(c)
        this.chunks.shift()
        need -= c.length
      } else {
        out.push(c.subarray(0, need))
        this.chunks[0] = c.subarray(need)
        need = 0
      }
    }
    this.have -= n
    if (this.have < this.limit && this.s.isPaused()) this.s.resume()
    return out
  }
}

/** Writes a block (views) in one batch (one writev); true when the writable wants no 'drain'. */
function writeBlock(w: { cork(): void; uncork(): void; write(c: Buffer): boolean }, block: Buffer[]): boolean {
  w.cork()
  let ok = true
  for (const c of block) ok = w.write(c)
  w.uncork()
  return ok
}

const drained = (w: NodeJS.EventEmitter) => new Promise((r) => w.once('drain', r))

async function put(name: string, size: number, body: IncomingMessage): Promise<void> {
  const shardLength = size / K
  const reqs = Array.from({ length: K + M }, (_, i) =>
    nodeRequest(i, 'PUT', `/s/${name}.${i}`, { 'content-length': shardLength }),
  )
  const answers = reqs.map(answer)
  // Body writes only once each request has a ready socket: writes queued before that are flushed
  // on assignment without a 'drain' to follow, and the loop below would wait for one forever.
  await Promise.all(reqs.map(ready))
  // Surface a node's failure at once instead of after the body (the loop below would hang on drain).
  const failed = Promise.all(answers).then(() => new Promise<never>(() => {}))
  failed.catch(() => {}) // handled where it is raced; not an unhandled rejection before that
  try {
    const reader = new ExactReader(body, HIGH_WATER_MARK)
    for (let s = 0; s < size / STRIPE; s++) {
      const blocks: Buffer[][] = []
      for (let j = 0; j < K; j++) blocks.push(await reader.take(BLOCK))
      const waits: Promise<unknown>[] = []
      for (let i = 0; i < K + M; i++) {
        // Parity stand-in: nodes 4 and 5 get blocks 0 and 1 again (same bytes on the wire as parity).
        if (!writeBlock(reqs[i]!, blocks[i < K ? i : i - K]!)) waits.push(drained(reqs[i]!))
      }
      if (waits.length) await Promise.race([Promise.all(waits), failed])
    }
    for (const r of reqs) r.end()
    const responses = await Promise.all(answers)
    await Promise.all(responses.map((res) => new Promise((r) => res.once('end', r).resume())))
  } catch (e) {
    for (const r of reqs) r.destroy()
    throw e
  }
}

async function get(name: string, size: number, res: import('node:http').ServerResponse): Promise<void> {
  const shardLength = size / K
  const responses = await Promise.all(
    Array.from({ length: K }, (_, i) => {
      const req = nodeRequest(i, 'GET', `/s/${name}.${i}?offset=0&length=${shardLength}`)
      req.end()
      return answer(req)
    }),
  )
  try {
    const readers = responses.map((r) => new ExactReader(r, 2 * BLOCK))
    res.writeHead(200, { 'content-length': size })
    for (let s = 0; s < size / STRIPE; s++) {
      const blocks = await Promise.all(readers.map((r) => r.take(BLOCK)))
      let ok = true
      for (const b of blocks) ok = writeBlock(res, b)
      if (!ok) await drained(res)
    }
    res.end()
  } catch (e) {
    for (const r of responses) r.destroy()
    throw e
  }
}

const server = createServer(
  {
    key: readFileSync(keyFile!),
    cert: readFileSync(certFile!),
    minVersion: TLS_MIN_VERSION,
    maxVersion: TLS_MAX_VERSION,
    ciphers: CIPHER_STRING,
    honorCipherOrder: true,
    highWaterMark: HIGH_WATER_MARK,
    noDelay: true,
  },
  (req, res) => {
    const name = (req.url ?? '/').slice(1).replace(/[^A-Za-z0-9._-]/g, '_')
    const fail = (e: unknown) => {
      console.error(`relay gateway ${req.method} ${req.url}: ${String(e)}`)
      res.destroy()
    }
    if (req.method === 'PUT') {
      const size = Number(req.headers['content-length'])
      if (!Number.isInteger(size) || size <= 0 || size % STRIPE !== 0)
        return void res.writeHead(400).end(`size must be a positive multiple of ${STRIPE}`)
      put(name, size, req).then(() => {
        sizes.set(name, size)
        res.end()
      }, fail)
      return
    }
    const size = sizes.get(name)
    if (req.method !== 'GET' || size === undefined) return void res.writeHead(404).end()
    get(name, size, res).catch(fail)
  },
)
server.on('secureConnection', raiseWriteHighWaterMark)
server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as { port: number }).port}`))
process.on('SIGTERM', () => {
  agent.destroy()
  server.closeAllConnections()
  server.close(() => process.exit(0))
})
