/**
 * Black-box: bucket CORS over TLS — Put/Get/DeleteBucketCors through the AWS SDK with S3's
 * validation, unsigned preflight OPTIONS answered from the rules, and Access-Control-* with
 * `Vary` on actual cross-origin answers (presigned and errors included).
 */
import { request } from 'node:https'
import {
  CreateBucketCommand,
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { errorCode } from '../helpers/raw.ts'
import { s3Client } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

let server: TestServer
const APP = 'https://app.example'
const RULES = [
  {
    ID: 'app',
    AllowedOrigins: [APP],
    AllowedMethods: ['GET', 'PUT'],
    AllowedHeaders: ['content-type', 'x-amz-*'],
    ExposeHeaders: ['ETag'],
    MaxAgeSeconds: 600,
  },
  { AllowedOrigins: ['*'], AllowedMethods: ['GET'] },
]

beforeAll(async () => {
  server = await startServer()
  const s3 = s3Client(server)
  await s3.send(new CreateBucketCommand({ Bucket: 'web' }))
  await s3.send(new CreateBucketCommand({ Bucket: 'plain' }))
  await s3.send(new CreateBucketCommand({ Bucket: 'validation' }))
  await s3.send(new PutObjectCommand({ Bucket: 'web', Key: 'page.txt', Body: 'hello browser' }))
  await s3.send(new PutBucketCorsCommand({ Bucket: 'web', CORSConfiguration: { CORSRules: RULES } }))
})
afterAll(async () => {
  await server?.stop()
})

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

function send(method: string, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server.port, method, path, headers, ca: server.caPem, timeout: 30_000 },
      (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (c: string) => (body += c))
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
      },
    )
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')))
    req.on('error', reject)
    req.end()
  })
}

describe('Put/Get/DeleteBucketCors', () => {
  it('round-trips the rules; after delete, NoSuchCORSConfiguration', async () => {
    const s3 = s3Client(server)
    const got = await s3.send(new GetBucketCorsCommand({ Bucket: 'web' }))
    expect(got.CORSRules).toEqual([RULES[0], { ...RULES[1] }])
    await s3.send(new PutBucketCorsCommand({ Bucket: 'plain', CORSConfiguration: { CORSRules: [RULES[1]!] } }))
    await s3.send(new DeleteBucketCorsCommand({ Bucket: 'plain' }))
    const gone = await s3.send(new GetBucketCorsCommand({ Bucket: 'plain' })).catch((e: { name: string }) => e)
    expect((gone as { name: string }).name).toBe('NoSuchCORSConfiguration')
  })

  it('refuses what S3 refuses: 101 rules, no rules, an unknown method, two wildcards', async () => {
    const s3 = s3Client(server)
    const put = (CORSRules: typeof RULES) =>
      s3.send(new PutBucketCorsCommand({ Bucket: 'validation', CORSConfiguration: { CORSRules } })).then(
        () => 'ok',
        (e: { name: string }) => e.name,
      )
    expect(await put(Array.from({ length: 101 }, () => RULES[1]!))).toBe('MalformedXML')
    expect(await put([])).toBe('MalformedXML')
    expect(await put([{ AllowedOrigins: ['*'], AllowedMethods: ['PATCH'] }])).toBe('InvalidRequest')
    expect(await put([{ AllowedOrigins: ['https://*.*.example'], AllowedMethods: ['GET'] }])).toBe('InvalidRequest')
    expect(await put(Array.from({ length: 100 }, () => RULES[1]!))).toBe('ok')
  })
})

describe('preflight OPTIONS (never signed)', () => {
  it('a matching request gets the rule as Access-Control-* headers', async () => {
    const r = await send('OPTIONS', '/web/new.txt', {
      origin: APP,
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'Content-Type, X-Amz-Date',
    })
    expect(r.status).toBe(200)
    expect(r.headers).toMatchObject({
      'access-control-allow-origin': APP,
      'access-control-allow-methods': 'GET, PUT',
      'access-control-allow-headers': 'content-type, x-amz-date',
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'ETag',
      'access-control-max-age': '600',
    })
    expect(r.headers.vary).toContain('Origin')
  })

  it('403 CORSResponse when nothing matches or the bucket has no rules; 400 without Origin or method', async () => {
    const refused = await send('OPTIONS', '/web/new.txt', { origin: APP, 'access-control-request-method': 'DELETE' })
    expect([refused.status, errorCode(refused.body)]).toEqual([403, 'CORSResponse'])
    expect(refused.body).toContain('This CORS request is not allowed')
    const other = await send('OPTIONS', '/web/new.txt', {
      origin: 'https://evil.example',
      'access-control-request-method': 'PUT',
    })
    expect([other.status, errorCode(other.body)]).toEqual([403, 'CORSResponse'])
    const none = await send('OPTIONS', '/plain/x', { origin: APP, 'access-control-request-method': 'GET' })
    expect([none.status, errorCode(none.body)]).toEqual([403, 'CORSResponse'])
    const noOrigin = await send('OPTIONS', '/web/x', { 'access-control-request-method': 'GET' })
    expect([noOrigin.status, errorCode(noOrigin.body)]).toEqual([400, 'BadRequest'])
    const noMethod = await send('OPTIONS', '/web/x', { origin: APP })
    expect([noMethod.status, errorCode(noMethod.body)]).toEqual([400, 'BadRequest'])
  })
})

describe('actual cross-origin requests', () => {
  it('a presigned GET with Origin carries the CORS headers and Vary; an error does too', async () => {
    const s3 = s3Client(server)
    const url = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'web', Key: 'page.txt' })))
    const ok = await send('GET', url.pathname + url.search, { origin: APP })
    expect(ok.status).toBe(200)
    expect(ok.body).toBe('hello browser')
    expect(ok.headers['access-control-allow-origin']).toBe(APP)
    expect(ok.headers['access-control-expose-headers']).toBe('ETag')
    expect(ok.headers.vary).toContain('Origin')

    const missing = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'web', Key: 'nope' })))
    const err = await send('GET', missing.pathname + missing.search, { origin: 'https://other.example' })
    expect([err.status, errorCode(err.body)]).toEqual([404, 'NoSuchKey'])
    expect(err.headers['access-control-allow-origin']).toBe('*') // the second rule: any origin may GET
    expect(err.headers['access-control-allow-credentials']).toBeUndefined()

    const anon = await send('GET', '/web/page.txt', { origin: APP })
    expect([anon.status, errorCode(anon.body)]).toEqual([403, 'AccessDenied'])
    expect(anon.headers['access-control-allow-origin']).toBe(APP)
  })

  it('no Origin, or a bucket without rules: no CORS headers', async () => {
    const plain = await send('GET', '/web/page.txt', {})
    expect(plain.headers['access-control-allow-origin']).toBeUndefined()
    const none = await send('GET', '/plain/x', { origin: APP })
    expect(none.headers['access-control-allow-origin']).toBeUndefined()
    expect(none.headers.vary).toBeUndefined()
  })
})
