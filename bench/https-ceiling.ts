/**
 * The ceiling baseline: a bare node:https server that streams an upload into one file and a
 * download back out of it, on 127.0.0.1 with a throwaway self-signed certificate.
 */
import { execFileSync } from 'node:child_process'
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { patternStream } from '../test/helpers/big-object.ts'

export async function httpsCeiling(size: number): Promise<{ putMs: number; getMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-ceiling-'))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
  const cert = readFileSync(join(dir, 'cert.pem'))
  const file = join(dir, 'blob')
  const server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert, minVersion: 'TLSv1.3' }, (req, res) => {
    if (req.method === 'PUT') pipeline(req, createWriteStream(file)).then(() => res.end('ok'), () => res.destroy())
    else pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), res).catch(() => {})
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  const call = (method: string, body?: NodeJS.ReadableStream) => new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: '/blob', ca: cert, headers: body ? { 'content-length': size } : {} }, (res) => {
      res.on('data', () => {})
      res.on('end', resolve)
      res.on('error', reject)
    })
    req.on('error', reject)
    if (body) body.pipe(req)
    else req.end()
  })
  try {
    let t = performance.now()
    await call('PUT', patternStream(size).stream)
    const putMs = performance.now() - t
    t = performance.now()
    await call('GET')
    return { putMs, getMs: performance.now() - t }
  } finally {
    server.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
