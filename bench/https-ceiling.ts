/**
 * The ceiling baseline: a bare node:https server (its own process, bench/lib/ceiling-server.ts)
 * that streams uploads into one file per path and downloads back out, on 127.0.0.1 over TLS 1.3.
 */
import { request } from 'node:https'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { patternStream } from '../test/helpers/big-object.ts'
import { selfSignedCert, spawnEntry, tempDir } from './lib/child.ts'
import { tlsAgent } from '../test/helpers/s3-client.ts'

export interface Ceiling {
  pid: number
  /** Uploads `size` bytes to `path` (a stream, or one buffer). */
  put(path: string, body: Readable | Uint8Array, size: number): Promise<void>
  /** Downloads `path`; resolves with the byte count. */
  get(path: string): Promise<number>
  stop(): Promise<void>
}

export async function startCeiling(): Promise<Ceiling> {
  const tmp = tempDir('coffer-ceiling-')
  const { cert, keyFile, certFile } = selfSignedCert(tmp.dir)
  const child = await spawnEntry('https ceiling', join(import.meta.dirname, 'lib/ceiling-server.ts'), [
    tmp.dir,
    keyFile,
    certFile,
  ])
  const agent = tlsAgent({ caPem: cert }, 64)
  const call = (method: string, path: string, body?: Readable | Uint8Array, size = 0) =>
    new Promise<number>((resolve, reject) => {
      const headers = method === 'PUT' ? { 'content-length': size } : {}
      const req = request(
        { host: '127.0.0.1', port: child.port, method, path, agent, headers, timeout: 300_000 },
        (res) => {
          let n = 0
          res.on('data', (c: Buffer) => (n += c.length))
          res.on('end', () =>
            res.statusCode === 200
              ? resolve(n)
              : reject(new Error(`ceiling ${method} ${path}: HTTP ${res.statusCode}`)),
          )
          res.on('error', reject)
        },
      )
      req.on('timeout', () => req.destroy(new Error(`ceiling ${method} ${path}: timed out`)))
      req.on('error', reject)
      if (body instanceof Uint8Array) req.end(body)
      else if (body) body.pipe(req)
      else req.end()
    })
  return {
    pid: child.pid,
    put: async (path, body, size) => void (await call('PUT', path, body, size)),
    get: (path) => call('GET', path),
    stop: async () => {
      agent.destroy()
      await child.stop()
      await tmp.remove()
    },
  }
}

/** One upload and one download of `size` bytes (bench/roundtrip-rss.ts). */
export async function httpsCeiling(size: number): Promise<{ putMs: number; getMs: number }> {
  const ceiling = await startCeiling()
  try {
    let t = performance.now()
    await ceiling.put('/blob', patternStream(size).stream, size)
    const putMs = performance.now() - t
    t = performance.now()
    const got = await ceiling.get('/blob')
    if (got !== size) throw new Error(`ceiling GET returned ${got} of ${size} bytes`)
    return { putMs, getMs: performance.now() - t }
  } finally {
    await ceiling.stop()
  }
}
