/**
 * Many big GETs at once, each byte-compared. The read path reuses shard read buffers once the
 * packages in them are open (src/util/byte-pool.ts): a buffer given back while a block of it was
 * still to be checked, deciphered or sent would show up here as a failed or wrong response,
 * because the concurrent GETs of other objects lease the same buffers in between.
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { patternStream, sha256Of } from '../helpers/big-object.ts'
import { s3Client } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

const MiB = 1024 * 1024
const OBJECTS = 6
/** Not a multiple of the 1 MiB stripe, of a package or of a read: every boundary case is in play. */
const SIZE = 9 * MiB + 12_345

let server: TestServer
const sha: string[] = []

/** The bytes patternStream(SIZE, seed) sends, in memory for range checks. */
async function bytesOf(seed: number): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of patternStream(SIZE, seed).stream) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

beforeAll(async () => {
  server = await startServer()
  const s3 = s3Client(server)
  await s3.send(new CreateBucketCommand({ Bucket: 'many' }))
  for (let i = 0; i < OBJECTS; i++) {
    const src = patternStream(SIZE, i + 1)
    await s3.send(new PutObjectCommand({ Bucket: 'many', Key: `o${i}`, Body: src.stream, ContentLength: SIZE }))
    sha.push(src.sha256())
  }
}, 240_000)
afterAll(async () => {
  await server?.stop()
})

describe('concurrent big GETs (D@RE on, pooled read buffers)', () => {
  it('every one of many GETs of different objects at once returns its own bytes', async () => {
    const s3 = s3Client(server)
    for (let round = 0; round < 2; round++) {
      const got = await Promise.all(
        Array.from({ length: OBJECTS * 2 }, async (_, j) => {
          const i = j % OBJECTS
          const o = await s3.send(new GetObjectCommand({ Bucket: 'many', Key: `o${i}` }))
          return { i, ...(await sha256Of(o.Body as AsyncIterable<Uint8Array>)) }
        }),
      )
      for (const g of got) {
        expect(g.bytes).toBe(SIZE)
        expect(g.sha256, `object o${g.i}, round ${round}`).toBe(sha[g.i])
      }
    }
  }, 240_000)

  it('ranges read at once beside whole GETs return exactly their bytes', async () => {
    const s3 = s3Client(server)
    const whole = await Promise.all([bytesOf(1), bytesOf(2)])
    // Starts and ends inside packages, blocks and stripes, across several of each.
    const ranges = [
      [1, 3 * MiB + 77],
      [65_536 - 5, 5 * MiB + 3],
      [MiB - 1, 2 * MiB + 1],
      [4 * MiB + 1234, SIZE - 1],
    ] as const
    const work: Promise<void>[] = []
    for (let i = 0; i < OBJECTS; i++)
      work.push(
        (async () => {
          const o = await s3.send(new GetObjectCommand({ Bucket: 'many', Key: `o${i}` }))
          expect((await sha256Of(o.Body as AsyncIterable<Uint8Array>)).sha256).toBe(sha[i])
        })(),
      )
    for (const [w, bytes] of whole.entries())
      for (const [from, to] of ranges)
        work.push(
          (async () => {
            const o = await s3.send(
              new GetObjectCommand({ Bucket: 'many', Key: `o${w}`, Range: `bytes=${from}-${to}` }),
            )
            const got = await sha256Of(o.Body as AsyncIterable<Uint8Array>)
            const want = createHash('sha256')
              .update(bytes.subarray(from, to + 1))
              .digest('hex')
            expect(got.bytes).toBe(to + 1 - from)
            expect(got.sha256, `o${w} bytes=${from}-${to}`).toBe(want)
          })(),
        )
    await Promise.all(work)
  }, 240_000)
})
