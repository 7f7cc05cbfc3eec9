/**
 * Streaming end to end: a large PutObject and GetObject through the real server (TLS, default SDK
 * checksums, aws-chunked, erasure coding) must not grow the server's memory with object size.
 * The 5 GiB figure for the closing note comes from bench/roundtrip-rss.ts; this runs 768 MiB.
 */
import { GetObjectCommand, PutObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { patternStream, peakRss, sha256Of } from '../helpers/big-object.ts'
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
