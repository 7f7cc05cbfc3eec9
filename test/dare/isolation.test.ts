/**
 * Namespace isolation: two tenants (created with `coffer admin`), every S3 operation family
 * crossed → 403 AccessDenied; bucket names unique across namespaces; user and namespace deletion.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AdminNamespace, adminJson, adminRun, type Credentials, tenant } from '../helpers/admin.ts'
import { sendRaw } from '../helpers/raw.ts'
import { bodyBytes, bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

let server: TestServer
let a: S3Client
let b: S3Client
let root: S3Client
let aKey: string
let bCreds: { accessKeyId: string; secretAccessKey: string }
const aBucket = bucketName('tenant-a')
const bBucket = bucketName('tenant-b')
let aUpload: string

beforeAll(async () => {
  server = await startServer()
  const ca = await tenant(server, 'tenant-a', 'on')
  aKey = ca.accessKeyId
  a = s3Client(server, ca)
  bCreds = await tenant(server, 'tenant-b', 'off')
  b = s3Client(server, bCreds)
  root = s3Client(server)
  await a.send(new CreateBucketCommand({ Bucket: aBucket }))
  await b.send(new CreateBucketCommand({ Bucket: bBucket }))
  await a.send(new PutObjectCommand({ Bucket: aBucket, Key: 'secret', Body: 'tenant a data' }))
  await b.send(new PutObjectCommand({ Bucket: bBucket, Key: 'mine', Body: 'tenant b data' }))
  aUpload = (await a.send(new CreateMultipartUploadCommand({ Bucket: aBucket, Key: 'mp' }))).UploadId!
  await a.send(
    new UploadPartCommand({ Bucket: aBucket, Key: 'mp', UploadId: aUpload, PartNumber: 1, Body: 'part one' }),
  )
}, 60_000)
afterAll(async () => {
  await server?.stop()
})

async function denied(p: Promise<unknown>): Promise<void> {
  const err = await sdkError(p)
  expect(err.status, `${err.name}: ${err.message}`).toBe(403)
}

describe('isolation between namespaces', () => {
  it("ListBuckets shows only the caller's namespace", async () => {
    expect((await a.send(new ListBucketsCommand({}))).Buckets?.map((x) => x.Name)).toEqual([aBucket])
    expect((await b.send(new ListBucketsCommand({}))).Buckets?.map((x) => x.Name)).toEqual([bBucket])
    expect((await root.send(new ListBucketsCommand({}))).Buckets?.map((x) => x.Name) ?? []).not.toContain(aBucket)
  })

  it("bucket operations on another namespace's bucket → 403", async () => {
    await denied(b.send(new HeadBucketCommand({ Bucket: aBucket })))
    await denied(b.send(new GetBucketLocationCommand({ Bucket: aBucket })))
    await denied(b.send(new GetBucketEncryptionCommand({ Bucket: aBucket })))
    await denied(b.send(new ListObjectsV2Command({ Bucket: aBucket })))
    await denied(b.send(new ListObjectsCommand({ Bucket: aBucket })))
    await denied(b.send(new DeleteBucketCommand({ Bucket: aBucket })))
    await denied(root.send(new HeadBucketCommand({ Bucket: aBucket })))
  })

  it('object operations → 403', async () => {
    await denied(b.send(new GetObjectCommand({ Bucket: aBucket, Key: 'secret' })))
    await denied(b.send(new HeadObjectCommand({ Bucket: aBucket, Key: 'secret' })))
    await denied(b.send(new PutObjectCommand({ Bucket: aBucket, Key: 'intruder', Body: 'x' })))
    await denied(b.send(new DeleteObjectCommand({ Bucket: aBucket, Key: 'secret' })))
    await denied(b.send(new DeleteObjectsCommand({ Bucket: aBucket, Delete: { Objects: [{ Key: 'secret' }] } })))
  })

  it('copy with a foreign source, or into a foreign bucket → 403', async () => {
    await denied(b.send(new CopyObjectCommand({ Bucket: bBucket, Key: 'stolen', CopySource: `${aBucket}/secret` })))
    await denied(b.send(new CopyObjectCommand({ Bucket: aBucket, Key: 'pushed', CopySource: `${bBucket}/mine` })))
    const own = (await b.send(new CreateMultipartUploadCommand({ Bucket: bBucket, Key: 'mp' }))).UploadId!
    await denied(
      b.send(
        new UploadPartCopyCommand({
          Bucket: bBucket,
          Key: 'mp',
          UploadId: own,
          PartNumber: 1,
          CopySource: `${aBucket}/secret`,
        }),
      ),
    )
    await b.send(new AbortMultipartUploadCommand({ Bucket: bBucket, Key: 'mp', UploadId: own }))
  })

  it('multipart create / upload / complete / list / abort → 403', async () => {
    await denied(b.send(new CreateMultipartUploadCommand({ Bucket: aBucket, Key: 'x' })))
    await denied(
      b.send(new UploadPartCommand({ Bucket: aBucket, Key: 'mp', UploadId: aUpload, PartNumber: 2, Body: 'x' })),
    )
    await denied(b.send(new ListPartsCommand({ Bucket: aBucket, Key: 'mp', UploadId: aUpload })))
    await denied(b.send(new ListMultipartUploadsCommand({ Bucket: aBucket })))
    await denied(
      b.send(
        new CompleteMultipartUploadCommand({
          Bucket: aBucket,
          Key: 'mp',
          UploadId: aUpload,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"x"' }] },
        }),
      ),
    )
    await denied(b.send(new AbortMultipartUploadCommand({ Bucket: aBucket, Key: 'mp', UploadId: aUpload })))
    // The upload survived all of that.
    expect((await a.send(new ListPartsCommand({ Bucket: aBucket, Key: 'mp', UploadId: aUpload }))).Parts?.length).toBe(
      1,
    )
  })

  it("presigned URLs signed by another namespace's user → 403", async () => {
    for (const cmd of [
      new GetObjectCommand({ Bucket: aBucket, Key: 'secret' }),
      new PutObjectCommand({ Bucket: aBucket, Key: 'presigned' }),
    ]) {
      const u = new URL(await getSignedUrl(b, cmd, { expiresIn: 300 }))
      const method = cmd instanceof GetObjectCommand ? 'GET' : 'PUT'
      const res = await sendRaw(server, {
        method,
        pathAndQuery: u.pathname + u.search,
        headers: { host: u.host, ...(method === 'PUT' ? { 'content-length': '1' } : {}) },
        body: method === 'PUT' ? Buffer.from('x') : undefined,
      })
      expect(res.status, res.body).toBe(403)
      expect(res.body).toContain('AccessDenied')
    }
  })

  it('bucket names stay unique across namespaces → 409 BucketAlreadyExists', async () => {
    const err = await sdkError(b.send(new CreateBucketCommand({ Bucket: aBucket })))
    expect(err.status).toBe(409)
    expect(err.name).toBe('BucketAlreadyExists')
  })

  it('the owner still reads its data', async () => {
    expect(
      (await bodyBytes((await a.send(new GetObjectCommand({ Bucket: aBucket, Key: 'secret' }))).Body)).toString(),
    ).toBe('tenant a data')
  })
})

describe('users and namespaces via coffer admin', () => {
  it('namespace list shows both tenants with their encryption', async () => {
    const { namespaces } = await adminJson<{ namespaces: AdminNamespace[] }>(server, ['namespace', 'list'])
    const byName = Object.fromEntries(namespaces.map((n) => [n.name, n.encryption]))
    expect(byName).toMatchObject({ default: true, 'tenant-a': true, 'tenant-b': false })
  })

  it('user list filters by namespace and never shows secrets', async () => {
    const { users } = await adminJson<{ users: { accessKeyId: string }[] }>(server, [
      'user',
      'list',
      '--namespace',
      'tenant-a',
    ])
    expect(users.map((u) => u.accessKeyId)).toEqual([aKey])
    expect(JSON.stringify(users)).not.toMatch(/secret/i)
  })

  it('the admin API refuses a tenant user (signed correctly) and unsigned requests', async () => {
    const err = await adminRun(server, ['namespace', 'create', 'sneaky'], bCreds).catch((e) => e)
    expect(err.code).toBe(1)
    expect(err.stderr).toMatch(/403.*AccessDenied/)
    const res = await sendRaw(server, {
      method: 'GET',
      pathAndQuery: '/_coffer/admin/namespaces',
      headers: { host: `127.0.0.1:${server.port}` },
    })
    expect(res.status).toBe(403)
  })

  it('a namespace with buckets is not deleted without --force; with it, buckets and keys go', async () => {
    const refused = await adminRun(server, ['namespace', 'delete', 'tenant-a']).catch((e) => e)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/NamespaceNotEmpty/)
    const out = await adminJson(server, ['namespace', 'delete', 'tenant-a', '--force'])
    expect(out).toMatchObject({ deleted: 'tenant-a', buckets: 1, objects: 1 })
    // Its users went with it: the access key is unknown now.
    const err = await sdkError(a.send(new ListBucketsCommand({})))
    expect(err.status).toBe(403)
    expect(err.name).toBe('InvalidAccessKeyId')
    // The name is free again.
    await b.send(new CreateBucketCommand({ Bucket: aBucket }))
  })

  it('user delete revokes the access key at once', async () => {
    const u = await adminJson<Credentials>(server, [
      'user',
      'create',
      'temp',
      '--namespace',
      'tenant-b',
      '--policy',
      'readonly',
    ])
    const c = s3Client(server, { accessKeyId: u.accessKeyId, secretAccessKey: u.secretAccessKey })
    expect((await c.send(new ListBucketsCommand({}))).Buckets?.length).toBeGreaterThan(0)
    await adminJson(server, ['user', 'delete', u.accessKeyId])
    expect((await sdkError(c.send(new ListBucketsCommand({})))).name).toBe('InvalidAccessKeyId')
  })
})
