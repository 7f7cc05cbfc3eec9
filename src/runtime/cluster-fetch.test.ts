/**
 * The gateway → node transport (Node): idle limits in order; response bodies read only as their
 * consumer pulls, cut short or cancelled — against a real HTTPS server on 127.0.0.1 with
 * certificates from a generated CA.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClusterFetchHandle, createClusterFetch, FREE_SOCKET_TIMEOUT_MS } from './cluster-fetch.ts'
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
const MiB = 1024 * KiB
/** Every wait in these tests gives up after this long. */
const WAIT_MS = 20_000
/** The body of /big: far more than any buffer between the two ends. */
const BIG = 128 * MiB

let dir: string
let server: Server
let base: string
let fetch: ClusterFetchHandle
/** Server responses of /slow whose connection closed before the body was complete. */
let cutShort: Promise<void> | undefined
/** Bytes of /big the server has handed to its socket so far. */
let bigSent = 0

const bounded = <T>(p: Promise<T>, what: string): Promise<T> =>
  Promise.race([
    p,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: not within ${WAIT_MS} ms`)), WAIT_MS),
    ),
  ])

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-cluster-fetch-'))
  const tls = await ensureLocalTls(dir)
  const caPem = tls.caPem
  const client = await issueClientCert({ caPem, caKeyPem: await readFile(join(dir, TLS_DIR, CA_KEY_FILE), 'utf8') })
  server = createServer({ cert: tls.cert, key: tls.key, keepAliveTimeout: 60_000 }, (req, res) => {
    if (req.url === '/cut') {
      // Promises 1 MiB, sends 256 KiB, then drops the connection.
      res.writeHead(200, { 'content-length': String(1024 * KiB) })
      res.write(Buffer.alloc(256 * KiB, 1), () => res.socket?.destroy())
    } else if (req.url === '/slow') {
      // Sends 512 KiB of 4 MiB, then waits: only a client that goes away ends it.
      res.writeHead(200, { 'content-length': String(4096 * KiB) })
      res.write(Buffer.alloc(512 * KiB, 2))
      cutShort = new Promise((r) => res.once('close', () => r()))
    } else if (req.url === '/big') {
      // As fast as the client takes it, and no faster: each 1 MiB write waits for 'drain'.
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
  it('are read only as the consumer pulls: a paused reader holds back the node, whatever the body size', async () => {
    const res = await bounded(fetch(new Request(`${base}/big`)), 'answer')
    const reader = res.body!.getReader()
    let got = (await bounded(reader.read(), 'first read')).value!.length
    // The consumer pauses. Only the buffers between the two ends fill (Readable.toWeb's queue of
    // about 1 MiB, the response's 1 MiB, the sockets' and the kernel's), then the node waits. (An
    // eager reader, as the batched body once was, had the node send all 128 MiB into gateway
    // memory within this pause: memory per GET that grew with the object.)
    for (let i = 0; i < 50; i++) {
      const before = bigSent
      await sleep(40)
      if (i >= 5 && bigSent === before) break
    }
    expect(bigSent).toBeLessThan(32 * MiB)
    for (;;) {
      const r = await bounded(reader.read(), 'read')
      if (r.done) break
      got += r.value.length
    }
    expect(got).toBe(BIG)
  })

  it('error when the connection drops before the promised length', async () => {
    const res = await bounded(fetch(new Request(`${base}/cut`)), 'answer')
    let got = 0
    const outcome = await bounded(
      (async () => {
        const reader = res.body!.getReader()
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
