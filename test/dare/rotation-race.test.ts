/**
 * Namespace-key rotation racing writes (issue 10, defect 1): a write that took the namespace key
 * before a rotation committed and commits after it must still be readable, and later rotations
 * must still work. Real server over TLS, the real SDK, rotations through `coffer admin`.
 */
import { createHash, randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminJson, filesUnder, tenant } from '../helpers/admin.ts'
import { bodyBytes, bucketName, s3Client } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'
import { waitFor } from '../helpers/shards.ts'

const NS = 'racing'
const MiB = 1024 * 1024
let server: TestServer
let client: S3Client
const bucket = bucketName('rot-race')
/** Every acknowledged object: key → SHA-256 of its body. */
const acknowledged = new Map<string, string>()

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const rotate = async () => {
  const t0 = Date.now()
  try {
    return await adminJson<{ keyVersion: number }>(server, ['key', 'rotate', '--namespace', NS])
  } catch (e) {
    const x = e as { stderr?: string; killed?: boolean; signal?: string }
    throw new Error(
      `rotate failed after ${Date.now() - t0} ms (killed ${x.killed} ${x.signal}): ${x.stderr}\nserver: ${server.stderr().slice(-3000)}`,
    )
  }
}

/** Reads every acknowledged object back; returns the keys that failed, with why. */
async function unreadable(): Promise<string[]> {
  const bad: string[] = []
  for (const [key, digest] of acknowledged) {
    try {
      const got = await bodyBytes((await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body)
      if (sha(got) !== digest) bad.push(`${key}: other bytes`)
    } catch (e) {
      bad.push(`${key}: ${(e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode} ${String(e)}`)
    }
  }
  return bad
}

beforeAll(async () => {
  server = await startServer()
  client = s3Client(server, await tenant(server, NS, 'on'))
  await client.send(new CreateBucketCommand({ Bucket: bucket }))
}, 60_000)
afterAll(async () => {
  await server?.stop()
})

describe('namespace-key rotation racing writes', () => {
  it('a streaming PUT that started before a rotation and ends after it reads back; the next rotation works', async () => {
    const size = 32 * MiB
    const body = randomBytes(size)
    const pipe = new PassThrough({ highWaterMark: MiB })
    const put = client.send(new PutObjectCommand({ Bucket: bucket, Key: 'streamed', Body: pipe, ContentLength: size }))
    pipe.write(body.subarray(0, 4 * MiB))
    // Shards in tmp/ mean the server is storing the body: it has taken the namespace key.
    const drives = `${server.dataDir}/drives`
    await waitFor(
      'the PUT to start storing',
      async () => (await filesUnder(drives)).some((f) => /\/tmp\//.test(f)) || 'no shard in tmp/ yet',
      30_000,
      50,
    )
    const { keyVersion } = await rotate()
    expect(keyVersion).toBe(2)
    pipe.end(body.subarray(4 * MiB))
    await put
    acknowledged.set('streamed', sha(body))
    expect(await unreadable()).toEqual([])
    expect((await rotate()).keyVersion).toBe(3)
    expect(await unreadable()).toEqual([])
  }, 120_000)

  it('concurrent PUTs, multipart uploads and copies during repeated rotations: every acknowledged write reads back', async () => {
    const ROTATIONS = 4
    let stop = false
    const worker = async (w: number) => {
      for (let i = 0; !stop && i < 500; i++) {
        const key = `w${w}-${i}`
        const previous = `w${w}-${i - 1}`
        if (i % 4 === 2) {
          const body = randomBytes(20_000 + i)
          const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
          const { ETag } = await client.send(
            new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: body }),
          )
          await client.send(
            new CompleteMultipartUploadCommand({
              Bucket: bucket,
              Key: key,
              UploadId,
              MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] },
            }),
          )
          acknowledged.set(key, sha(body))
        } else if (i % 4 === 3 && acknowledged.has(previous)) {
          await client.send(new CopyObjectCommand({ Bucket: bucket, Key: key, CopySource: `${bucket}/${previous}` }))
          acknowledged.set(key, acknowledged.get(previous)!)
        } else {
          const body = randomBytes(i % 4 === 0 ? 700_000 : 1000 + 7919 * i)
          await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))
          acknowledged.set(key, sha(body))
        }
      }
    }
    const workers = Promise.all([0, 1, 2].map(worker))
    const from = (await rotate()).keyVersion
    try {
      for (let r = 1; r < ROTATIONS; r++) expect((await rotate()).keyVersion).toBe(from + r)
    } finally {
      stop = true
      await workers
    }
    expect(acknowledged.size).toBeGreaterThan(ROTATIONS)
    expect(await unreadable()).toEqual([])
    // No version was left referenced: one more rotation succeeds, and everything still reads.
    expect((await rotate()).keyVersion).toBe(from + ROTATIONS)
    expect(await unreadable()).toEqual([])
  }, 300_000)
})
