/**
 * node-web-body.ts over real sockets: a plain HTTP server hands each request's IncomingMessage to
 * the bridge, a raw TCP client sends what a test needs (whole bodies, cut ones, bodies followed by
 * a close). Checks byte-exact content with every chunk held to the end (Node never reuses a chunk
 * it handed out), the bounded queue, premature close → error, a whole body surviving its
 * connection's close, and cancel (destroy / pause).
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { type AddressInfo, connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { nodeWebBody, type NodeWebBodyOptions } from './node-web-body.ts'
import { drained } from './drained.ts'

const KiB = 1024
const MiB = 1024 * KiB

let server: Server | undefined
const sockets: Socket[] = []

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  if (server) {
    server.closeAllConnections()
    await new Promise<void>((r) => server!.close(() => r()))
    server = undefined
  }
})

/** A server whose next request is handed to `onRequest`; resolves with the port. */
async function serve(onRequest: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  server = createServer(onRequest)
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()))
  return (server.address() as AddressInfo).port
}

function client(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s))
    s.on('error', reject)
    sockets.push(s)
  })
}

/** Sends `body` in pieces, waiting for the socket to drain: a client that honours backpressure. */
async function sendAll(s: Socket, body: Uint8Array, piece = 64 * KiB): Promise<void> {
  for (let at = 0; at < body.length; at += piece) {
    if (s.destroyed) return
    if (!s.write(body.subarray(at, at + piece))) await drained(s)
  }
}

/** Every chunk read, kept (not copied) until the end. */
async function readAll(body: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = []
  const reader = body.getReader()
  for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value)
  return chunks
}

const head = (length: number) => `PUT /x HTTP/1.1\r\nhost: localhost\r\ncontent-length: ${length}\r\n\r\n`
const sha = (parts: Uint8Array[]) => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest('hex')
}

const opts = (o: Partial<NodeWebBodyOptions> = {}): NodeWebBodyOptions => ({
  queueBytes: 256 * KiB,
  onCancel: 'pause',
  ...o,
})

