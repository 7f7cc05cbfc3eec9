/**
 * Node only: a gateway's shard GETs to storage nodes over its own mutual-TLS sockets, without
 * node:http. Through node:https every 16 KiB TLS record of a node's answer became two fresh
 * ArrayBuffers (TLSWrap's copy of each SSL_read, then node:http's parser's copy of each body
 * piece), and fresh ArrayBuffers are what set off V8's full GCs on a six-node GET
 * (docs/architecture.md §8, "the ceiling of the six-node shape"). Here the records are deciphered
 * into one reused buffer (`tls.connect`'s `onread`), parsed by http1-response.ts, and the body
 * copied once into pieces the reader consumes — with a `unit` hint, pieces of exactly `unit` bytes
 * leased from a BytePool (one holder each, as DiskStore's whole-unit reads), which the read path
 * gives back once it is done with each block.
 *
 * What it keeps of the Agent it replaces for these requests: the same secure context (cluster CA,
 * the gateway's client certificate, TLS versions) and server-identity check, keep-alive
 * connections per node (at most `maxFreeSockets` idle, closed after `freeSocketTimeoutMs`),
 * cancellation by the request's signal. A body cut short errors its stream, never ends it; a
 * cancelled body, an answer with bytes after its end or one that may not be reused closes its
 * connection instead of returning it to the pool. A reused connection that the node closed before
 * answering (a keep-alive race) is retried once on a new one: the request is a GET.
 */
import { isIP } from 'node:net'
import { type ConnectionOptions, connect, type SecureContext, type TLSSocket } from 'node:tls'
import type { BytePool } from '../util/byte-pool.ts'
import { ResponseParser, type ResponseHead, type ResponseSink } from './http1-response.ts'

export interface ShardReaderOptions {
  secureContext: SecureContext
  /** Idle connections kept per node. */
  maxFreeSockets: number
  /** How long an idle connection is kept. */
  freeSocketTimeoutMs: number
  /** Body bytes queued unread before the socket is paused. */
  queueBytes: number
  /** Where the pieces of a 200 answer read with a `unit` hint come from. */
  pool: BytePool
}

export interface ShardReader {
  /** GET `url` (https), with `headers` beside Host; the answer's body in pieces of `unit` bytes when given. */
  get(url: URL, headers: [string, string][], signal: AbortSignal | null, unit?: number): Promise<Response>
  /** Closes every connection (shutdown). */
  close(): void
}

/** The one buffer every connection's records are deciphered into (TLS records carry ≤ 16 KiB). */
const READ_BUFFER_BYTES = 64 * 1024
/** Piece size of bodies read without a `unit` hint (short answers, a v1 shard's header). */
const PIECE_BYTES = 64 * 1024

/** A reused connection ended or failed before any byte of the answer: try a new one. */
class StaleConnection extends Error {}

class Connection {
  exchange: Exchange | undefined
  /** It has carried an answer before (so a close before answering may be the node's keep-alive end). */
  reused = false
  socket!: TLSSocket
  constructor(readonly key: string) {}
}

