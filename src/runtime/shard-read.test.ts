/**
 * Shard GETs without node:http (shard-read.ts), through the gateway's ClusterFetch as RemoteStore
 * uses it, against a real mutual-TLS HTTPS server on 127.0.0.1: keep-alive reuse, a cut answer, a
 * cancelled body, error answers, a keep-alive close raced by a request, backpressure, unit-sized
 * pieces, and the same certificate checks as the Agent.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SHARDS_PATH } from '../storage/remote/protocol.ts'
import { type ClusterFetchHandle, createClusterFetch } from './cluster-fetch.ts'
import { CA_KEY_FILE, ensureLocalTls, issueClientCert, TLS_DIR } from './tls-ca.ts'

const KiB = 1024
const MiB = 1024 * KiB
/** Every wait in these tests gives up after this long. */
const WAIT_MS = 20_000
const BIG = 64 * MiB
/** A block and its CRC32: the unit the read path asks for. */
const UNIT = 256 * KiB + 4

let dir: string
let server: Server
let base: string
let fetch: ClusterFetchHandle
let caPem: string
let clientTls: { cert: string; key: string }
/** TLS connections the server accepted (from a client with a certificate of the CA). */
let connections = 0
/** Sockets that closed while a /slow answer was unfinished. */
let cutShort: Promise<void> | undefined
let bigSent = 0
/** Requests seen per connection, for the /stale route. */
const seen = new WeakMap<Socket, number>()

