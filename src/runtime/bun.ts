/**
 * The Bun adapter and entry (`bun src/runtime/bun.ts server`): Bun.serve with TLS (BoringSSL).
 * Checked against Bun's types by tsconfig.bun.json; reuses cli.ts and bootstrap.ts.
 */
import process from 'node:process'
import type { RunningServer, RuntimeAdapter, ServeOptions } from './adapter.ts'
import { main } from './cli.ts'
import { TLS12_CIPHERS } from './tls-options.ts'
import { settleUnreadWebBody } from './unread-web-body.ts'

/**
 * Bun rejects bodies above 128 MiB by default; S3 allows 5 GiB per PUT or part, plus aws-chunked
 * framing (about 90 bytes per chunk of ≥ 8 KiB): 6 GiB leaves room for both.
 */
const MAX_REQUEST_BODY = 6 * 1024 ** 3
/** Seconds a connection may stay silent (Bun's maximum is 255; its default of 10 cuts slow clients). */
const IDLE_TIMEOUT_S = 120
/** OpenSSL/BoringSSL SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1: refuse anything below TLS 1.2. */
const NO_TLS_BELOW_12 = 0x04000000 | 0x10000000

async function serve(o: ServeOptions): Promise<RunningServer> {
  const server = Bun.serve({
    hostname: o.host,
    port: o.port,
    tls: {
      cert: o.cert,
      key: o.key,
      ciphers: TLS12_CIPHERS.join(':'),
      secureOptions: NO_TLS_BELOW_12,
      ...(o.clientCa !== undefined ? { ca: o.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
    },
    maxRequestBodySize: MAX_REQUEST_BODY,
    idleTimeout: IDLE_TIMEOUT_S,
    fetch: async (req, srv) => {
      const ip = srv.requestIP(req)
      const res = await o.fetch(req, { connection: ip ? `${ip.address}:${ip.port}` : undefined })
      // Bun has already sent `100 Continue`: a refused body is on its way (src/runtime/unread-web-body.ts).
      return settleUnreadWebBody(req, res)
    },
    error: () => new Response('internal error', { status: 500 }),
  })
  // Bun leaves port undefined only for a unix socket, which a hostname and port never give.
  const port = server.port
  if (port === undefined) {
    await server.stop(true)
    throw new Error(`Bun.serve(${o.host}:${o.port}) reported no TCP port`)
  }
  return {
    port,
    async close(graceMs) {
      let timer: ReturnType<typeof setTimeout> | undefined
      // stop() resolves once requests in flight finish; after graceMs cut them.
      const graceful = server.stop(false)
      await Promise.race([graceful, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))])
      clearTimeout(timer)
      await server.stop(true)
    },
  }
}

export function bunAdapter(): RuntimeAdapter {
  return {
    name: 'bun',
    serve,
    limits: [
      // Bun folds '/./' and '/../' in Request.url and exposes no raw target, so such object keys
      // (legal in S3, rare in practice) are not addressable on Bun. Node and Deno keep them.
      "request paths are normalised by Bun: object keys containing '/./' or '/../' segments are not supported",
    ],
    onSignals(signals, cb) {
      for (const s of signals) process.on(s, () => cb(s))
    },
    exit: (code) => process.exit(code),
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2), bunAdapter(), process.env)
  if (code !== undefined) process.exit(code)
}
