/**
 * The Deno adapter and entry (`deno task start`): Deno.serve with TLS (rustls), signals through
 * Deno.addSignalListener. Checked by `deno check` against Deno's types; reuses cli.ts and bootstrap.ts.
 */
import type { RunningServer, RuntimeAdapter, ServeOptions } from './adapter.ts'
import { main } from './cli.ts'

function serve(o: ServeOptions): Promise<RunningServer> {
  // Deno.serve cannot demand client certificates: a storage node (mutual TLS) must not run open.
  if (o.clientCa !== undefined)
    return Promise.reject(
      new Error('Deno.serve cannot require client certificates (mutual TLS): run storage nodes on Node or Bun'),
    )
  return new Promise((resolve, reject) => {
    let server: Deno.HttpServer
    try {
      server = Deno.serve(
        {
          hostname: o.host,
          port: o.port,
          cert: o.cert,
          key: o.key,
          // Passing onListen also stops Deno from printing its own "Listening on" line.
          onListen: ({ port }) => resolve({ port, close: (graceMs) => close(server, graceMs) }),
          onError: () => new Response('internal error', { status: 500 }),
        },
        // Deno keeps the request target as sent in Request.url (no dot-segment folding): see the
        // raw-target test in test/runtimes.
        (req, info) => o.fetch(req, { connection: `${info.remoteAddr.hostname}:${info.remoteAddr.port}` }),
      )
    } catch (e) {
      reject(e)
    }
  })
}

/** shutdown() waits for requests in flight; after `graceMs` stop waiting (the process exits next). */
async function close(server: Deno.HttpServer, graceMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([server.shutdown(), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))])
  clearTimeout(timer)
}

export function denoAdapter(): RuntimeAdapter {
  return {
    name: 'deno',
    serve,
    // rustls speaks only TLS 1.2/1.3 with AEAD suites, so the policy holds without configuration.
    limits: [],
    onSignals(signals, cb) {
      for (const s of signals) Deno.addSignalListener(s, () => cb(s))
    },
    exit: (code) => Deno.exit(code),
  }
}

if (import.meta.main) {
  const code = await main(Deno.args, denoAdapter(), Deno.env.toObject())
  if (code !== undefined) Deno.exit(code)
}
