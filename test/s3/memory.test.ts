/**
 * Streaming end to end: a large PutObject and GetObject through the real server (TLS, default SDK
 * checksums, aws-chunked, erasure coding) must not grow the server's memory with object size.
 * The 5 GiB figure for the closing note comes from bench/roundtrip-rss.ts; this runs 768 MiB, and
 * a 512 MiB browser form upload (POST Object), whose file part must stream, not be buffered.
 */
import { createHmac } from 'node:crypto'
import { request } from 'node:https'
import { PassThrough } from 'node:stream'
import { GetObjectCommand, PutObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { patternStream, peakRss, sha256Of } from '../helpers/big-object.ts'
import { amzDate, signingKey } from '../helpers/raw.ts'
import { s3Client } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

const SIZE = 768 * 1024 * 1024
/** The bound for a 5 GiB round trip; a 768 MiB one must stay well inside it too. */
const PEAK_RSS_LIMIT = 300 * 1024 * 1024

let server: TestServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

describe('memory per request does not grow with object size', () => {
  it(`PUT and GET of ${SIZE / 2 ** 20} MiB keep the server under ${PEAK_RSS_LIMIT / 2 ** 20} MiB peak RSS`, async () => {
    const s3 = s3Client(server)
    await s3.send(new CreateBucketCommand({ Bucket: 'big' }))
    const source = patternStream(SIZE)
    await s3.send(new PutObjectCommand({ Bucket: 'big', Key: 'blob', Body: source.stream, ContentLength: SIZE }))
    const got = await s3.send(new GetObjectCommand({ Bucket: 'big', Key: 'blob' }))
    const read = await sha256Of(got.Body as AsyncIterable<Uint8Array>)
    expect(read.bytes).toBe(SIZE)
    expect(read.sha256).toBe(source.sha256())
    const peak = peakRss(server.pid)
    console.log(`server peak RSS after ${SIZE / 2 ** 20} MiB round trip: ${(peak / 2 ** 20).toFixed(1)} MiB`)
    expect(peak).toBeLessThan(PEAK_RSS_LIMIT)
  }, 300_000)
})

/** A multipart/form-data POST Object body: signed fields, then `size` pattern bytes as the file. */
function postForm(size: number) {
  const now = new Date()
  const day = amzDate(now).slice(0, 8)
  const credential = `${server.accessKeyId}/${day}/${server.region}/s3/aws4_request`
  const policy = Buffer.from(
    JSON.stringify({
      expiration: new Date(now.getTime() + 600_000).toISOString(),
      conditions: [
        { key: 'form-blob' },
        { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
        { 'x-amz-credential': credential },
        { 'x-amz-date': amzDate(now) },
      ],
    }),
  ).toString('base64')
  const signature = createHmac('sha256', signingKey(server.secretAccessKey, day, server.region))
    .update(policy)
    .digest('hex')
  const boundary = '----coffer-memory-test'
  const field = (name: string, value: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`
  const head = Buffer.from(
    field('key', 'form-blob') +
      field('x-amz-algorithm', 'AWS4-HMAC-SHA256') +
      field('x-amz-credential', credential) +
      field('x-amz-date', amzDate(now)) +
      field('policy', policy) +
      field('x-amz-signature', signature) +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="blob"\r\n\r\n`,
  )
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  const source = patternStream(size, 7)
  const body = new PassThrough({ highWaterMark: 1 << 20 })
  body.write(head)
  source.stream.pipe(body, { end: false })
  source.stream.on('end', () => body.end(tail))
  return { body, length: head.length + size + tail.length, boundary, sha256: source.sha256 }
}

describe('a browser form upload streams', () => {
  const FORM_SIZE = 512 * 1024 * 1024
  it(`POST Object of ${FORM_SIZE / 2 ** 20} MiB keeps the server under ${PEAK_RSS_LIMIT / 2 ** 20} MiB peak RSS`, async () => {
    const form = postForm(FORM_SIZE)
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: server.port,
          method: 'POST',
          path: '/big',
          ca: server.caPem,
          headers: { 'content-type': `multipart/form-data; boundary=${form.boundary}`, 'content-length': form.length },
        },
        (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode!))
        },
      )
      req.setTimeout(240_000, () => req.destroy(new Error('no answer within 240 s')))
      req.on('error', reject)
      form.body.pipe(req)
    })
    expect(status).toBe(204)
    const got = await s3Client(server).send(new GetObjectCommand({ Bucket: 'big', Key: 'form-blob' }))
    const read = await sha256Of(got.Body as AsyncIterable<Uint8Array>)
    expect(read.bytes).toBe(FORM_SIZE)
    expect(read.sha256).toBe(form.sha256())
    const peak = peakRss(server.pid)
    console.log(`server peak RSS after a ${FORM_SIZE / 2 ** 20} MiB form upload: ${(peak / 2 ** 20).toFixed(1)} MiB`)
    expect(peak).toBeLessThan(PEAK_RSS_LIMIT)
  }, 300_000)
})
