/**
 * Early refusals on Bun: Bun.serve answers `Expect: 100-continue` itself before the handler runs,
 * so a refused 8 MiB PutObject's body is already coming. The Bun adapter reads and drops it
 * (bounded: src/runtime/unread-web-body.ts) before answering; without that, the socket closed
 * under the body and curl reported "Send failure: Broken pipe" (exit 55), node:https EPIPE.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { Agent, request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeWithClient } from '../helpers/clients.ts'
import { errorCode, hostOf, presignPath, serverCreds } from '../helpers/raw.ts'
import { s3Client } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

const run = promisify(execFile)
const SIZE = 8 * 1024 * 1024

let server: TestServer
let dir: string
let caFile: string
let bodyFile: string
beforeAll(async () => {
  server = await startServer({ runtime: 'bun' })
  dir = await mkdtemp(join(tmpdir(), 'coffer-bun-refusal-'))
  caFile = join(dir, 'ca.pem')
  bodyFile = join(dir, 'body.bin')
  await writeFile(caFile, server.caPem)
  await writeFile(bodyFile, Buffer.alloc(SIZE, 0x61))
  await s3Client(server).send(new CreateBucketCommand({ Bucket: 'present' }))
}, 60_000)
afterAll(async () => {
  await server?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

const presigned = (bucket: string) =>
  presignPath({ method: 'PUT', path: `/${bucket}/k`, host: hostOf(server), creds: serverCreds(server), expires: 600 })

/** A presigned PUT of `size` bytes over node:https with `Expect: 100-continue`: the body goes after `100 Continue`. */
function putExpecting(agent: Agent, bucket: string, size: number) {
  return new Promise<{ status: number; code?: string; continued: boolean; reusedSocket: boolean }>(
    (resolve, reject) => {
      let continued = false
      const req = request(
        {
          host: '127.0.0.1',
          port: server.port,
          method: 'PUT',
          path: presigned(bucket),
          agent,
          ca: server.caPem,
          timeout: 30_000,
          headers: { 'content-length': String(size), expect: '100-continue' },
        },
        (res) => {
          let body = ''
          res.setEncoding('utf8').on('data', (c: string) => (body += c))
          res.on('end', () =>
            resolve({ status: res.statusCode!, code: errorCode(body), continued, reusedSocket: req.reusedSocket }),
          )
        },
      )
      req.on('timeout', () => req.destroy(new Error('no answer within 30 s')))
      req.on('error', reject)
      req.on('continue', () => {
        continued = true
        req.end(Buffer.alloc(size, 0x62))
      })
    },
  )
}

describe('Bun: a refused 8 MiB PutObject with Expect: 100-continue', () => {
  it('node:https hears NoSuchBucket after the body it was told to send, and keeps the connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const refused = await putExpecting(agent, 'missing', SIZE)
      // Bun sent `100 Continue` itself: the body went, was drained, and the error came after it.
      expect(refused).toMatchObject({ status: 404, code: 'NoSuchBucket', continued: true })
      const next = await putExpecting(agent, 'present', 1024)
      expect(next).toMatchObject({ status: 200, reusedSocket: true })
    } finally {
      agent.destroy()
    }
  })

  it('the JS SDK reports NoSuchBucket and SignatureDoesNotMatch', async () => {
    const body = Buffer.alloc(SIZE, 0x63)
    const name = (p: Promise<unknown>) =>
      p.then(
        () => 'stored',
        (e: { name: string }) => e.name,
      )
    expect(await name(s3Client(server).send(new PutObjectCommand({ Bucket: 'missing', Key: 'k', Body: body })))).toBe(
      'NoSuchBucket',
    )
    const wrong = s3Client(server, { secretAccessKey: 'wrong' })
    expect(await name(wrong.send(new PutObjectCommand({ Bucket: 'present', Key: 'k', Body: body })))).toBe(
      'SignatureDoesNotMatch',
    )
  })
})

describeWithClient('curl', 'Bun: curl over HTTP/1.1 and a refused 8 MiB upload', (curl) => {
  for (const withExpect of [true, false])
    it(`${withExpect ? 'with' : 'without'} Expect: 100-continue → NoSuchBucket, exit 0`, async () => {
      const args = [
        '--http1.1',
        '-sS',
        '--cacert',
        caFile,
        '-T',
        bodyFile,
        '-H',
        'Content-Type:',
        '-w',
        '\n%{http_code}',
      ]
      // curl sends `Expect: 100-continue` itself for a body this large; an empty header turns it off.
      if (!withExpect) args.push('-H', 'Expect:')
      const { stdout } = await run(curl, [...args, `${server.endpoint}${presigned('missing')}`], { timeout: 60_000 })
      expect(stdout.trim().split('\n').at(-1)).toBe('404')
      expect(errorCode(stdout)).toBe('NoSuchBucket')
    })
})
