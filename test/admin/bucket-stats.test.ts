/**
 * `coffer admin bucket stats NAME` against a real gateway: objects written with the AWS SDK
 * (versions, a delete marker, an object from before versioning) are reported per bucket with
 * exact counts and logical bytes of current and non-current versions, and delete markers.
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminJson, adminRun } from '../helpers/admin.ts'
import { bucketName, s3Client } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

let server: TestServer
let s3: S3Client

beforeAll(async () => {
  server = await startServer()
  s3 = s3Client(server)
})
afterAll(async () => {
  s3?.destroy()
  await server?.stop()
})

type Stats = {
  bucket: string
  namespace: string
  versioning: string
  objectLock: boolean
  current: { count: number; bytes: number }
  noncurrent: { count: number; bytes: number }
  deleteMarkers: number
}

const put = (Bucket: string, Key: string, bytes: number) =>
  s3.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.alloc(bytes, 0x61) }))

describe('coffer admin bucket stats', () => {
  it('reports exact counts and bytes of current and non-current versions and delete markers', async () => {
    const B = bucketName('stats')
    const other = bucketName('stats-other')
    await s3.send(new CreateBucketCommand({ Bucket: B }))
    await s3.send(new CreateBucketCommand({ Bucket: other }))
    expect(await adminJson<Stats>(server, ['bucket', 'stats', B])).toEqual({
      bucket: B,
      namespace: 'default',
      versioning: 'Unversioned',
      objectLock: false,
      current: { count: 0, bytes: 0 },
      noncurrent: { count: 0, bytes: 0 },
      deleteMarkers: 0,
    })
    await put(B, 'plain', 1000) // before versioning: the null version, current
    await s3.send(new PutBucketVersioningCommand({ Bucket: B, VersioningConfiguration: { Status: 'Enabled' } }))
    await put(B, 'k', 10)
    await put(B, 'k', 2000)
    await put(B, 'k', 300_000)
    const marker = await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'k' }))
    expect(marker.DeleteMarker).toBe(true)
    await put(other, 'elsewhere', 77) // another bucket's object is not counted
    expect(await adminJson<Stats>(server, ['bucket', 'stats', B])).toEqual({
      bucket: B,
      namespace: 'default',
      versioning: 'Enabled',
      objectLock: false,
      current: { count: 1, bytes: 1000 },
      noncurrent: { count: 3, bytes: 10 + 2000 + 300_000 },
      deleteMarkers: 1,
    })
    // Removing the marker makes the newest version current again.
    await s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'k', VersionId: marker.VersionId }))
    expect(await adminJson<Stats>(server, ['bucket', 'stats', B])).toMatchObject({
      current: { count: 2, bytes: 1000 + 300_000 },
      noncurrent: { count: 2, bytes: 10 + 2000 },
      deleteMarkers: 0,
    })
    expect(await adminJson<Stats>(server, ['bucket', 'stats', other])).toMatchObject({
      current: { count: 1, bytes: 77 },
      noncurrent: { count: 0, bytes: 0 },
      deleteMarkers: 0,
    })
    // Without --json: one line per kind.
    const { stdout } = await adminRun(server, ['bucket', 'stats', B])
    expect(stdout).toMatch(/current versions:\s+2\t301000 bytes/)
    expect(stdout).toMatch(/non-current versions:\s+2\t2010 bytes/)
    expect(stdout).toMatch(/delete markers:\s+0/)
  })

  it('a bucket that does not exist is a 404 NoSuchBucket', async () => {
    const failed = await adminRun(server, ['bucket', 'stats', 'no-such-bucket-here']).catch((e: unknown) => e)
    expect(failed).toMatchObject({ code: 1 })
    expect((failed as { stderr: string }).stderr).toMatch(/404.*NoSuchBucket/)
  })
})
