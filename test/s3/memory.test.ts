/**
 * Streaming end to end: a large PutObject and GetObject through the real server (TLS, default SDK
 * checksums, aws-chunked, erasure coding) must not grow the server's memory with object size.
 * The 5 GiB figure for the closing note comes from bench/roundtrip-rss.ts, the 1 GiB form upload's
 * from bench/form-rss.ts; this runs 768 MiB, and a 512 MiB browser form upload (POST Object),
 * whose file part must stream, not be buffered.
 */
import { GetObjectCommand, PutObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { patternStream, peakRss, sha256Of } from '../helpers/big-object.ts'
import { postForm, sendPostForm } from '../helpers/post-form.ts'
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

describe('a browser form upload streams', () => {
  const FORM_SIZE = 512 * 1024 * 1024
  it(`POST Object of ${FORM_SIZE / 2 ** 20} MiB keeps the server under ${PEAK_RSS_LIMIT / 2 ** 20} MiB peak RSS`, async () => {
    const form = postForm(server, 'form-blob', FORM_SIZE)
    const status = await sendPostForm(server, 'big', form, 240_000)
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
