/**
 * kill -9 of the gateway with a large PutObject half-stored and a multipart upload in progress:
 * after a restart on the same data dir nothing partial is visible, GC removes the orphan shards,
 * and the upload completes. Real processes, the SDK, and the shard files on the drives.
 */
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fanOut } from '../../src/storage/disk-store.ts'
import { bodyBytes, bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'
import {
  driveDirs,
  getHealth,
  listShards,
  objectBytes,
  readShardHeader,
  sha256,
  tempFiles,
  waitFor,
} from '../helpers/shards.ts'

const MiB = 1024 * 1024
const BIG = 200 * MiB
/** The upload stalls here, well inside the object, so the kill always lands mid-way. */
const STALL_AT = 48 * MiB

/**
 * BIG bytes in 1 MiB chunks that stop flowing at STALL_AT and never resume: the server holds
 * a half-stored object for as long as the test wants (here, until it is killed).
 */
function stallingBody(): Readable {
  const chunk = objectBytes('big', MiB)
  let sent = 0
  return new Readable({
    highWaterMark: MiB,
    read() {
      if (sent >= STALL_AT) return // no push, no end: the stream just waits
      sent += MiB
      this.push(chunk)
    },
  })
}

describe('gateway killed with -9 mid-upload, restarted on the same data dir', () => {
  let dataDir: string
  let server: TestServer | undefined
  let s3: S3Client | undefined
  const Bucket = bucketName('crash')
  const keep = { key: 'keep', body: objectBytes('keep', 3 * MiB + 7) }
  const partBodies = [objectBytes('mpu-1', 5 * MiB), objectBytes('mpu-2', 5 * MiB), objectBytes('mpu-3', MiB + 5)]
  let uploadId = ''
  const etags: string[] = []
  let crashedId = ''

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'coffer-crash-'))
  })
  afterAll(async () => {
    s3?.destroy()
    await server?.stop()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('kill -9 while a 200 MiB PutObject is half stored and a multipart upload has 2 parts', async () => {
    server = await startServer({ dataDir })
    s3 = s3Client(server)
    await s3.send(new CreateBucketCommand({ Bucket }))
    await s3.send(new PutObjectCommand({ Bucket, Key: keep.key, Body: keep.body }))
    uploadId = (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mpu' }))).UploadId!
    for (const [i, Body] of partBodies.slice(0, 2).entries()) {
      etags.push(
        (await s3.send(new UploadPartCommand({ Bucket, Key: 'mpu', UploadId: uploadId, PartNumber: i + 1, Body })))
          .ETag!,
      )
    }

    const upload = s3.send(new PutObjectCommand({ Bucket, Key: 'big', Body: stallingBody(), ContentLength: BIG }))
    const outcome = upload.then(
      () => 'stored' as const,
      () => 'failed' as const,
    )
    // Wait (bounded) until all six shards are being written and hold a good part of what was sent.
    await waitFor(
      'six temp shards holding most of the first 48 MiB',
      async () => {
        const temps = await tempFiles(dataDir)
        const bytes = temps.reduce((n, t) => n + t.size, 0)
        return temps.length === 6 && bytes >= STALL_AT ? true : `${temps.length} temp files, ${bytes} bytes`
      },
      30_000,
      50,
    )
    const temps = await tempFiles(dataDir)
    crashedId = (await readShardHeader(temps[0]!.path)).writeId
    await server.kill('SIGKILL')
    expect(await outcome).toBe('failed')
    s3.destroy()

    // Make it the worst crash point too: half the shards were already renamed into place (as
    // after fsync + rename, before the metadata commit), the other half are still temp files.
    const drives = await driveDirs(dataDir)
    for (const t of await tempFiles(dataDir)) {
      const h = await readShardHeader(t.path)
      expect(h.writeId).toBe(crashedId)
      if (h.index >= 3) continue
      const name = `${crashedId}.${h.index}`
      const drive = drives.find((d) => t.path.startsWith(`${d}/`))!
      await mkdir(join(drive, 'shards', fanOut(name)), { recursive: true })
      await rename(t.path, join(drive, 'shards', fanOut(name), name))
    }
    expect((await listShards(dataDir)).filter((f) => f.writeId === crashedId)).toHaveLength(3)
    expect(await tempFiles(dataDir)).toHaveLength(3)
  })

  it('after restart: the object is not visible and GC removes every shard of the crashed write', async () => {
    // Orphans older than 1 s are collected; collection runs every min(GC grace, 30 s) = 1 s.
    server = await startServer({ dataDir, env: { COFFER_ORPHAN_GRACE_MS: '1000', COFFER_GC_GRACE_MS: '1000' } })
    s3 = s3Client(server)
    expect((await sdkError(s3.send(new HeadObjectCommand({ Bucket, Key: 'big' })))).status).toBe(404)
    const listed = await s3.send(new ListObjectsV2Command({ Bucket }))
    expect((listed.Contents ?? []).map((c) => c.Key)).toEqual([keep.key])

    await waitFor(
      'the crashed write to leave no shard or temp file, and orphansRemoved > 0',
      async () => {
        const left = (await listShards(dataDir)).filter((f) => f.writeId === crashedId).length
        const temps = (await tempFiles(dataDir)).length
        const { stats } = await getHealth(server!)
        return left === 0 && temps === 0 && stats.orphansRemoved > 0
          ? true
          : `${left} shards, ${temps} temp files, orphansRemoved ${stats.orphansRemoved}`
      },
      30_000,
    )

    const got = await s3.send(new GetObjectCommand({ Bucket, Key: keep.key }))
    expect(sha256(await bodyBytes(got.Body))).toBe(sha256(keep.body))
  })

  it('the multipart upload survived: parts listed, one more uploaded, completed, bytes identical', async () => {
    const uploads = await s3!.send(new ListMultipartUploadsCommand({ Bucket }))
    expect((uploads.Uploads ?? []).map((u) => [u.Key, u.UploadId])).toEqual([['mpu', uploadId]])
    const parts = await s3!.send(new ListPartsCommand({ Bucket, Key: 'mpu', UploadId: uploadId }))
    expect((parts.Parts ?? []).map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([
      [1, etags[0], 5 * MiB],
      [2, etags[1], 5 * MiB],
    ])
    etags.push(
      (
        await s3!.send(
          new UploadPartCommand({ Bucket, Key: 'mpu', UploadId: uploadId, PartNumber: 3, Body: partBodies[2] }),
        )
      ).ETag!,
    )
    await s3!.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key: 'mpu',
        UploadId: uploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    )
    const got = await bodyBytes((await s3!.send(new GetObjectCommand({ Bucket, Key: 'mpu' }))).Body)
    expect(sha256(got)).toBe(sha256(Buffer.concat(partBodies)))
    // A range across the part 1 / part 2 boundary.
    const range = await bodyBytes(
      (await s3!.send(new GetObjectCommand({ Bucket, Key: 'mpu', Range: `bytes=${5 * MiB - 10}-${5 * MiB + 9}` })))
        .Body,
    )
    expect(range.equals(Buffer.concat(partBodies).subarray(5 * MiB - 10, 5 * MiB + 10))).toBe(true)
    // Orphan collection (1 s grace here) never took a committed part's shards.
    const h = await getHealth(server!)
    expect(h.status).toBe('ok')
  })
})
