/**
 * Black-box: an 8 MiB upload that Coffer refuses before reading its body (missing bucket, wrong
 * signature, bad SSE-C key) reaches every client as the S3 error, never as a connection error —
 * boto3 and the AWS CLI (botocore: `Expect: 100-continue`), the JS SDK, curl with and without
 * `Expect`. Before the fix, Node answered `100 Continue` at once and Coffer closed the connection
 * under the body: botocore saw SSLEOFError / ConnectionResetError.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Agent, request } from 'node:https'
import { awsCli } from '../helpers/aws-cli.ts'
import { boto3, describeWithBoto3 } from '../helpers/boto3.ts'
import { describeWithAwsCli, findOnPath } from '../helpers/clients.ts'
import { errorCode, hostOf, presignPath, serverCreds } from '../helpers/raw.ts'
import { s3Client } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

const run = promisify(execFile)
const SIZE = 8 * 1024 * 1024
/** 16 bytes: SSE-C needs a 256-bit key, so S3 refuses this before the body. */
const SHORT_SSE_KEY = '00112233445566778899aabbccddeeff'

let server: TestServer
let dir: string
let caFile: string
let bodyFile: string
beforeAll(async () => {
  server = await startServer()
  dir = await mkdtemp(join(tmpdir(), 'coffer-refusal-'))
  caFile = join(dir, 'ca.pem')
  bodyFile = join(dir, 'body.bin')
  await writeFile(caFile, server.caPem)
  await writeFile(bodyFile, Buffer.alloc(SIZE, 0x61))
  await s3Client(server).send(new CreateBucketCommand({ Bucket: 'present' }))
})
afterAll(async () => {
  await server?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describeWithBoto3('early refusals of an 8 MiB PutObject: boto3 (Expect: 100-continue)', (python) => {
  it('missing bucket → NoSuchBucket', async () => {
    const r = await boto3(python, server, caFile, { op: 'put', bucket: 'missing', key: 'k', size: SIZE })
    expect(r).toEqual({ error: 'NoSuchBucket', status: 404 })
  })
  it('wrong signature → SignatureDoesNotMatch', async () => {
    const r = await boto3(python, server, caFile, { op: 'put', bucket: 'present', key: 'k', size: SIZE, sk: 'wrong' })
    expect(r).toEqual({ error: 'SignatureDoesNotMatch', status: 403 })
  })
  it('bad SSE-C key → InvalidArgument', async () => {
    const r = await boto3(python, server, caFile, {
      op: 'put',
      bucket: 'present',
      key: 'k',
      size: SIZE,
      extra: { SSECustomerAlgorithm: 'AES256', SSECustomerKey: SHORT_SSE_KEY },
    })
    expect(r).toEqual({ error: 'InvalidArgument', status: 400 })
  })
  /** curl PUT of the 8 MiB file to a SigV4 URL presigned by boto3; `expect` false sends `Expect:` empty. */
  async function curlPut(bucket: string, expectContinue: boolean) {
    const { url } = await boto3(python, server, caFile, { op: 'presign', method: 'put_object', bucket, key: 'k' })
    const bin = findOnPath('curl')
    if (!bin) throw new Error('curl is not on PATH')
    const args = ['-sS', '--cacert', caFile, '-T', bodyFile, '-H', 'Content-Type:', '-w', '\n%{http_code}']
    if (!expectContinue) args.push('-H', 'Expect:')
    const { stdout } = await run(bin, [...args, url!], { timeout: 60_000 })
    return stdout
  }
  it('curl with Expect: 100-continue → NoSuchBucket', async () => {
    const out = await curlPut('missing', true)
    expect(out).toContain('<Code>NoSuchBucket</Code>')
    expect(out.endsWith('\n404')).toBe(true)
  })
  it('curl without Expect (the body comes at once) → NoSuchBucket', async () => {
    const out = await curlPut('missing', false)
    expect(out).toContain('<Code>NoSuchBucket</Code>')
    expect(out.endsWith('\n404')).toBe(true)
  })
})

describeWithBoto3('early refusals of an 8 MiB PutObject: the JS SDK', () => {
  it('missing bucket → NoSuchBucket; wrong secret → SignatureDoesNotMatch', async () => {
    const body = Buffer.alloc(SIZE, 0x62)
    const missing = await s3Client(server)
      .send(new PutObjectCommand({ Bucket: 'missing', Key: 'k', Body: body }))
      .catch((e: unknown) => e as { name: string; $metadata?: { httpStatusCode?: number } })
    expect((missing as { name: string }).name, String(missing)).toBe('NoSuchBucket')
    const wrong = await s3Client(server, { secretAccessKey: 'wrong' })
      .send(new PutObjectCommand({ Bucket: 'present', Key: 'k', Body: body }))
      .catch((e: unknown) => e as { name: string })
    expect((wrong as { name: string }).name, String(wrong)).toBe('SignatureDoesNotMatch')
  })
})

describeWithAwsCli('early refusals of an 8 MiB PutObject: the AWS CLI', (aws) => {
  it('s3api put-object to a missing bucket reports NoSuchBucket', async () => {
    const cli = await awsCli(aws.path, server)
    try {
      const r = await cli.run(['s3api', 'put-object', '--bucket', 'missing', '--key', 'k', '--body', bodyFile])
      expect(r.code).not.toBe(0)
      expect(r.stderr).toContain('NoSuchBucket')
    } finally {
      await cli.cleanup()
    }
  })
})

interface Exchange {
  status: number
  code?: string
  connection?: string
  /** Whether the server sent `100 Continue`. */
  continued: boolean
  reusedSocket: boolean
}

/** A PUT of `size` bytes over node:https; with `expect`, the body goes only after `100 Continue`. */
function put(
  agent: Agent,
  bucket: string,
  opts: { size: number; expect: boolean; headers?: Record<string, string> },
): Promise<Exchange> {
  const path = presignPath({
    method: 'PUT',
    path: `/${bucket}/k`,
    host: hostOf(server),
    creds: serverCreds(server),
    expires: 600,
  })
  return new Promise((resolve, reject) => {
    let continued = false
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        method: 'PUT',
        path,
        agent,
        ca: server.caPem,
        timeout: 30_000,
        headers: {
          'content-length': String(opts.size),
          ...(opts.expect ? { expect: '100-continue' } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (c: string) => (body += c))
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            code: errorCode(body),
            connection: res.headers.connection,
            continued,
            reusedSocket: req.reusedSocket,
          }),
        )
      },
    )
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')))
    req.on('error', reject)
    const body = Buffer.alloc(opts.size, 0x63)
    if (opts.expect) {
      req.on('continue', () => {
        continued = true
        req.end(body)
      })
    } else req.end(body)
  })
}

