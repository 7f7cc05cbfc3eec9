/**
 * What bootstrap needs from a runtime: a TLS listener serving a fetch function, signal hooks and
 * exit. Implemented by node.ts, deno.ts and bun.ts; types only here.
 */
import type { ShardStore } from '../storage/shard-store.ts'
import type { Logger } from '../util/log.ts'

/** What a runtime knows about a request beyond the Request itself. */
export interface RequestInfo {
  /** The request target exactly as received, when the runtime exposes it. */
  rawTarget?: string
  /** The client connection as `address:port` (unique among open connections). */
  connection?: string
}

/** The app's entry. */
export type FetchHandler = (req: Request, info: RequestInfo) => Response | Promise<Response>

export interface ServeOptions {
  fetch: FetchHandler
  host: string
  /** 0 asks the OS for a free port. */
  port: number
  /** PEM: certificate chain and private key. */
  cert: string
  key: string
  /**
   * PEM of a CA: when given, the server demands a client certificate issued by it (mutual TLS)
   * and refuses the handshake without one — a storage node gives the cluster CA, so only gateways
   * of its cluster get in (docs/architecture.md §1). Absent: no client certificate is asked for.
   */
  clientCa?: string
  /**
   * How long an idle keep-alive connection is kept open between requests (default: the
   * runtime's S3-facing value, 30 s on Node). A storage node keeps its gateways' connections
   * longer, so bursts of shard requests do not pay a new mutual-TLS handshake each (Node only:
   * Bun closes idle connections after its own idleTimeout, Deno does not run nodes).
   */
  keepAliveTimeoutMs?: number
  /**
   * The answer for a client that ends its side of the connection before sending the body its
   * Content-Length declared, where the runtime's HTTP parser meets that first and would
   * otherwise answer a bare 400 (Node): the app's own error, in its own format.
   */
  incompleteBody?: () => RawAnswer
  /**
   * A storage node's shard store: a runtime may serve the node's two hot routes (PUT and GET of
   * /v2/shards/<name>) from it directly instead of through `fetch`, answering exactly as `fetch`
   * would. Node does (src/runtime/node-shard-routes.ts); Bun passes every request to `fetch`.
   */
  shards?: { store: ShardStore; logger: Logger }
}

/** A small complete answer a runtime writes itself: status, headers and a text body. */
export interface RawAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

export interface RunningServer {
  /** The real port (never 0). */
  port: number
  /** Stops accepting, lets requests in flight finish for up to `graceMs`, then drops the rest. */
  close(graceMs: number): Promise<void>
}

/** Where commands print: standard output and standard error, one text at a time. */
export interface Output {
  out(text: string): void
  err(text: string): void
}

export interface RuntimeAdapter {
  name: 'node' | 'deno' | 'bun'
  /** Resolves once listening; rejects with a clear message (e.g. port in use). */
  serve(o: ServeOptions): Promise<RunningServer>
  /** What this runtime cannot do as the others do (TLS policy, raw request targets); logged at start. */
  limits: string[]
  onSignals(signals: Array<'SIGINT' | 'SIGTERM'>, cb: (signal: string) => void): void
  exit(code: number): never
}
