/**
 * A bucket name deleted and taken again by another tenant while a PUT into the old bucket was
 * still streaming: the PUT must not land in the new bucket. Every commit checks the bucket by its
 * immutable id and the writer's namespace in the same transaction (docs/architecture.md §4).
 * Real server over TLS, two namespaces, the AWS SDK.
 */
import { Readable } from 'node:stream'
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tenant } from '../helpers/admin.ts'
import { metaIds } from '../helpers/meta-file.ts'
import { bodyBytes, bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'
import { listShards, objectBytes, sha256, tempFiles, waitFor } from '../helpers/shards.ts'

const MiB = 1024 * 1024

/** `bytes` sent as 1 MiB chunks; after the first `before` bytes it waits until `release` is called. */
function gatedBody(bytes: Buffer, before: number): { body: Readable; release: () => void } {
  let release = () => {}
  const gate = new Promise<void>((r) => {
    release = r
  })
  async function* chunks() {
    for (let sent = 0; sent < bytes.length; sent += MiB) {
      if (sent >= before) await gate
      yield bytes.subarray(sent, Math.min(sent + MiB, bytes.length))
    }
  }
  return { body: Readable.from(chunks(), { objectMode: false }), release }
}

describe('bucket name reused by another tenant while a PUT streams into the old bucket', () => {
  let server: TestServer
  let a: S3Client
  let b: S3Client
  beforeAll(async () => {
    server = await startServer()
    a = s3Client(server, await tenant(server, 'tenant-a', 'off'))
    b = s3Client(server, await tenant(server, 'tenant-b', 'off'))
  })
  afterAll(async () => {
    a?.destroy()
    b?.destroy()
    await server?.stop()
  })

  it("A's PUT gets NoSuchBucket, B's object keeps B's bytes, and A's data is removed", async () => {
    const Bucket = bucketName('reuse')
    const aBytes = objectBytes('tenant-a', 3 * MiB)
    const bBytes = objectBytes('tenant-b', 2 * MiB + 3)
    await a.send(new CreateBucketCommand({ Bucket }))

    const { body, release } = gatedBody(aBytes, MiB)
    const aPut = a.send(new PutObjectCommand({ Bucket, Key: 'k', Body: body, ContentLength: aBytes.length }))
    const aOutcome = sdkError(aPut).catch((e: unknown) => ({ name: 'resolved', status: 200, message: String(e) }))
    // The PUT is streaming: its shards are being written as temp files.
    await waitFor(
      "A's PUT to be storing shards",
      async () => ((await tempFiles(server.dataDir)).length > 0 ? true : 'no temp shard yet'),
      20_000,
      20,
    )

    // A deletes its (still empty) bucket; B takes the name and stores its own object.
    await a.send(new DeleteBucketCommand({ Bucket }))
    await b.send(new CreateBucketCommand({ Bucket }))
    await b.send(new PutObjectCommand({ Bucket, Key: 'k', Body: bBytes }))

    release()
    const outcome = await aOutcome
    expect([outcome.name, outcome.status]).toEqual(['NoSuchBucket', 404])

    const got = await b.send(new GetObjectCommand({ Bucket, Key: 'k' }))
    expect(sha256(await bodyBytes(got.Body))).toBe(sha256(bBytes))
    expect((await sdkError(a.send(new GetObjectCommand({ Bucket, Key: 'k' })))).status).toBe(403)

    // A's shards are gone (removed at once, or queued for GC): nothing else but B's object is stored.
    await waitFor(
      'no temp files and only referenced or queued shards',
      async () => {
        const ids = await metaIds(server.dataDir)
        const temps = (await tempFiles(server.dataDir)).length
        const stray = (await listShards(server.dataDir)).filter(
          (f) => !ids.referenced.has(f.writeId) && !ids.queued.has(f.writeId),
        )
        return temps === 0 && stray.length === 0 ? true : `${temps} temp files, ${stray.length} stray shards`
      },
      20_000,
    )
    const ids = await metaIds(server.dataDir)
    expect(ids.referenced.size).toBe(1)
  })
})
