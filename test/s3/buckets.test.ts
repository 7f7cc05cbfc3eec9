/**
 * Black-box bucket operations over TLS with the default AWS SDK client and raw signed requests.
 * Expected behaviour follows AWS S3 (incl. the us-east-1 legacy answer to re-creating an owned bucket).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type BucketLocationConstraint,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketLocationCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { startServer, type TestServer } from '../helpers/server.ts'
import { bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { errorFields, rawRequest, rfc3986 } from '../helpers/raw.ts'

let server: TestServer
let s3: S3Client
let euServer: TestServer
let eu: S3Client

beforeAll(async () => {
  ;[server, euServer] = await Promise.all([
    startServer(),
    startServer({ args: ['--region', 'eu-west-1'], env: { COFFER_REGION: 'eu-west-1' } }),
  ])
  s3 = s3Client(server)
  eu = s3Client(euServer)
})
afterAll(async () => {
  s3?.destroy()
  eu?.destroy()
  await Promise.all([server?.stop(), euServer?.stop()])
})

describe('CreateBucket / ListBuckets / HeadBucket', () => {
  it('creates buckets and lists them sorted by name with creation dates', async () => {
    const names = [bucketName('zz'), bucketName('aa'), bucketName('mm')]
    for (const Bucket of names) {
      const r = await s3.send(new CreateBucketCommand({ Bucket }))
      expect(r.$metadata.httpStatusCode).toBe(200)
      expect(r.Location).toBe(`/${Bucket}`)
    }
    const list = await s3.send(new ListBucketsCommand({}))
    const listed = (list.Buckets ?? []).map((b) => b.Name!)
    for (const n of names) expect(listed).toContain(n)
    expect(listed).toEqual([...listed].sort())
    const mine = list.Buckets!.find((b) => b.Name === names[0])!
    expect(mine.CreationDate).toBeInstanceOf(Date)
    expect(Math.abs(mine.CreationDate!.getTime() - Date.now())).toBeLessThan(5 * 60_000)
    expect(list.Owner?.ID).toBeTruthy()
  })

  it('HeadBucket: 200 for an existing bucket, 404 for a missing one', async () => {
    const Bucket = bucketName()
    await s3.send(new CreateBucketCommand({ Bucket }))
    const ok = await s3.send(new HeadBucketCommand({ Bucket }))
    expect(ok.$metadata.httpStatusCode).toBe(200)
    expect(ok.BucketRegion).toBe(server.region)
    const missing = await sdkError(s3.send(new HeadBucketCommand({ Bucket: bucketName('missing') })))
    expect(missing.status).toBe(404)
  })

  it('accepts the two boundary lengths 3 and 63', async () => {
    const rnd = () =>
      `${Math.random()
        .toString(36)
        .slice(2)
        .replace(/[^a-z0-9]/g, '')}xyz0123456789`
    for (const Bucket of [`a${rnd()}`.slice(0, 3), `b${rnd()}`.padEnd(63, 'c').slice(0, 63)]) {
      expect(Bucket.length === 3 || Bucket.length === 63).toBe(true)
      const r = await s3.send(new CreateBucketCommand({ Bucket }))
      expect(r.$metadata.httpStatusCode).toBe(200)
    }
  })

  const invalid: Array<[string, string]> = [
    ['uppercase', 'MyBucket'],
    ['underscore', 'my_bucket'],
    ['too short', 'ab'],
    ['too long (64)', 'a'.repeat(64)],
    ['IP address', '192.168.5.4'],
    ['xn-- prefix', 'xn--bucket'],
    ['sthree- prefix', 'sthree-bucket'],
    ['-s3alias suffix', 'bucket-s3alias'],
    ['--ol-s3 suffix', 'bucket--ol-s3'],
    ['leading hyphen', '-bucket'],
    ['trailing hyphen', 'bucket-'],
    ['adjacent dots', 'my..bucket'],
    ['period then hyphen', 'a.-b'],
    ['hyphen then period', 'a-.b'],
    ['amzn-s3-demo- prefix', 'amzn-s3-demo-bucket'],
    ['--x-s3 suffix', 'bucket--x-s3'],
    ['space', 'my bucket'],
  ]
  it.each(invalid)('rejects an invalid name (%s) with 400 InvalidBucketName', async (_label, name) => {
    const r = await rawRequest(server, { method: 'PUT', path: `/${rfc3986(name)}` })
    expect(r.status, r.body).toBe(400)
    expect(errorFields(r.body).code).toBe('InvalidBucketName')
    const head = await rawRequest(server, { method: 'HEAD', path: `/${rfc3986(name)}` })
    expect([400, 404]).toContain(head.status)
  })

  it('us-east-1: re-creating a bucket you own answers 200 (S3 legacy behaviour)', async () => {
    expect(server.region).toBe('us-east-1')
    const Bucket = bucketName()
    await s3.send(new CreateBucketCommand({ Bucket }))
    const again = await s3.send(new CreateBucketCommand({ Bucket }))
    expect(again.$metadata.httpStatusCode).toBe(200)
    const list = await s3.send(new ListBucketsCommand({}))
    expect(list.Buckets!.filter((b) => b.Name === Bucket)).toHaveLength(1)
  })

  it('other regions: re-creating a bucket you own → 409 BucketAlreadyOwnedByYou', async () => {
    expect(euServer.region).toBe('eu-west-1')
    const Bucket = bucketName()
    await eu.send(new CreateBucketCommand({ Bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }))
    const e = await sdkError(
      eu.send(new CreateBucketCommand({ Bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } })),
    )
    expect(e.status).toBe(409)
    expect(e.name).toBe('BucketAlreadyOwnedByYou')
  })
})

describe('LocationConstraint and GetBucketLocation', () => {
  it('us-east-1: no constraint → GetBucketLocation answers an empty LocationConstraint', async () => {
    const Bucket = bucketName()
    await s3.send(new CreateBucketCommand({ Bucket }))
    const loc = await s3.send(new GetBucketLocationCommand({ Bucket }))
    expect(loc.$metadata.httpStatusCode).toBe(200)
    // S3 returns <LocationConstraint/> for us-east-1; the SDK surfaces it as undefined or ''.
    expect(loc.LocationConstraint ?? '').toBe('')
  })

  it('matching constraint is accepted and reported back', async () => {
    const Bucket = bucketName()
    const r = await eu.send(
      new CreateBucketCommand({ Bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }),
    )
    expect(r.$metadata.httpStatusCode).toBe(200)
    const loc = await eu.send(new GetBucketLocationCommand({ Bucket }))
    expect(loc.LocationConstraint).toBe('eu-west-1')
  })

  it('a region this endpoint does not serve → 400 IllegalLocationConstraintException / InvalidLocationConstraint', async () => {
    const Bucket = bucketName()
    const e = await sdkError(
      eu.send(new CreateBucketCommand({ Bucket, CreateBucketConfiguration: { LocationConstraint: 'us-west-2' } })),
    )
    expect(e.status).toBe(400)
    expect(['IllegalLocationConstraintException', 'InvalidLocationConstraint']).toContain(e.name)
    expect((await sdkError(eu.send(new HeadBucketCommand({ Bucket })))).status).toBe(404)
  })

  it('a nonsense constraint → 400 InvalidLocationConstraint (or IllegalLocationConstraintException)', async () => {
    // Not a region: the SDK's type lists only real ones, so the string is widened to be sent anyway.
    const nonsense: string = 'moon-north-1'
    const e = await sdkError(
      s3.send(
        new CreateBucketCommand({
          Bucket: bucketName(),
          CreateBucketConfiguration: { LocationConstraint: nonsense as BucketLocationConstraint },
        }),
      ),
    )
    expect(e.status).toBe(400)
    expect(['IllegalLocationConstraintException', 'InvalidLocationConstraint']).toContain(e.name)
  })

  it('GetBucketLocation of a missing bucket → 404 NoSuchBucket', async () => {
    const e = await sdkError(s3.send(new GetBucketLocationCommand({ Bucket: bucketName('missing') })))
    expect(e.status).toBe(404)
    expect(e.name).toBe('NoSuchBucket')
  })
})

describe('DeleteBucket', () => {
  it('refuses a non-empty bucket (409 BucketNotEmpty), then deletes it once empty (204)', async () => {
    const Bucket = bucketName()
    await s3.send(new CreateBucketCommand({ Bucket }))
    await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' }))
    const e = await sdkError(s3.send(new DeleteBucketCommand({ Bucket })))
    expect(e.status).toBe(409)
    expect(e.name).toBe('BucketNotEmpty')
    expect((await s3.send(new HeadBucketCommand({ Bucket }))).$metadata.httpStatusCode).toBe(200)
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k' }))
    const del = await s3.send(new DeleteBucketCommand({ Bucket }))
    expect(del.$metadata.httpStatusCode).toBe(204)
    expect((await sdkError(s3.send(new HeadBucketCommand({ Bucket })))).status).toBe(404)
    const list = await s3.send(new ListBucketsCommand({}))
    expect((list.Buckets ?? []).map((b) => b.Name)).not.toContain(Bucket)
  })

  it('a missing bucket → 404 NoSuchBucket with an S3 error document', async () => {
    const name = bucketName('missing')
    const e = await sdkError(s3.send(new DeleteBucketCommand({ Bucket: name })))
    expect(e.status).toBe(404)
    expect(e.name).toBe('NoSuchBucket')
    const raw = await rawRequest(server, { method: 'DELETE', path: `/${name}` })
    expect(raw.status).toBe(404)
    const f = errorFields(raw.body)
    expect(f.code).toBe('NoSuchBucket')
    expect(f.message).toBeTruthy()
    expect(f.requestId).toBeTruthy()
  })

  it('a deleted bucket name can be created again', async () => {
    const Bucket = bucketName()
    await s3.send(new CreateBucketCommand({ Bucket }))
    await s3.send(new DeleteBucketCommand({ Bucket }))
    const r = await s3.send(new CreateBucketCommand({ Bucket }))
    expect(r.$metadata.httpStatusCode).toBe(200)
  })
})
