/**
 * The ClusterFetch port for gateway → node requests: trusts only the cluster CA, presents the
 * gateway's client certificate from that CA (mutual TLS: how nodes know a gateway), streams request
 * and response bodies, keeps connections alive. Node: node:https; Deno and Bun: their fetch options.
 */
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https'
import type { IncomingMessage } from 'node:http'
import { createSecureContext } from 'node:tls'
import { finished, Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ClusterFetch } from '../storage/remote/protocol.ts'
import { issueClientCert } from './tls-ca.ts'
import { TLS_MAX_VERSION, TLS_MIN_VERSION } from './tls-options.ts'

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
 * Stream buffer size on both body directions: Node's 16 KiB default halves loopback TLS throughput
 * (docs/architecture.md §8). Same value as the server adapter's BODY_HIGH_WATER_MARK (not imported: node.ts
 * pulls in @hono/node-server, which the Deno and Bun paths must not load).
 */
const BODY_HIGH_WATER_MARK = 1024 * 1024

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

/**
 * Largest chunk a node response body hands on: one block of the default geometry. A reader keeps
 * views of a chunk (the block cursor hands a block on without copying when one chunk holds it), so
 * a bigger chunk would keep more memory alive per shard stream.
 */
export const BODY_CHUNK_BYTES = 256 * 1024

/**
 * A node's response body as a Web stream that reads the response only as its consumer pulls, and
 * hands on at each pull what has arrived, up to BODY_CHUNK_BYTES, as one chunk (Readable.read(n)
 * joins it).
 *
 * Readable.toWeb did neither: it passed each 16 KiB TLS record on as its own chunk (each crossing
 * RemoteStore's stream and the block cursor as its own round of promise jobs), and its queue counts
 * chunks, not bytes, against the high-water mark, so it never stopped reading: a shard range was
 * drained into gateway memory as fast as the node sent it (docs/architecture.md §8). Here the
 * response's own buffer (BODY_HIGH_WATER_MARK) is the bound: once it is full the HTTP parser
 * pauses the socket, and TCP holds the node back. What a stream holds never grows with the range.
 *
 * A body cut short (reset, premature close) errors the stream once what arrived is handed on.
 * Cancelling it destroys the response and its connection, unless the body has wholly arrived.
 * Bounded either way: the most a stream holds is the response's buffer (or, once the body has
 * wholly arrived, that buffer's bytes taken out of it).
 */
export function nodeBody(res: Readable): ReadableStream<Uint8Array> {
  let wake: (() => void) | undefined
  let ended = false
  let failure: { e: unknown } | undefined
  /** The body's last bytes, taken out of the response once all of it has arrived (see onReadable). */
  const tail: Buffer[] = []
  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  // The connection goes back to the pool only on the response's 'end', which comes once its
  // buffer is read empty; a block reader stops at its range's last byte and never asks for the
  // end. So once the whole body has arrived (at most the response's buffer is left), it is taken
  // out here at once, and the connection is free for the next request as with Readable.toWeb.
  // ('readable' always fires at the body's end.)
  const onReadable = () => {
    if ((res as IncomingMessage).complete)
      for (let c = res.read() as Buffer | null; c !== null; c = res.read() as Buffer | null) tail.push(c)
    notify()
  }
  res.on('readable', onReadable)
  finished(res, (err) => {
    if (err) failure = { e: err }
    ended = true
    notify()
  })
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          const first = tail[0]
          if (first) {
            if (first.length <= BODY_CHUNK_BYTES) tail.shift()
            else tail[0] = first.subarray(BODY_CHUNK_BYTES)
            return controller.enqueue(first.subarray(0, BODY_CHUNK_BYTES))
          }
          // What has arrived, up to a chunk: never waiting for more, since a block (256 KiB and
          // its CRC) does not line up with fixed 256 KiB chunks, and waiting for whole chunks
          // held each block back until most of the next had come too (slower single-stream GETs
          // in bench/nodes-ab.ts). A reader slower than the node (the usual case under load)
          // finds a whole chunk buffered. read() with nothing buffered returns null and asks for
          // a 'readable' (or lets 'end' come).
          const buffered = res.readableLength
          const chunk = (buffered > 0 ? res.read(Math.min(buffered, BODY_CHUNK_BYTES)) : res.read()) as Buffer | null
          if (chunk !== null) return controller.enqueue(chunk)
          if (failure) throw failure.e
          if (ended) return controller.close()
          await new Promise<void>((r) => {
            wake = r
          })
        }
      },
      cancel(reason) {
        tail.length = 0
        // Wholly arrived: dropping the buffered rest frees the connection; else cut it.
        if ((res as IncomingMessage).complete) {
          // resume() does nothing while a 'readable' listener is attached.
          res.off('readable', onReadable)
          res.resume()
        } else res.destroy(reason instanceof Error ? reason : undefined)
      },
    },
    { highWaterMark: 0 },
  )
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
  const f = ((req: Request) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(req.url)
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
          highWaterMark: BODY_HIGH_WATER_MARK,
        } as RequestOptions,
        (res) => {
          const status = res.statusCode ?? 502
          const noBody = req.method === 'HEAD' || status === 204 || status === 304
          if (noBody) res.resume()
          const body = noBody ? null : nodeBody(res)
          resolve(new Response(body, { status, headers: responseHeaders(res) }))
        },
      )
      // Nagle off: a shard PUT's body goes out as several small writes (chunk framing, a block's
      // CRC, the trailer, the final empty chunk); with Nagle each small write after the first waits
      // for the node's ACK, which Linux delays up to 40 ms — 40 ms added to every shard PUT.
      out.setNoDelay(true)
      out.on('error', reject)
      if (!req.body) return void out.end()
      // pipeline destroys the request on a body error, so the node sees a cut upload, never a clean end.
      pipeline(
        Readable.fromWeb(req.body as import('node:stream/web').ReadableStream<Uint8Array>, {
          highWaterMark: BODY_HIGH_WATER_MARK,
        }),
        out,
      ).catch((e: unknown) => {
        out.destroy(e as Error)
        reject(e)
      })
    })) as ClusterFetchHandle
  f.close = () => agent.destroy()
  return f
}