export function createShardReader(o: ShardReaderOptions): ShardReader {
  const readBuffer = new Uint8Array(READ_BUFFER_BYTES)
  const idle = new Map<string, Connection[]>()
  const all = new Set<Connection>()

  const dropIdle = (conn: Connection) => {
    const list = idle.get(conn.key)
    const at = list?.indexOf(conn) ?? -1
    if (at >= 0) list!.splice(at, 1)
  }

  function open(host: string, port: number, key: string): Connection {
    const conn = new Connection(key)
    // `onread` is a net.Socket option that tls.connect honours too (Node ≥ 14); @types/node lacks it here.
    conn.socket = connect({
      host,
      port,
      // No SNI for an IP address (as node:https); the identity check uses the host either way.
      servername: isIP(host) ? '' : host,
      secureContext: o.secureContext,
      onread: {
        buffer: readBuffer,
        callback: (n: number) => {
          const ex = conn.exchange
          // Bytes nobody asked for: the connection no longer knows where an answer starts.
          if (!ex) conn.socket.destroy()
          else ex.feed(readBuffer.subarray(0, n))
          return true
        },
      },
    } as ConnectionOptions)
    conn.socket.setNoDelay(true)
    all.add(conn)
    const ended = (e?: Error) => conn.exchange?.ended(e)
    conn.socket.on('end', () => ended())
    conn.socket.on('error', (e) => ended(e))
    conn.socket.on('timeout', () => conn.socket.destroy()) // only set while idle
    conn.socket.on('close', () => {
      ended()
      all.delete(conn)
      dropIdle(conn)
    })
    return conn
  }

  /** The exchange is over: the connection goes back to its node's idle list, or is closed. */
  function finished(conn: Connection, reusable: boolean): void {
    conn.exchange = undefined
    conn.reused = true
    const list = idle.get(conn.key) ?? []
    if (!reusable || conn.socket.destroyed || list.length >= o.maxFreeSockets) return void conn.socket.destroy()
    conn.socket.setTimeout(o.freeSocketTimeoutMs)
    conn.socket.unref() // an idle connection does not keep the process alive
    // Its last piece may have paused it: an idle connection reads, so it sees the node close it
    // (and the next answer on it is not left unread).
    conn.socket.resume()
    list.push(conn)
    idle.set(conn.key, list)
  }

  function take(key: string): Connection | undefined {
    const list = idle.get(key)
    while (list?.length) {
      const conn = list.pop()!
      if (conn.socket.destroyed) continue
      conn.socket.setTimeout(0)
      conn.socket.ref()
      return conn
    }
    return undefined
  }

  function send(conn: Connection, head: string, signal: AbortSignal | null, unit?: number): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      const ex = new Exchange(conn, o, unit, resolve, reject, finished)
      conn.exchange = ex
      if (signal) ex.watch(signal)
      conn.socket.write(head)
    })
  }

  return {
    async get(url, headers, signal, unit) {
      signal?.throwIfAborted()
      if (url.protocol !== 'https:') throw new TypeError(`cluster requests must use https, got ${url.protocol}`)
      const host = url.hostname.replace(/^\[|\]$/g, '') // IPv6 literals come bracketed from URL
      const port = Number(url.port) || 443
      const key = `${host}:${port}`
      let head = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`
      for (const [k, v] of headers) head += `${k}: ${v}\r\n`
      head += '\r\n'
      const reused = take(key)
      if (reused) {
        try {
          return await send(reused, head, signal, unit)
        } catch (e) {
          if (!(e instanceof StaleConnection)) throw e
        }
      }
      return send(open(host, port, key), head, signal, unit)
    },
    close() {
      for (const conn of all) conn.socket.destroy()
      idle.clear()
    },
  }
}

/** One request's answer on one connection: parses it, hands on its head and its body's pieces. */
class Exchange implements ResponseSink {
  private readonly parser = new ResponseParser(this)
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined
  private answered = false
  private over = false
  private keepAlive = false
  /** The piece being filled, its fill level and the body bytes not yet given a piece (length framing). */
  private piece: Uint8Array | undefined
  private fill = 0
  private unclaimed: number | undefined
  private pooled = false
  private unwatch = () => {}

  constructor(
    private readonly conn: Connection,
    private readonly o: ShardReaderOptions,
    private readonly unit: number | undefined,
    private readonly resolve: (r: Response) => void,
    private readonly reject: (e: unknown) => void,
    private readonly finished: (conn: Connection, reusable: boolean) => void,
  ) {}

  watch(signal: AbortSignal): void {
    const onAbort = () => this.fail(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    this.unwatch = () => signal.removeEventListener('abort', onAbort)
  }

  feed(bytes: Uint8Array): void {
    if (this.over) return
    try {
      this.parser.push(bytes)
    } catch (e) {
      this.fail(e)
      return
    }
    if (this.parser.done) this.done(this.keepAlive && this.parser.trailing === 0)
  }

  /** The connection ended, failed or closed while this exchange had it. */
  ended(e?: Error): void {
    if (this.over) return
    if (!this.parser.started && this.conn.reused)
      this.fail(new StaleConnection(`connection closed before answering${e ? `: ${e.message}` : ''}`))
    else if (e) this.fail(e)
    else {
      try {
        this.parser.close() // a close-framed body ends here; anything else unfinished is cut
      } catch (err) {
        this.fail(err)
        return
      }
      this.done(false)
    }
  }

  head(h: ResponseHead): void {
    this.answered = true
    this.keepAlive = h.keepAlive
    this.pooled = h.status === 200 && this.unit !== undefined && Number.isSafeInteger(this.unit) && this.unit > 0
    if (h.framing.kind === 'length') this.unclaimed = h.framing.length
    const noBody = h.status === 204 || h.status === 205 || h.status === 304
    const body = noBody
      ? null
      : new ReadableStream<Uint8Array>(
          {
            start: (c) => {
              this.controller = c
            },
            pull: () => {
              if (!this.over) this.conn.socket.resume()
            },
            // A half-read connection never goes back to the pool.
            cancel: (reason) => this.fail(reason),
          },
          { highWaterMark: this.o.queueBytes, size: (chunk) => chunk.byteLength },
        )
    this.resolve(new Response(body, { status: h.status, headers: h.headers }))
  }

  body(bytes: Uint8Array): void {
    let i = 0
    while (i < bytes.length) {
      this.piece ??= this.newPiece()
      const n = Math.min(this.piece.length - this.fill, bytes.length - i)
      this.piece.set(bytes.subarray(i, i + n), this.fill)
      this.fill += n
      i += n
      if (this.fill === this.piece.length) this.flush()
    }
  }

  end(): void {
    if (this.fill > 0) this.flush()
    this.controller?.close()
  }

  /** A piece of `unit` bytes from the pool, or fresh when shorter (the last block) or unhinted. */
  private newPiece(): Uint8Array {
    let size = this.pooled ? this.unit! : PIECE_BYTES
    if (this.unclaimed !== undefined) {
      size = Math.min(size, this.unclaimed)
      this.unclaimed -= size
    }
    return this.pooled && size === this.unit ? this.o.pool.lease(size, 1) : new Uint8Array(size)
  }

  private flush(): void {
    const c = this.controller!
    c.enqueue(this.fill === this.piece!.length ? this.piece! : this.piece!.subarray(0, this.fill))
    this.piece = undefined
    this.fill = 0
    if ((c.desiredSize ?? 0) <= 0) this.conn.socket.pause()
  }

  private done(reusable: boolean): void {
    this.over = true
    this.unwatch()
    this.finished(this.conn, reusable)
  }

  /** The answer cannot be completed: the head's promise rejects, or the body errors; the connection is closed. */
  private fail(e: unknown): void {
    if (this.over) return
    this.over = true
    this.unwatch()
    this.conn.exchange = undefined
    this.conn.socket.destroy()
    this.piece = undefined
    if (!this.answered) this.reject(e)
    else
      try {
        this.controller?.error(e)
      } catch {
        // already closed or cancelled
      }
  }
}
