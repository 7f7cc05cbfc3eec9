/**
 * The ClusterFetch port for gateway → node requests: trusts only the cluster CA, presents the
 * gateway's client certificate from that CA (mutual TLS: how nodes know a gateway), streams request
 * and response bodies, keeps connections alive. Node: node:https, except shard GETs, read by
 * shard-read.ts without node:http; Deno and Bun: their fetch options.
 */
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https'
import type { ClientRequest, IncomingMessage } from 'node:http'
import { createSecureContext } from 'node:tls'
import { type ClusterFetch, type FetchHints, SHARDS_PATH } from '../storage/remote/protocol.ts'
import { BytePool, releaseWritten } from '../util/byte-pool.ts'
import { nodeWebBody } from './node-web-body.ts'
import { createShardReader } from './shard-read.ts'
import { issueClientCert } from './tls-ca.ts'
import { TLS_MAX_VERSION, TLS_MIN_VERSION } from './tls-options.ts'
import { drained } from './drained.ts'

export type FetchRuntime = 'node' | 'deno' | 'bun'

export interface ClusterFetchHandle extends ClusterFetch {
  /** Closes idle keep-alive connections (call at shutdown). */
  close(): void
}

/**
 * Idle sockets kept per node (the Agent counts per host:port): each object write sends one shard
 * to each of the k+m nodes, so a node sees one request per concurrent S3 request — 32 keeps the
 * connections of 32 concurrent PUTs or GETs (twice the widest bench load, ×16) warm.
 */
const MAX_FREE_SOCKETS = 32
/**
 * How long an idle node connection is kept. Each new one costs a mutual-TLS handshake (an ECDSA
 * signature and a certificate check on both sides), so bursts a minute apart should find their
 * connections open; still below the node's own keep-alive (NODE_KEEP_ALIVE_MS in
 * storage-node.ts, 115 s), so the gateway closes first and a request never races the node's close.
 */
export const FREE_SOCKET_TIMEOUT_MS = 100_000
/**
 * What a node's response may have waiting on the gateway: one block and its CRC (256 KiB by
 * default), as the stripe reader takes one block per shard at a time. With 1 MiB, the 4–6 shard
 * responses of each GET held ≈ 25 MiB of buffers in use, and eight six-node 256 MiB GETs peaked at
 * ≈ 450 MiB of gateway RSS; with 256 KiB, 360 MiB and less CPU per GiB (docs/architecture.md §8).
 */
const RESPONSE_HIGH_WATER_MARK = 256 * 1024
/**
 * Idle bytes kept by the pool of shard-read pieces (shard-read.ts): eight 256 MiB GETs over four
 * data nodes keep ≈ 3 blocks per shard in flight, ≈ 8 MiB.
 */
const SHARD_READ_POOL_IDLE_BYTES = 8 * 1024 * 1024

export function detectRuntime(): FetchRuntime {
  const g = globalThis as { Deno?: unknown; Bun?: unknown }
  if (g.Bun !== undefined) return 'bun'
  if (g.Deno !== undefined) return 'deno'
  return 'node'
}

/** The TLS material of a gateway's node connections. */
export interface ClusterTls {
  /** The cluster CA: the only one trusted for node certificates. */
  caPem: string
  /** The gateway's client certificate chain and key, issued by the cluster CA (tls-ca.ts issueClientCert). */
  cert: string
  key: string
}

/** A fetch that trusts exactly `tls.caPem` (the cluster CA) and presents `tls.cert`, for every runtime. */
export function createClusterFetch(tls: ClusterTls, opts: { runtime?: FetchRuntime } = {}): ClusterFetchHandle {
  const runtime = opts.runtime ?? detectRuntime()
  if (runtime === 'deno') return denoFetch(tls)
  if (runtime === 'bun') return bunFetch(tls)
  return nodeFetch(tls)
}

/**
 * The fetch of a gateway of `cluster`: issues the gateway a client certificate from the cluster CA
 * (the cluster file carries the CA key; the certificate and its key stay in memory) and trusts
 * only that CA for nodes.
 */
export async function createGatewayFetch(
  cluster: { caPem: string; caKeyPem: string },
  opts: { runtime?: FetchRuntime } = {},
): Promise<ClusterFetchHandle> {
  const client = await issueClientCert(cluster)
  return createClusterFetch({ caPem: cluster.caPem, cert: client.cert, key: client.key }, opts)
}

function denoFetch(tls: ClusterTls): ClusterFetchHandle {
  const Deno = (
    globalThis as unknown as {
      Deno: { createHttpClient(o: { caCerts: string[]; cert: string; key: string }): { close(): void } }
    }
  ).Deno
  const client = Deno.createHttpClient({ caCerts: [tls.caPem], cert: tls.cert, key: tls.key })
  const f = ((req: Request) => fetch(req, { client } as RequestInit)) as ClusterFetchHandle
  f.close = () => client.close()
  return f
}

function bunFetch(tls: ClusterTls): ClusterFetchHandle {
  const options = { tls: { ca: tls.caPem, cert: tls.cert, key: tls.key } }
  const f = ((req: Request) => fetch(req, options as RequestInit)) as ClusterFetchHandle
  f.close = () => {}
  return f
}

function responseHeaders(res: IncomingMessage): Headers {
  const h = new Headers()
  const raw = res.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!)
  return h
}