const bounded = <T>(p: Promise<T>, what: string): Promise<T> =>
  Promise.race([
    p,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: not within ${WAIT_MS} ms`)), WAIT_MS),
    ),
  ])
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const get = (path: string, unit?: number, signal?: AbortSignal) =>
  bounded(fetch(new Request(`${base}${SHARDS_PATH}/${path}`, { signal }), unit ? { unit } : undefined), `GET ${path}`)

/** Every piece of a body, or 'errored' when it fails. */
async function pieces(res: Response): Promise<Uint8Array[] | 'errored'> {
  const out: Uint8Array[] = []
  const reader = res.body!.getReader()
  try {
    for (;;) {
      const r = await bounded(reader.read(), 'read')
      if (r.done) return out
      out.push(r.value)
    }
  } catch {
    return 'errored'
  }
}

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 255)

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-shard-read-'))
  const tls = await ensureLocalTls(dir)
  caPem = tls.caPem
  clientTls = await issueClientCert({ caPem, caKeyPem: await readFile(join(dir, TLS_DIR, CA_KEY_FILE), 'utf8') })
  // As a storage node: only clients with a certificate from the cluster CA get in.
  server = createServer(
    { cert: tls.cert, key: tls.key, ca: caPem, requestCert: true, rejectUnauthorized: true, keepAliveTimeout: 60_000 },
    (req, res) => {
      const name = (req.url ?? '').slice(SHARDS_PATH.length + 1).split('?')[0]
      const n = (seen.get(req.socket) ?? 0) + 1
      seen.set(req.socket, n)
      if (name === 'small') {
        const body = pattern(2500)
        res.writeHead(200, { 'content-length': String(body.length) })
        res.end(body)
      } else if (name === 'units') {
        // Two whole units of the tests' hint: each piece fills the reader's queue.
        const body = pattern(2 * UNIT)
        res.writeHead(200, { 'content-length': String(body.length) })
        res.end(body)
      } else if (name === 'missing') {
        const body = JSON.stringify({ message: 'shard missing not found' })
        res.writeHead(404, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) })
        res.end(body)
      } else if (name === 'chunked') {
        res.writeHead(503, { 'content-type': 'application/json' }) // no length: Node sends it chunked
        res.write('{"message":')
        res.end('"busy"}')
      } else if (name === 'cut') {
        res.writeHead(200, { 'content-length': String(MiB) })
        res.write(Buffer.alloc(256 * KiB, 1), () => res.socket?.destroy())
      } else if (name === 'slow') {
        res.writeHead(200, { 'content-length': String(4 * MiB) })
        res.write(Buffer.alloc(512 * KiB, 2))
        cutShort = new Promise((r) => res.once('close', () => r()))
      } else if (name === 'stale' && n > 1) {
        req.socket.destroy() // the node's keep-alive close, arriving just as the gateway reuses it
      } else if (name === 'big') {
        bigSent = 0
        res.writeHead(200, { 'content-length': String(BIG) })
        const piece = Buffer.alloc(MiB, 3)
        const more = () => {
          while (bigSent < BIG) {
            bigSent += piece.length
            const ok = res.write(piece)
            if (bigSent >= BIG) return void res.end()
            if (!ok) return void res.once('drain', more)
          }
        }
        more()
      } else {
        res.writeHead(200, { 'content-length': '2' })
        res.end('ok')
      }
    },
  )
  server.on('secureConnection', () => connections++)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  fetch = createClusterFetch({ caPem, cert: clientTls.cert, key: clientTls.key }, { runtime: 'node' })
})

afterAll(async () => {
  fetch?.close()
  server?.closeAllConnections()
  await new Promise((r) => server?.close(r))
  await rm(dir, { recursive: true, force: true })
})

describe('shard GETs without node:http', () => {
  it('reuse one connection for answers read to their end, including error answers', async () => {
    const before = connections
    for (const path of ['ok', 'missing', 'ok', 'small']) {
      const res = await get(path)
      expect(await res.text()).toBeTruthy()
    }
    expect(connections - before).toBe(1)
  })

  it('hand a 200 body on in pieces of the unit hint, the last one shorter, bytes intact', async () => {
    const got = await pieces(await get('small', 1000))
    expect(got).not.toBe('errored')
    const list = got as Uint8Array[]
    expect(list.map((p) => p.length)).toEqual([1000, 1000, 500])
    const joined = new Uint8Array(2500)
    let at = 0
    for (const p of list) {
      joined.set(p, at)
      at += p.length
    }
    expect(joined).toEqual(pattern(2500))
  })

  it('keep using a connection whose last piece filled the queue (it is not left paused)', async () => {
    const before = connections
    const reader = (await get('units', UNIT)).body!.getReader()
    expect((await bounded(reader.read(), 'first piece')).value!.length).toBe(UNIT)
    await sleep(200) // a slow consumer: the last piece arrives with no read waiting, and fills the queue
    expect((await bounded(reader.read(), 'last piece')).value!.length).toBe(UNIT)
    expect((await bounded(reader.read(), 'end')).done).toBe(true)
    expect(await (await get('ok')).text()).toBe('ok')
    expect(connections - before).toBeLessThanOrEqual(1)
  })

  it('give error answers their status, headers and body (content-length or chunked)', async () => {
    const missing = await get('missing', 1000)
    expect(missing.status).toBe(404)
    expect(missing.headers.get('content-type')).toBe('application/json')
    expect(await missing.json()).toEqual({ message: 'shard missing not found' })
    const busy = await get('chunked')
    expect(busy.status).toBe(503)
    expect(await busy.json()).toEqual({ message: 'busy' })
  })

  it('error a body whose connection drops before the promised length', async () => {
    const got = await pieces(await get('cut', UNIT))
    expect(got).toBe('errored')
  })

  it('close the connection of a cancelled body (the node sees it go), and use a new one next', async () => {
    const res = await get('slow')
    const reader = res.body!.getReader()
    expect((await bounded(reader.read(), 'first read')).done).toBe(false)
    await reader.cancel(new Error('enough'))
    await bounded(cutShort!, 'server sees the connection close')
    const before = connections
    expect(await (await get('ok')).text()).toBe('ok')
    expect(connections - before).toBe(1)
  })

  it('retry once on a new connection when a reused one closes before answering', async () => {
    await (await get('stale')).text() // first request on a new connection: answered
    const res = await get('stale') // the reused connection is dropped unanswered
    expect(await res.text()).toBe('ok')
  })

  it('reject at once when the signal aborts before the answer', async () => {
    const ac = new AbortController()
    ac.abort(new Error('stop'))
    await expect(get('ok', undefined, ac.signal)).rejects.toThrow('stop')
  })

  it('read only as the consumer pulls: a paused reader holds back the node', async () => {
    const res = await get('big', UNIT)
    const reader = res.body!.getReader()
    let got = (await bounded(reader.read(), 'first read')).value!.length
    for (let i = 0; i < 50; i++) {
      const before = bigSent
      await sleep(40)
      if (i >= 5 && bigSent === before) break
    }
    expect(bigSent).toBeLessThan(16 * MiB)
    for (;;) {
      const r = await bounded(reader.read(), 'read')
      if (r.done) break
      got += r.value.length
    }
    expect(got).toBe(BIG)
  })

  it('refuse a node whose certificate does not name its address, or is from another CA', async () => {
    const other = await ensureLocalTls(join(dir, 'other'))
    const impostors = [
      // From the cluster CA, but a client certificate: it names no host.
      { cert: clientTls.cert, key: clientTls.key },
      { cert: other.cert, key: other.key },
    ]
    for (const tls of impostors) {
      const s = createServer({ ...tls }, (_req, res) => res.end('ok'))
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
      try {
        const url = `https://127.0.0.1:${(s.address() as AddressInfo).port}${SHARDS_PATH}/x`
        await expect(bounded(fetch(new Request(url)), 'impostor')).rejects.toThrow()
      } finally {
        s.closeAllConnections()
        await new Promise((r) => s.close(r))
      }
    }
  })
})
