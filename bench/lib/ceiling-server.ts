/**
 * Child entry of the HTTPS ceiling: a bare node:https server on 127.0.0.1 that streams each PUT
 * into one file per path and each GET back out (1 MiB reads). Args: DIR KEY CERT. Prints "listening PORT".
 */
import { createReadStream, createWriteStream, readFileSync, statSync } from 'node:fs'
import { createServer } from 'node:https'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'

const [dir, keyFile, certFile] = process.argv.slice(2) as [string, string, string]
const fileOf = (url = '/') => join(dir, `f-${encodeURIComponent(url.slice(1))}`)

const server = createServer(
  { key: readFileSync(keyFile), cert: readFileSync(certFile), minVersion: 'TLSv1.3' },
  (req, res) => {
    const file = fileOf(req.url)
    if (req.method === 'PUT') {
      pipeline(req, createWriteStream(file)).then(
        () => res.end('ok'),
        () => res.destroy(),
      )
      return
    }
    let size: number
    try {
      size = statSync(file).size
    } catch {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-length': size })
    pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), res).catch(() => res.destroy())
  },
)
// As Coffer's gateway (30 s, src/runtime/node.ts), longer than the bench's pauses between cells: with
// Node's default 5 s the server could close an idle socket just as the client reused it ("socket hang up").
server.keepAliveTimeout = 30_000
server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as { port: number }).port}`))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
