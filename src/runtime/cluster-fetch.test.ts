/**
 * The gateway → node transport (Node): idle limits in order, response bodies handed on in batches
 * — against a real HTTPS server on 127.0.0.1 with certificates from a generated CA.
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BODY_BATCH_BYTES,
  type ClusterFetchHandle,
  createClusterFetch,
  FREE_SOCKET_TIMEOUT_MS,
} from './cluster-fetch.ts'
import { IDLE_SOCKET_TIMEOUT_MS } from './node.ts'
import { NODE_KEEP_ALIVE_MS } from './storage-node.ts'
import { CA_KEY_FILE, ensureLocalTls, issueClientCert, TLS_DIR } from './tls-ca.ts'

describe('node connection idle limits', () => {
  it('the gateway drops an idle connection first, the node keeps it until then, the socket limit comes last', () => {
    expect(FREE_SOCKET_TIMEOUT_MS).toBeLessThan(NODE_KEEP_ALIVE_MS)
    expect(NODE_KEEP_ALIVE_MS).toBeLessThan(IDLE_SOCKET_TIMEOUT_MS)
  })
})

const KiB = 1024
/** Every wait in these tests gives up after this long. */
const WAIT_MS = 10_000

let dir: string
let server: Server
let base: string
let caPem: string
let fetch: ClusterFetchHandle
/** Server responses of /many that have been fully written (their 'finish'). */
const finishedBodies: Promise<void>[] = []
/** Server responses of /slow whose connection closed before the body was complete. */
let cutShort: Promise<void> | undefined

const bounded = <T>(p: Promise<T>, what: string): Promise<T> =>
  Promise.race([
    p,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: not within ${WAIT_MS} ms`)), WAIT_MS),
    ),
  ])

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-cluster-fetch-'))
  const tls = await ensureLocalTls(dir)
  caPem = tls.caPem
  const client = await issueClientCert({ caPem, caKeyPem: await readFile(join(dir, TLS_DIR, CA_KEY_FILE), 'utf8') })
  server = createServer({ cert: tls.cert, key: tls.key, keepAliveTimeout: 60_000 }, (req, res) => {
    if (req.url === '/many') {
      // 1 MiB as 64 writes of 16 KiB: each its own TLS record on the wire.
      res.writeHead(200, { 'content-length': String(64 * 16 * KiB) })
      for (let i = 0; i < 64; i++) res.write(Buffer.alloc(16 * KiB, i))
      finishedBodies.push(new Promise((r) => res.once('finish', () => r())))
      res.end()
    } else if (req.url === '/cut') {
      // Promises 1 MiB, sends 256 KiB, then drops the connection.
      res.writeHead(200, { 'content-length': String(1024 * KiB) })
      res.write(Buffer.alloc(256 * KiB, 1), () => res.socket?.destroy())
    } else if (req.url === '/slow') {
      // Sends 64 KiB of 4 MiB, then waits: only a client that goes away ends it.
      res.writeHead(200, { 'content-length': String(4096 * KiB) })
      res.write(Buffer.alloc(64 * KiB, 2))
      cutShort = new Promise((r) => res.once('close', () => r()))
    } else {
      res.writeHead(200, { 'content-length': '2' })
      res.end('ok')
    }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  fetch = createClusterFetch({ caPem, cert: client.cert, key: client.key }, { runtime: 'node' })
})

afterAll(async () => {
  fetch?.close()
  server?.closeAllConnections()
  await new Promise((r) => server?.close(r))
  await rm(dir, { recursive: true, force: true })
})

describe('response bodies from a node', () => {
  it('come in batches of what the socket buffered, not one chunk per 16 KiB record, with the same bytes', async () => {
    const res = await bounded(fetch(new Request(`${base}/many`)), 'answer')
    expect(res.status).toBe(200)
    // A consumer slower than the node: the whole body is sent, and the client's event loop has
    // had turns to read it from the socket into the response's buffer, before the first read.
    await bounded(finishedBodies.at(-1)!, 'server finish')
    await new Promise((r) => setTimeout(r, 300))
    const reader = res.body!.getReader()
    const chunks: Uint8Array[] = []
    for (;;) {
      const r = await bounded(reader.read(), 'read')
      if (r.done) break
      chunks.push(r.value)
    }
    const all = Buffer.concat(chunks)
    expect(all.length).toBe(64 * 16 * KiB)
    for (let i = 0; i < 64; i++) expect(all[i * 16 * KiB], `chunk ${i}`).toBe(i)
    expect(all.equals(Buffer.concat(Array.from({ length: 64 }, (_, i) => Buffer.alloc(16 * KiB, i))))).toBe(true)
    // Readable.toWeb hands on 64–65 chunks here whatever the timing (one per TLS record).
    expect(chunks.length).toBeLessThan(32)
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(BODY_BATCH_BYTES)
  })

  it('error when the connection drops before the promised length', async () => {
    const res = await bounded(fetch(new Request(`${base}/cut`)), 'answer')
    const reader = res.body!.getReader()
    let got = 0
    const outcome = await bounded(
      (async () => {
        for (;;) {
          const r = await reader.read()
          if (r.done) return 'closed'
          got += r.value.length
        }
      })().catch(() => 'errored'),
      'body end',
    )
    expect(outcome).toBe('errored')
    expect(got).toBeLessThan(1024 * KiB)
  })

  it('cancelled by the reader close the connection (the node stops sending)', async () => {
    const res = await bounded(fetch(new Request(`${base}/slow`)), 'answer')
    const reader = res.body!.getReader()
    const first = await bounded(reader.read(), 'first read')
    expect(first.done).toBe(false)
    await reader.cancel(new Error('enough'))
    await bounded(cutShort!, 'server sees the connection close')
  })
})
