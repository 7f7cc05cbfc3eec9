/**
 * Requests signed by real clients (AWS CLI v2 / botocore, rclone) against a stub HTTP listener on
 * 127.0.0.1 that records them; each must authenticate and its body must decode. Skipped when absent.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { buildQueryString } from '@smithy/core/protocols'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { concatBytes, toBase64 } from '../../util/bytes.ts'
import { decodePayload } from './aws-chunked.ts'
import { digestTap, parseChecksumRequest } from './checksums.ts'
import { authenticate } from './sigv4.ts'
import type { AuthRequest } from './sigv4.ts'
import { createTestPlatform } from '../../util/platform.testkit.ts'

const platform = createTestPlatform()
const ACCESS_KEY = 'AKIDCLIENTTEST'
const SECRET = 'client/secret+key=0~'
const KEY = "dir/ünï cødé+plus=eq~tilde!*'()&$@,;.txt"
const CONTENT = 'hello from a real client\n'.repeat(50)

interface Recorded {
  req: AuthRequest
  body: Uint8Array
}
const recorded: Recorded[] = []
let endpoint = ''
let closeServer: () => Promise<void> = async () => {}
let dir = ''

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coffer-sigv4-'))
  writeFileSync(join(dir, 'upload.txt'), CONTENT)
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = req.url ?? '/'
      const q = url.indexOf('?')
      const headers = new Headers()
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!)
      recorded.push({
        req: {
          method: req.method ?? 'GET',
          rawPath: q < 0 ? url : url.slice(0, q),
          rawQuery: q < 0 ? '' : url.slice(q + 1),
          headers,
        },
        body: new Uint8Array(Buffer.concat(chunks)),
      })
      if (req.method === 'PUT') {
        res.writeHead(200, { ETag: '"d41d8cd98f00b204e9800998ecf8427e"', 'Content-Length': '0' }).end()
      } else if (req.method === 'GET' && url.includes('list-type=2')) {
        res
          .writeHead(200, { 'Content-Type': 'application/xml' })
          .end(
            '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>',
          )
      } else {
        res.writeHead(404, { 'Content-Length': '0' }).end()
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  closeServer = () => new Promise((resolve) => server.close(() => resolve()))
})

afterAll(async () => {
  await closeServer()
  rmSync(dir, { recursive: true, force: true })
})

function run(cmd: string, args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { PATH: process.env.PATH ?? '', HOME: dir, ...env }, timeout: 60_000 }, () => resolve())
  })
}

async function verifyAll(from: number): Promise<number> {
  const mine = recorded.slice(from)
  for (const { req, body } of mine) {
    const auth = await authenticate(req, {
      region: 'us-east-1',
      now: () => new Date(),
      platform,
      lookupSecret: async (ak) => (ak === ACCESS_KEY ? SECRET : undefined),
    })
    if (req.method === 'PUT' && req.rawPath !== '/bucket') {
      const decoded = decodePayload(
        new ReadableStream({
          start(c) {
            c.enqueue(body)
            c.close()
          },
        }),
        auth,
        req.headers,
        platform,
      )
      const out: Uint8Array[] = []
      for await (const chunk of decoded.stream as unknown as AsyncIterable<Uint8Array>) out.push(chunk)
      expect(new TextDecoder().decode(concatBytes(out))).toBe(CONTENT)
    }
  }
  return mine.length
}

const awsCli = '/usr/bin/aws'
const rclone = '/usr/bin/rclone'

describe.skipIf(!existsSync(awsCli))('AWS CLI v2 (botocore) requests', () => {
  const env = {
    AWS_ACCESS_KEY_ID: ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    AWS_MAX_ATTEMPTS: '1',
  }

  it('put-object and list-objects-v2 with an awkward key verify', async () => {
    const from = recorded.length
    await run(
      awsCli,
      [
        's3api',
        'put-object',
        '--endpoint-url',
        endpoint,
        '--bucket',
        'bucket',
        '--key',
        KEY,
        '--body',
        join(dir, 'upload.txt'),
      ],
      env,
    )
    await run(
      awsCli,
      [
        's3api',
        'list-objects-v2',
        '--endpoint-url',
        endpoint,
        '--bucket',
        'bucket',
        '--prefix',
        KEY,
        '--delimiter',
        '/',
      ],
      env,
    )
    const methods = recorded.slice(from).map((r) => r.req.method)
    expect(methods).toEqual(['PUT', 'GET'])
    expect(await verifyAll(from)).toBeGreaterThanOrEqual(2)
  })

  it('a presigned URL from `aws s3 presign` verifies', async () => {
    const url = await new Promise<string>((resolve) => {
      execFile(
        awsCli,
        ['s3', 'presign', `s3://bucket/${KEY}`, '--endpoint-url', endpoint, '--expires-in', '300'],
        { env: { PATH: process.env.PATH ?? '', HOME: dir, ...env }, timeout: 60_000 },
        (_e, stdout) => resolve(String(stdout).trim()),
      )
    })
    const m = /^https?:\/\/([^/]+)([^?]*)\?(.*)$/.exec(url)
    expect(m).not.toBeNull()
    const auth = await authenticate(
      { method: 'GET', rawPath: m![2]!, rawQuery: m![3]!, headers: new Headers({ host: m![1]! }) },
      {
        region: 'us-east-1',
        now: () => new Date(),
        platform,
        lookupSecret: async () => SECRET,
      },
    )
    expect(auth.presigned).toBe(true)
  })
})

describe.skipIf(!existsSync(rclone))('rclone requests', () => {
  it('copyto and lsf with an awkward key verify', async () => {
    const from = recorded.length
    const flags = [
      '--s3-provider',
      'Other',
      '--s3-endpoint',
      endpoint,
      '--s3-access-key-id',
      ACCESS_KEY,
      '--s3-secret-access-key',
      SECRET,
      '--s3-region',
      'us-east-1',
      '--retries',
      '1',
      '--low-level-retries',
      '1',
      '--config',
      '/dev/null',
    ]
    await run(rclone, ['copyto', join(dir, 'upload.txt'), `:s3:bucket/${KEY}`, ...flags], {})
    await run(rclone, ['lsf', ':s3:bucket/dir/', ...flags], {})
    expect(recorded.slice(from).some((r) => r.req.method === 'PUT' && r.req.rawPath.startsWith('/bucket/dir/'))).toBe(
      true,
    )
    expect(await verifyAll(from)).toBeGreaterThanOrEqual(2)
  })
})

describe('AWS SDK v3 streaming upload (aws-chunked, STREAMING-UNSIGNED-PAYLOAD-TRAILER)', () => {
  it('decodes the body the SDK encodes and verifies its trailing CRC32', async () => {
    let captured:
      | {
          method: string
          path: string
          query?: Record<string, string>
          headers: Record<string, string>
          body: Readable
        }
      | undefined
    const client = new S3Client({
      region: 'us-east-1',
      endpoint: 'https://s3.coffer.test:8443',
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET },
      requestHandler: {
        handle: async (req: NonNullable<typeof captured>) => {
          captured = req
          throw new Error('captured')
        },
      } as never,
    })
    const payload = new TextEncoder().encode(CONTENT.repeat(100))
    await client
      .send(
        new PutObjectCommand({
          Bucket: 'bucket',
          Key: KEY,
          Body: Readable.from([payload.subarray(0, 1000), payload.subarray(1000)]),
          ContentLength: payload.length,
        }),
      )
      .catch(() => undefined)
    const req = captured!
    const headers = new Headers(req.headers)
    expect(headers.get('x-amz-content-sha256')).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER')
    const auth = await authenticate(
      { method: req.method, rawPath: req.path, rawQuery: buildQueryString(req.query ?? {}), headers },
      {
        region: 'us-east-1',
        now: () => new Date(),
        platform,
        lookupSecret: async () => SECRET,
      },
    )
    expect(auth.payload).toEqual({ kind: 'streaming-unsigned-trailer' })

    const wire: Uint8Array[] = []
    for await (const chunk of req.body)
      wire.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : new Uint8Array(chunk))
    const body = concatBytes(wire)
    const decoded = decodePayload(
      new ReadableStream({
        start(c) {
          c.enqueue(body)
          c.close()
        },
      }),
      auth,
      headers,
      platform,
    )
    const checksum = parseChecksumRequest(headers)
    expect(checksum).toMatchObject({ trailer: true })
    const tap = digestTap(decoded.stream, { checksum, trailers: decoded.trailers }, platform)
    const out: Uint8Array[] = []
    for await (const chunk of tap.stream as unknown as AsyncIterable<Uint8Array>) out.push(chunk)
    expect(concatBytes(out)).toEqual(payload)
    expect(tap.result().checksum?.value).toBe(decoded.trailers()[`x-amz-checksum-${checksum!.algorithm.toLowerCase()}`])
    expect(toBase64(tap.result().md5)).toHaveLength(24)
  })
})