describe('early refusals over a raw connection', () => {
  it('Expect: 100-continue to a missing bucket: the error comes without any 100 Continue', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const r = await put(agent, 'missing', { size: SIZE, expect: true })
      expect(r).toMatchObject({ status: 404, code: 'NoSuchBucket', continued: false, connection: 'close' })
    } finally {
      agent.destroy()
    }
  })

  it('no Expect: the 8 MiB body is read and dropped, the error arrives, and the connection is kept', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const first = await put(agent, 'missing', { size: SIZE, expect: false })
      expect(first).toMatchObject({ status: 404, code: 'NoSuchBucket' })
      expect(first.connection).not.toBe('close')
      const second = await put(agent, 'present', { size: 1024, expect: false })
      expect(second).toMatchObject({ status: 200, reusedSocket: true })
    } finally {
      agent.destroy()
    }
  })

  it('an accepted upload with Expect: 100-continue gets its 100 Continue and is stored', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      expect(await put(agent, 'present', { size: SIZE, expect: true })).toMatchObject({ status: 200, continued: true })
    } finally {
      agent.destroy()
    }
  })

  it('an Expect other than 100-continue is ignored as S3 does (no 417)', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const r = await put(agent, 'present', { size: 1024, expect: false, headers: { expect: 'something-else' } })
      expect(r.status).toBe(200)
    } finally {
      agent.destroy()
    }
  })
})
