/**
 * The gateway's request-body bridge alone, in one process: the same @hono/node-server HTTPS
 * server reads whole PUT bodies through `req.body`, either as @hono/node-server builds it
 * (`Readable.toWeb(incoming)` behind a pulling ReadableStream: `lib`) or through
 * src/runtime/node-web-body.ts as the Node adapter gives it (`bridge`). Nothing else runs per
 * byte (no S3 handler, no hashing, no disk), so the difference is the bridge's own CPU. The client
 * is a child process (its CPU not counted) sending SIZE_MIB bodies N at a time per round; modes
 * interleave, order reversed every other round. Prints the server's CPU s per GiB received.
 * Usage: node --import tsx bench/body-bridge.ts   Env: ROUNDS (6), N (4), SIZE_MIB (64)
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import { createServer, type Server } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAdaptorServer, type HttpBindings } from '@hono/node-server'
import { nodeWebBody } from '../src/runtime/node-web-body.ts'
import { ensureLocalTls } from '../src/runtime/tls-ca.ts'

const MiB = 1024 * 1024
const SIZE = Number(process.env.SIZE_MIB ?? 64) * MiB
const N = Number(process.env.N ?? 4)
const ROUNDS = Number(process.env.ROUNDS ?? 6)
type Mode = 'lib' | 'bridge'
let mode: Mode = 'lib'

const dir = await mkdtemp(join(tmpdir(), 'coffer-body-bridge-'))
const tls = await ensureLocalTls(dir)
const server = createAdaptorServer({
  fetch: async (req: Request, env: unknown) => {
    if (mode === 'bridge') {
      const incoming = (env as HttpBindings).incoming as IncomingMessage
      let body: ReadableStream<Uint8Array> | undefined
      Object.defineProperty(req, 'body', {
        get: () => (body ??= nodeWebBody(incoming, { queueBytes: MiB, onCancel: 'pause' })),
      })
    }
    let n = 0
    const reader = req.body!.getReader()
    for (let r = await reader.read(); !r.done; r = await reader.read()) n += r.value.byteLength
    return new Response(String(n))
  },
  createServer,
  serverOptions: { cert: tls.cert, key: tls.key, highWaterMark: MiB },
}) as Server
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
const port = (server.address() as { port: number }).port

const CLIENT = `
const { request, Agent } = require('node:https')
const [port, size, n] = process.argv.slice(1).map(Number)
const agent = new Agent({ keepAlive: true, rejectUnauthorized: false })
const buf = Buffer.alloc(1 << 20, 7)
const one = () => new Promise((res, rej) => {
  const r = request({ host: '127.0.0.1', port, method: 'PUT', path: '/', agent, headers: { 'content-length': size } },
    (x) => { x.resume(); x.on('end', res) })
  r.on('error', rej)
  let sent = 0
  const go = () => { while (sent < size) { sent += buf.length; if (!r.write(buf)) return void r.once('drain', go) } r.end() }
  go()
})
process.on('message', async () => { for (let i = 0; i < n; i++) await one(); process.send('ok') })
`
const child = spawn(process.execPath, ['-e', CLIENT, String(port), String(SIZE), String(N)], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
})
const round = () =>
  new Promise<void>((resolve) => {
    child.once('message', () => resolve())
    child.send('go')
  })

const cpu: Record<Mode, number[]> = { lib: [], bridge: [] }
for (let r = 0; r < ROUNDS; r++) {
  for (const m of (r % 2 ? ['bridge', 'lib'] : ['lib', 'bridge']) as Mode[]) {
    mode = m
    const c0 = process.cpuUsage()
    await round()
    const c = process.cpuUsage(c0)
    cpu[m].push((c.user + c.system) / 1e6 / ((SIZE * N) / (1024 * MiB)))
  }
}
const median = (l: number[]) => [...l].sort((a, b) => a - b)[l.length >> 1]!
for (const m of ['lib', 'bridge'] as Mode[])
  console.log(
    `${m.padEnd(7)} cpu_s_GiB median ${median(cpu[m]).toFixed(2)}  all ${cpu[m].map((v) => v.toFixed(2)).join(' ')}`,
  )
child.kill()
server.close()
await rm(dir, { recursive: true, force: true })