describe('nodeWebBody', () => {
  it('delivers the body byte-exact as Node chunks it never reuses, honouring byteOffset', async () => {
    const sent = randomBytes(8 * MiB)
    const got = new Promise<Uint8Array[]>((resolve, reject) => {
      void serve((req, res) => {
        readAll(nodeWebBody(req, opts()))
          .then((chunks) => {
            res.end()
            resolve(chunks)
          })
          .catch(reject)
      }).then(async (port) => {
        const s = await client(port)
        s.write(head(sent.length))
        await sendAll(s, sent)
      })
    })
    const chunks = await got
    // All chunks were held until the end: a buffer Node reused for later bytes would fail this.
    expect(chunks.reduce((n, c) => n + c.byteLength, 0)).toBe(sent.length)
    expect(sha(chunks)).toBe(sha([sent]))
    expect(chunks.length).toBeGreaterThan(1)
  })

  it('a reader that does not pull lets in about queueBytes, then the source is paused', async () => {
    const queueBytes = 1 * MiB
    const sent = randomBytes(64 * MiB)
    let request: IncomingMessage | undefined
    let body: ReadableStream<Uint8Array> | undefined
    const port = await serve((req) => {
      request = req
      body = nodeWebBody(req, opts({ queueBytes }))
    })
    const s = await client(port)
    s.write(head(sent.length))
    const sending = sendAll(s, sent)
    // Let the queue fill and the sockets' buffers settle.
    for (let i = 0; i < 50 && (request?.socket.bytesRead ?? 0) < queueBytes; i++)
      await new Promise((r) => setTimeout(r, 20))
    await new Promise((r) => setTimeout(r, 500))
    const readBefore = request!.socket.bytesRead
    await new Promise((r) => setTimeout(r, 300))
    // The queue (1 MiB) plus the request's and the socket's own buffers (16 KiB each by default)
    // and one socket read: far below the 64 MiB being sent.
    expect(request!.socket.bytesRead).toBe(readBefore)
    expect(readBefore).toBeGreaterThanOrEqual(queueBytes)
    expect(readBefore).toBeLessThan(queueBytes + 512 * KiB)
    // Pulling again lets the rest through, byte-exact.
    const chunks = await readAll(body!)
    await sending
    expect(sha(chunks)).toBe(sha([sent]))
  })

  it.each([
    ['Content-Length', head(1 * MiB)],
    ['chunked', 'PUT /x HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\n\r\n'],
  ])('a body cut short (%s) errors the stream, never ends it', async (_, start) => {
    const part = randomBytes(100 * KiB)
    let heard: unknown
    const outcome = new Promise<{ error?: unknown; bytes: number }>((resolve) => {
      void serve((req) => {
        let bytes = 0
        const reader = nodeWebBody(req, opts({ onError: (e) => (heard = e) })).getReader()
        const next = (): Promise<void> =>
          reader.read().then(
            (r) => {
              if (r.done) return resolve({ bytes })
              bytes += r.value.byteLength
              return next()
            },
            (error: unknown) => resolve({ error, bytes }),
          )
        void next()
      }).then(async (port) => {
        const s = await client(port)
        const chunked = start.includes('chunked')
        s.write(start)
        s.write(
          chunked ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]) : part,
        )
        // No last chunk / short of Content-Length: the client goes away.
        setTimeout(() => s.destroy(), 100)
      })
    })
    const { error, bytes } = await outcome
    expect(error).toBeInstanceOf(Error)
    expect(heard).toBe(error)
    expect(bytes).toBeLessThanOrEqual(part.length)
  })

  it('a whole body whose connection closed before it was read still ends with every byte', async () => {
    // Below the request's buffer (16 KiB): Node's parser sees all of it before anything is read.
    const sent = randomBytes(12 * KiB)
    const got = new Promise<Uint8Array[]>((resolve, reject) => {
      void serve((req) => {
        // Read only once the client has sent everything and gone: Node has destroyed the request.
        req.socket.once('close', () => {
          expect(req.complete).toBe(true)
          readAll(nodeWebBody(req, opts({ queueBytes: 16 * KiB }))).then(resolve, reject)
        })
      }).then(async (port) => {
        const s = await client(port)
        s.write(head(sent.length))
        await sendAll(s, sent)
        setTimeout(() => s.destroy(), 100)
      })
    })
    expect(sha(await got)).toBe(sha([sent]))
  })

  it.each(['destroy', 'pause'] as const)(
    'cancel (%s) stops reading: destroys or pauses the source',
    async (onCancel) => {
      const sent = randomBytes(16 * MiB)
      let request: IncomingMessage | undefined
      const cancelled = new Promise<void>((resolve, reject) => {
        void serve((req) => {
          request = req
          const reader = nodeWebBody(req, opts({ onCancel })).getReader()
          reader
            .read()
            .then(() => reader.cancel(new Error('consumer gave up')))
            .then(resolve, reject)
        }).then(async (port) => {
          const s = await client(port)
          s.write(head(sent.length))
          void sendAll(s, sent)
        })
      })
      await cancelled
      await new Promise((r) => setTimeout(r, 100))
      expect(request!.listenerCount('data')).toBe(0)
      if (onCancel === 'destroy') expect(request!.destroyed).toBe(true)
      else {
        expect(request!.destroyed).toBe(false)
        expect(request!.isPaused()).toBe(true)
      }
    },
  )

  it('errors when another reader takes the bytes, even if the source then ends', async () => {
    const sent = randomBytes(64 * KiB)
    const outcome = new Promise<unknown>((resolve) => {
      void serve((req, res) => {
        const body = nodeWebBody(req, opts())
        // As settleUnreadBody's drain does: every 'data' listener off, its own reader on.
        req.removeAllListeners('data')
        req.on('data', () => {})
        req.on('end', () => res.end())
        readAll(body).then(
          () => resolve(undefined),
          (e: unknown) => resolve(e),
        )
      }).then(async (port) => {
        const s = await client(port)
        s.write(head(sent.length))
        await sendAll(s, sent)
      })
    })
    expect(await outcome).toBeInstanceOf(Error)
  })
})
