/**
 * Child entry of bench/relay-ceiling.ts: a do-nothing storage "node". No S3, no CRC, no fan-out
 * directories, no rename: `PUT /s/NAME` streams the body into DIR/NAME and fdatasyncs it before
 * answering (Coffer's node syncs every shard file before it answers, docs/architecture.md §8);
 * `GET /s/NAME?offset=N&length=N` sends that range from the file (in the page cache) in 256 KiB
 * reads into reused buffers, as Coffer's node fast path does (src/runtime/node-shard-routes.ts).
 * Args: DIR tls KEY CERT CA (mutual TLS: only clients with a certificate from CA, Coffer's server
 * TLS options) or DIR plain (HTTP over TCP); `tls-nosync` / `plain-nosync` skip the fdatasync.
 * Prints "listening PORT".
 */
import { close as closeCb, createWriteStream, fdatasync as fdatasyncCb, open as openCb, readFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { promisify } from 'node:util'
import { CIPHER_STRING, TLS_MAX_VERSION, TLS_MIN_VERSION } from '../../src/runtime/tls-options.ts'

const [dir, mode, keyFile, certFile, caFile] = process.argv.slice(2) as [string, string, string?, string?, string?]
const tls = mode.startsWith('tls')
/** `…-nosync`: no fdatasync (what durability costs the PUT floor; not what Coffer does). */
const sync = !mode.endsWith('-nosync')
/** Coffer's default block (src/storage/geometry.ts DEFAULT_BLOCK_SIZE): one read per block. */
const READ_UNIT = 256 * 1024
/** Socket and body buffers as Coffer's Node adapter sets them (BODY_HIGH_WATER_MARK, src/runtime/node.ts). */
const HIGH_WATER_MARK = 1024 * 1024

const NAME = /^\/s\/([A-Za-z0-9._-]+)(?:\?offset=(\d+)&length=(\d+))?$/
const free: Buffer[] = []

/** Response writes batch up to 1 MiB before 'drain', as Coffer's raiseWriteHighWaterMark does. */
function raiseWriteHighWaterMark(socket: Duplex): void {
  const state = (socket as Duplex & { _writableState?: { highWaterMark: number } })._writableState
  if (state && state.highWaterMark < HIGH_WATER_MARK) state.highWaterMark = HIGH_WATER_MARK
}

const openFd = promisify(openCb)
const fdatasync = promisify(fdatasyncCb)
const closeFd = promisify(closeCb)

async function put(file: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // A numeric fd, not a FileHandle: a FileHandle given to createWriteStream never settled the
  // datasync() that followed (Node 20.20).
  const fd = await openFd(file, 'w')
  try {
    await pipeline(req, createWriteStream('', { fd, autoClose: false, highWaterMark: HIGH_WATER_MARK }))
    if (sync) await fdatasync(fd)
  } finally {
    await closeFd(fd)
  }
  res.end()
}

async function get(file: string, offset: number, length: number, res: ServerResponse): Promise<void> {
  const fh = await open(file, 'r')
  try {
    res.writeHead(200, { 'content-length': length })
    let at = offset
    const end = offset + length
    while (at < end) {
      const buf = free.pop() ?? Buffer.allocUnsafe(READ_UNIT)
      const { bytesRead } = await fh.read(buf, 0, Math.min(READ_UNIT, end - at), at)
      if (bytesRead === 0) throw new Error(`${file}: short read at ${at}`)
      at += bytesRead
      // The buffer goes back to the pool once the socket has taken it (write callback).
      const ok = res.write(buf.subarray(0, bytesRead), () => free.push(buf))
      if (!ok && at < end) await new Promise((r) => res.once('drain', r))
    }
    res.end()
  } finally {
    await fh.close()
  }
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const m = NAME.exec(req.url ?? '')
  if (!m) return void res.writeHead(400).end()
  const file = join(dir, m[1]!)
  const done =
    req.method === 'PUT'
      ? put(file, req, res)
      : req.method === 'GET' && m[2] !== undefined
        ? get(file, Number(m[2]), Number(m[3]), res)
        : Promise.resolve(void res.writeHead(405).end())
  done.catch((e: unknown) => {
    console.error(`relay node ${req.method} ${req.url}: ${String(e)}`)
    res.destroy()
  })
}

const common = { highWaterMark: HIGH_WATER_MARK, noDelay: true, keepAliveTimeout: 115_000 }
const server = tls
  ? createHttpsServer(
      {
        ...common,
        key: readFileSync(keyFile!),
        cert: readFileSync(certFile!),
        ca: readFileSync(caFile!),
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: TLS_MIN_VERSION,
        maxVersion: TLS_MAX_VERSION,
        ciphers: CIPHER_STRING,
        honorCipherOrder: true,
      },
      handle,
    )
  : createHttpServer(common, handle)
server.on(tls ? 'secureConnection' : 'connection', raiseWriteHighWaterMark)
server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as { port: number }).port}`))
process.on('SIGTERM', () => {
  server.closeAllConnections()
  server.close(() => process.exit(0))
})