/**
 * node:https with a keep-alive Agent whose `ca` is the cluster CA only, presenting the client certificate (the global fetch cannot
 * take a custom CA without the undici package). Bodies cross as Node streams with 1 MiB buffers.
 */
function nodeFetch(tls: ClusterTls): ClusterFetchHandle {
  // One secure context for every connection: given ca/cert/key instead, tls.connect parses the
  // PEM, loads the key and builds a certificate store again for each new socket.
  const secureContext = createSecureContext({
    ca: tls.caPem,
    cert: tls.cert,
    key: tls.key,
    minVersion: TLS_MIN_VERSION,
    maxVersion: TLS_MAX_VERSION,
  })
  const agent = new Agent({
    secureContext,
    keepAlive: true,
    maxFreeSockets: MAX_FREE_SOCKETS,
    timeout: FREE_SOCKET_TIMEOUT_MS,
    minVersion: TLS_MIN_VERSION,
    maxVersion: TLS_MAX_VERSION,
  })
  // Shard GETs, the bulk of a GET's bytes, skip node:http (shard-read.ts); the rest goes through the Agent.
  const shardReader = createShardReader({
    secureContext,
    maxFreeSockets: MAX_FREE_SOCKETS,
    freeSocketTimeoutMs: FREE_SOCKET_TIMEOUT_MS,
    queueBytes: RESPONSE_HIGH_WATER_MARK,
    pool: new BytePool(SHARD_READ_POOL_IDLE_BYTES),
  })
  const f = ((req: Request, hints?: FetchHints) => {
    const url = new URL(req.url)
    if (req.method === 'GET' && url.pathname.startsWith(`${SHARDS_PATH}/`)) {
      const headers: [string, string][] = []
      req.headers.forEach((v, k) => {
        headers.push([k, v])
      })
      return shardReader.get(url, headers, req.signal, hints?.unit)
    }
    return new Promise<Response>((resolve, reject) => {
      if (url.protocol !== 'https:')
        return reject(new TypeError(`cluster requests must use https, got ${url.protocol}`))
      const headers: Record<string, string> = {}
      req.headers.forEach((v, k) => {
        headers[k] = v
      })
      const out = httpsRequest(
        {
          agent,
          host: url.hostname.replace(/^\[|\]$/g, ''), // IPv6 literals come bracketed from URL
          port: Number(url.port) || 443,
          path: url.pathname + url.search,
          method: req.method,
          headers,
          signal: req.signal,
          // Response socket buffer (Node ≥ 20 accepts it; @types/node lags).
          highWaterMark: RESPONSE_HIGH_WATER_MARK,
        } as RequestOptions,
        (res) => {
          const status = res.statusCode ?? 502
          const noBody = req.method === 'HEAD' || status === 204 || status === 304
          if (noBody) res.resume()
          // Node's own chunks, no copy (node-web-body.ts), read only as the consumer pulls (paused
          // while 1 MiB waits); a response cut short errors the body; cancel destroys the
          // response, so a half-read connection never goes back to the pool.
          const body = noBody ? null : nodeWebBody(res, { queueBytes: RESPONSE_HIGH_WATER_MARK, onCancel: 'destroy' })
          resolve(new Response(body, { status, headers: responseHeaders(res) }))
        },
      )
      // Nagle off: a shard PUT's body goes out as several small writes (chunk framing, a block's
      // CRC, the trailer, the final empty chunk); with Nagle each small write after the first waits
      // for the node's ACK, which Linux delays up to 40 ms — 40 ms added to every shard PUT.
      out.setNoDelay(true)
      out.on('error', reject)
      if (!req.body) return void out.end()
      // A body error destroys the request, so the node sees a cut upload, never a clean end.
      sendBody(req.body, out).catch((e: unknown) => {
        out.destroy(e as Error)
        reject(e)
      })
    })
  }) as ClusterFetchHandle
  f.close = () => {
    agent.destroy()
    shardReader.close()
  }
  return f
}

/**
 * Writes a request body to `out` chunk by chunk, as the socket takes it (waits for 'drain').
 * A chunk leased from a write pool (the stripe writer's parity and joined data blocks) goes back
 * to its pool in its write's callback (releaseWritten), and never before: until then the chunk
 * may still sit in the request's or the socket's queue (the socket is corked for the tick, and a
 * slow node leaves whole blocks queued), and a buffer given back early would be leased again and
 * overwritten while queued — wrong shard bytes. Node calls the callback once the TLS socket has
 * taken the bytes (TLS seals them into records of its own; nothing reads the chunk after). A
 * write that fails (the request cut, destroyed, or the node gone) leaves its chunk to the GC:
 * nothing is given back on an error. The request closing first cancels the body; the body's own
 * error rejects (the caller destroys the request).
 */
async function sendBody(body: ReadableStream<Uint8Array>, out: ClientRequest): Promise<void> {
  const reader = body.getReader()
  let ended = false
  // A read waiting on the producer ends at once (done) when the request goes away meanwhile.
  const onClose = () => {
    if (!ended) reader.cancel(new Error('shard request closed before its body was sent')).catch(() => {})
  }
  out.once('close', onClose)
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (out.destroyed) return
      if (done) break
      if (value.length === 0) continue
      const more = out.write(value, (err) => {
        if (!err) releaseWritten(value)
      })
      if (!more) await drained(out)
    }
    ended = true
    out.end()
  } finally {
    out.off('close', onClose)
  }
}
