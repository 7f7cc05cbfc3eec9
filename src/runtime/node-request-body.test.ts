/**
 * A request body on the Node adapter has one reader: the Web stream `body` (giveNodeBody) and the
 * reading methods (formData, text, …) share it. A handler that looks at `body` first — as Hono's
 * bodyLimit middleware does — and reads the form after an await must get the form, not "Body is
 * unusable" (the console's 500 under load).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningServer } from './adapter.ts'
import { nodeAdapter } from './node.ts'
import { ensureLocalTls } from './tls-ca.ts'

let dir: string
let server: RunningServer
let caPem: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-node-body-'))
  const tls = await ensureLocalTls(dir)
  caPem = tls.caPem
  server = await nodeAdapter().serve({
    host: '127.0.0.1',
    port: 0,
    cert: tls.cert,
    key: tls.key,
    fetch: async (req) => {
      if (!req.body) return new Response('no body', { status: 400 })
      // Let the body stream's first pull run and the body arrive before it is read.
      await new Promise((r) => setTimeout(r, 50))
      try {
        if (req.url.endsWith('/form')) {
          const form = await req.formData()
          return new Response(`${form.get('a')}|${form.get('b')}`)
        }
        if (req.url.endsWith('/json')) return Response.json(await req.json())
        return new Response(await req.text())
      } catch (e) {
        return new Response(e instanceof Error ? e.message : String(e), { status: 500 })
      }
    },
  })
})

afterAll(async () => {
  await server?.close(1000)
  await rm(dir, { recursive: true, force: true })
})

function post(path: string, type: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        path,
        method: 'POST',
        ca: caPem,
        servername: 'localhost',
        headers: { 'content-type': type, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8').on('data', (s: string) => (text += s))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

describe('Node adapter: a request body read after `body` was looked at', () => {
  it('formData, text and json all read the body whole', async () => {
    for (let i = 0; i < 3; i++) {
      expect(await post('/form', 'application/x-www-form-urlencoded', 'a=1&b=two%20words')).toEqual({
        status: 200,
        body: '1|two words',
      })
      expect(await post('/text', 'text/plain', 'hello, body')).toEqual({ status: 200, body: 'hello, body' })
      expect(await post('/json', 'application/json', '{"k":[1,2]}')).toEqual({ status: 200, body: '{"k":[1,2]}' })
    }
  })
})
