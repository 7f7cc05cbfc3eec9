/**
 * Runtime smoke: the same server on Node, Deno and Bun — health over TLS trusting ca.pem, an SDK
 * round trip (bucket and object), one listening line, and a clean exit 0 on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes, createHash } from 'node:crypto'
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { httpsGet, startServer, type Runtime, type TestServer } from '../helpers/server.ts'
import { bodyBytes, bucketName, s3Client } from '../helpers/s3-client.ts'
import { objectPath, rawRequest } from '../helpers/raw.ts'

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

describe.each(['node', 'deno', 'bun'] as Runtime[])('%s', (runtime) => {
  let server: TestServer
  let s3: S3Client
  beforeAll(async () => {
    server = await startServer({ runtime })
    s3 = s3Client(server)
  })
  afterAll(async () => {
    s3?.destroy()
    await server?.stop()
  })

  it('GET /_coffer/health over TLS trusting ca.pem → 200', async () => {
    const r = await httpsGet(server, '/_coffer/health')
    expect(r.status).toBe(200)
    expect(JSON.parse(r.body)).toMatchObject({ status: 'ok' })
  })

  // The console's pages (Hono JSX) render on every runtime, and its S3 calls — requests built
  // in process with a Host header and handed to the S3 handler — work there too.
  it('web console: sign-in page, sign in, bucket list and a streamed upload through the S3 handler', async () => {
    const login = await rawRequest(server, { method: 'GET', path: '/_coffer/console/login', sign: false })
    expect(login.status).toBe(200)
    expect(login.headers['content-security-policy']).toContain("script-src 'self'")
    expect(login.body).toContain('Sign in')
    const Bucket = bucketName(`console-${runtime}`)
    await s3.send(new CreateBucketCommand({ Bucket }))
    const signIn = await rawRequest(server, {
      method: 'POST',
      path: '/_coffer/console/login',
      sign: false,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        accessKeyId: server.accessKeyId,
        secretAccessKey: server.secretAccessKey,
      }).toString(),
    })
    expect(signIn.status).toBe(303)
    const cookie = String(([] as string[]).concat(signIn.headers['set-cookie'] ?? [])[0]).split(';')[0]!
    const home = await rawRequest(server, {
      method: 'GET',
      path: '/_coffer/console/',
      sign: false,
      headers: { cookie },
    })
    expect(home.status).toBe(200)
    expect(home.body).toContain(Bucket)
    // An upload streamed by the console into the S3 write path, read back through the SDK.
    const csrf = /<meta name="coffer-csrf" content="([0-9a-f]{64})"/.exec(home.body)?.[1] ?? ''
    const body = randomBytes(300 * 1024)
    const put = await rawRequest(server, {
      method: 'PUT',
      path: `/_coffer/console/api/b/${Bucket}/object?key=up.bin`,
      sign: false,
      headers: { cookie, 'x-coffer-csrf': csrf },
      body,
    })
    expect(put.status).toBe(200)
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'up.bin' }))
    expect(sha(await bodyBytes(got.Body))).toBe(sha(body))
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'up.bin' }))
    await s3.send(new DeleteBucketCommand({ Bucket }))
  })

  it('prints exactly one listening line, with the real port', () => {
    const lines = server
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('coffer: listening on '))
    expect(lines).toEqual([`coffer: listening on https://127.0.0.1:${server.port}`])
    expect(server.port).toBeGreaterThan(0)
  })

  it('SDK round trip: CreateBucket, PutObject, GetObject, DeleteObject, DeleteBucket', async () => {
    const Bucket = bucketName(`smoke-${runtime}`)
    const data = randomBytes(3 * 1024 * 1024 + 17)
    await s3.send(new CreateBucketCommand({ Bucket }))
    await s3.send(new PutObjectCommand({ Bucket, Key: 'dir/obj.bin', Body: data }))
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'dir/obj.bin' }))
    expect(sha(await bodyBytes(got.Body))).toBe(sha(data))
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'dir/obj.bin' }))
    await s3.send(new DeleteBucketCommand({ Bucket }))
  })

  // WHATWG URL parsing folds '/./' and '/../', yet both are legal in S3 keys and signed as sent:
  // the adapter must hand the app the request target as received.
  it(
    runtime === 'bun'
      ? 'dot-segment keys: Bun cannot see the raw target, and says so at start'
      : 'dot-segment keys round-trip (raw request target reaches the app)',
    async () => {
      const Bucket = bucketName(`dots-${runtime}`)
      await s3.send(new CreateBucketCommand({ Bucket }))
      const key = 'a/./b/../c'
      const put = await rawRequest(server, { method: 'PUT', path: objectPath(Bucket, key), body: 'dots' })
      if (runtime === 'bun') {
        expect(put.status).toBe(403)
        expect(server.stderr()).toMatch(/note \(bun\): request paths are normalised by Bun/)
        return
      }
      expect(put.status).toBe(200)
      const got = await rawRequest(server, { method: 'GET', path: objectPath(Bucket, key) })
      expect(got.status).toBe(200)
      expect(got.body).toBe('dots')
      const folded = await rawRequest(server, { method: 'GET', path: objectPath(Bucket, 'a/c') })
      expect(folded.status).toBe(404)
    },
  )

  it('SIGTERM closes the server and exits 0', async () => {
    await server.kill('SIGTERM')
    expect(await server.exited).toBe(0)
    expect(server.stderr()).toMatch(/SIGTERM: closing/)
  })
})
