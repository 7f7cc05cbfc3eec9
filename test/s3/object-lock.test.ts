/**
 * Black-box Object Lock over TLS with the AWS SDK: lock-enabled buckets, Get/PutObjectLockConfiguration,
 * retention and legal hold per version (headers and sub-resources), COMPLIANCE refusing even the
 * root user, GOVERNANCE bypass, bucket default retention, integrity headers, and a restart
 * keeping every retention.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminJson, adminRun, type Credentials } from '../helpers/admin.ts'
import { md5b64, objectPath, rawRequest } from '../helpers/raw.ts'
import { bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { randomCredentials, startServer, type TestServer } from '../helpers/server.ts'

let dataDir: string
let server: TestServer
let s3: S3Client
const creds = randomCredentials()
const env = { COFFER_ROOT_ACCESS_KEY: creds.accessKeyId, COFFER_ROOT_SECRET_KEY: creds.secretAccessKey }
const Bucket = bucketName('locked')
const inDays = (d: number) => new Date(Date.now() + d * 86_400_000)

const put = (Key: string, extra: Partial<ConstructorParameters<typeof PutObjectCommand>[0]> = {}) =>
  s3.send(new PutObjectCommand({ Bucket, Key, Body: `body of ${Key}`, ...extra }))
const delVersion = (Key: string, VersionId: string, BypassGovernanceRetention?: boolean) =>
  s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId, BypassGovernanceRetention }))

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'coffer-lock-'))
  server = await startServer({ dataDir, env })
  s3 = s3Client(server)
  await s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }))
})
afterAll(async () => {
  s3?.destroy()
  await server?.stop()
  await rm(dataDir, { recursive: true, force: true })
})

describe('lock-enabled buckets', () => {
  it('CreateBucket with object lock turns versioning on; it cannot be suspended', async () => {
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).toBe('Enabled')
    const config = await s3.send(new GetObjectLockConfigurationCommand({ Bucket }))
    expect(config.ObjectLockConfiguration).toEqual({ ObjectLockEnabled: 'Enabled' })
    const suspend = await sdkError(
      s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Suspended' } })),
    )
    expect(suspend.status).toBe(409)
    expect(suspend.name).toBe('InvalidBucketState')
  })

  it('a bucket without lock refuses lock calls; lock can be enabled once versioning is', async () => {
    const B = bucketName('plain')
    await s3.send(new CreateBucketCommand({ Bucket: B }))
    const none = await sdkError(s3.send(new GetObjectLockConfigurationCommand({ Bucket: B })))
    expect(none).toMatchObject({ status: 404, name: 'ObjectLockConfigurationNotFoundError' })
    const headers = await sdkError(
      s3.send(
        new PutObjectCommand({
          Bucket: B,
          Key: 'k',
          Body: 'x',
          ObjectLockMode: 'GOVERNANCE',
          ObjectLockRetainUntilDate: inDays(1),
        }),
      ),
    )
    expect(headers).toMatchObject({ status: 400, name: 'InvalidRequest' })
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'k', Body: 'x' }))
    const retention = await sdkError(s3.send(new GetObjectRetentionCommand({ Bucket: B, Key: 'k' })))
    expect(retention).toMatchObject({ status: 400, name: 'InvalidRequest' })
    const config = { ObjectLockEnabled: 'Enabled' as const }
    const unversioned = await sdkError(
      s3.send(new PutObjectLockConfigurationCommand({ Bucket: B, ObjectLockConfiguration: config })),
    )
    expect(unversioned).toMatchObject({ status: 409, name: 'InvalidBucketState' })
    await s3.send(new PutBucketVersioningCommand({ Bucket: B, VersioningConfiguration: { Status: 'Enabled' } }))
    await s3.send(new PutObjectLockConfigurationCommand({ Bucket: B, ObjectLockConfiguration: config }))
    expect((await s3.send(new GetObjectLockConfigurationCommand({ Bucket: B }))).ObjectLockConfiguration).toEqual(
      config,
    )
  })
})

describe('retention and legal hold', () => {
  let compliance = ''
  let governance = ''

  it('COMPLIANCE refuses deleting the version and weakening it, the root user included', async () => {
    const until = inDays(1)
    const v = await put('c', { ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: until })
    compliance = v.VersionId!
    const got = await s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'c', VersionId: compliance }))
    expect(got.Retention?.Mode).toBe('COMPLIANCE')
    // The date as sent (the SDK may drop milliseconds).
    expect(Math.abs(got.Retention!.RetainUntilDate!.getTime() - until.getTime())).toBeLessThan(1000)
    for (const bypass of [false, true]) {
      expect(await sdkError(delVersion('c', compliance, bypass))).toMatchObject({ status: 403, name: 'AccessDenied' })
    }
    const shorter = await sdkError(
      s3.send(
        new PutObjectRetentionCommand({
          Bucket,
          Key: 'c',
          VersionId: compliance,
          BypassGovernanceRetention: true,
          Retention: { Mode: 'COMPLIANCE', RetainUntilDate: inDays(0.5) },
        }),
      ),
    )
    expect(shorter.status).toBe(403)
    const toGovernance = await sdkError(
      s3.send(
        new PutObjectRetentionCommand({
          Bucket,
          Key: 'c',
          VersionId: compliance,
          BypassGovernanceRetention: true,
          Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(5) },
        }),
      ),
    )
    expect(toGovernance.status).toBe(403)
    await s3.send(
      new PutObjectRetentionCommand({
        Bucket,
        Key: 'c',
        VersionId: compliance,
        Retention: { Mode: 'COMPLIANCE', RetainUntilDate: inDays(2) },
      }),
    )
    // DELETE without a version id only writes a marker, which is allowed.
    const marker = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'c' }))
    expect(marker.DeleteMarker).toBe(true)
    const batch = await s3.send(
      new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'c', VersionId: compliance }] } }),
    )
    expect(batch.Errors?.[0]).toMatchObject({ Key: 'c', VersionId: compliance, Code: 'AccessDenied' })
  })

  it('GOVERNANCE refuses without bypass; the root user bypasses it with the header', async () => {
    governance = (await put('g', { ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: inDays(1) })).VersionId!
    expect(await sdkError(delVersion('g', governance))).toMatchObject({ status: 403 })
    const shorten = () =>
      s3.send(
        new PutObjectRetentionCommand({
          Bucket,
          Key: 'g',
          VersionId: governance,
          BypassGovernanceRetention: true,
          Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(0.5) },
        }),
      )
    await shorten()
    expect((await s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'g' }))).Retention?.Mode).toBe('GOVERNANCE')
    const kept = (await put('g2', { ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: inDays(1) })).VersionId!
    const noBypass = await sdkError(
      s3.send(
        new PutObjectRetentionCommand({
          Bucket,
          Key: 'g2',
          VersionId: kept,
          Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(0.5) },
        }),
      ),
    )
    expect(noBypass.status).toBe(403)
    await delVersion('g', governance, true)
    expect(
      await sdkError(s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'g', VersionId: governance }))),
    ).toMatchObject({
      status: 404,
      name: 'NoSuchVersion',
    })
  })

  it('a legal hold refuses deletion whatever the retention; lifting it allows it', async () => {
    const v = (await put('h', { ObjectLockLegalHoldStatus: 'ON' })).VersionId!
    expect((await s3.send(new GetObjectLegalHoldCommand({ Bucket, Key: 'h' }))).LegalHold?.Status).toBe('ON')
    expect(await sdkError(delVersion('h', v, true))).toMatchObject({ status: 403 })
    await s3.send(new PutObjectLegalHoldCommand({ Bucket, Key: 'h', VersionId: v, LegalHold: { Status: 'OFF' } }))
    expect((await s3.send(new GetObjectLegalHoldCommand({ Bucket, Key: 'h', VersionId: v }))).LegalHold?.Status).toBe(
      'OFF',
    )
    await delVersion('h', v)
    // Set through the sub-resource on a version written without one.
    const w = (await put('h2')).VersionId!
    await s3.send(new PutObjectLegalHoldCommand({ Bucket, Key: 'h2', VersionId: w, LegalHold: { Status: 'ON' } }))
    expect(await sdkError(delVersion('h2', w))).toMatchObject({ status: 403 })
    await s3.send(new PutObjectLegalHoldCommand({ Bucket, Key: 'h2', VersionId: w, LegalHold: { Status: 'OFF' } }))
  })

  it("GET and HEAD show a version's lock to a caller allowed to read it, and only to such a caller", async () => {
    const until = inDays(3)
    const v = (
      await put('shown', {
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: until,
        ObjectLockLegalHoldStatus: 'ON',
      })
    ).VersionId!
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'shown', VersionId: v }))
    expect(head.ObjectLockMode).toBe('COMPLIANCE')
    expect(Math.abs(head.ObjectLockRetainUntilDate!.getTime() - until.getTime())).toBeLessThan(1000)
    expect(head.ObjectLockLegalHoldStatus).toBe('ON')
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'shown' }))
    expect(got.ObjectLockMode).toBe('COMPLIANCE')
    expect(got.ObjectLockLegalHoldStatus).toBe('ON')
    await got.Body!.transformToString()
    // A version without a lock carries none of the headers.
    await put('plain')
    const plain = await rawRequest(server, { method: 'HEAD', path: objectPath(Bucket, 'plain') })
    expect(plain.status).toBe(200)
    expect(Object.keys(plain.headers).filter((h) => h.startsWith('x-amz-object-lock'))).toEqual([])
    // A user allowed s3:GetObject(Version) alone reads the object but not its lock (S3 needs
    // s3:GetObjectRetention and s3:GetObjectLegalHold for the headers).
    const reader = await adminJson<Credentials>(server, ['user', 'create', 'lock-reader', '--namespace', 'default'])
    const policy = join(dataDir, 'get-only.json')
    await writeFile(
      policy,
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: `arn:aws:s3:::${Bucket}/*` },
        ],
      }),
    )
    await adminRun(server, ['user', 'policy', 'set', reader.accessKeyId, policy])
    const other = s3Client(server, reader)
    try {
      const seen = await other.send(new HeadObjectCommand({ Bucket, Key: 'shown', VersionId: v }))
      expect(seen.ETag).toBe(head.ETag)
      expect(seen.ObjectLockMode).toBeUndefined()
      expect(seen.ObjectLockRetainUntilDate).toBeUndefined()
      expect(seen.ObjectLockLegalHoldStatus).toBeUndefined()
    } finally {
      other.destroy()
    }
  })

  it('bad lock requests are 400s: a past date, one header without the other, an unknown mode', async () => {
    const past = await sdkError(put('bad', { ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: inDays(-1) }))
    expect(past).toMatchObject({ status: 400, name: 'InvalidArgument' })
    const alone = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, 'bad'),
      headers: { 'x-amz-object-lock-mode': 'GOVERNANCE', 'content-md5': md5b64('x') },
      body: 'x',
    })
    expect(alone.status).toBe(400)
    const mode = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, 'bad'),
      headers: {
        'x-amz-object-lock-mode': 'FOREVER',
        'x-amz-object-lock-retain-until-date': inDays(1).toISOString(),
        'content-md5': md5b64('x'),
      },
      body: 'x',
    })
    expect(mode.status).toBe(400)
    expect(mode.body).toContain('<Code>InvalidArgument</Code>')
    const xml = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, 'c'),
      query: [['retention', '']],
      headers: { 'content-md5': md5b64('<Retention><Mode>NEVER</Mode></Retention>') },
      body: '<Retention><Mode>NEVER</Mode></Retention>',
    })
    expect(xml.status).toBe(400)
    expect(xml.body).toContain('<Code>MalformedXML</Code>')
  })
})

describe('default retention, multipart and copy', () => {
  const B = bucketName('default')

  it('the bucket default applies to new versions; a locked PUT needs Content-MD5 or a checksum', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: B, ObjectLockEnabledForBucket: true }))
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: B,
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 2 } },
        },
      }),
    )
    const config = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: B }))
    expect(config.ObjectLockConfiguration?.Rule?.DefaultRetention).toEqual({ Mode: 'GOVERNANCE', Days: 2 })
    const v = await s3.send(new PutObjectCommand({ Bucket: B, Key: 'd', Body: 'defaulted' }))
    const r = await s3.send(new GetObjectRetentionCommand({ Bucket: B, Key: 'd', VersionId: v.VersionId }))
    expect(r.Retention?.Mode).toBe('GOVERNANCE')
    const until = r.Retention!.RetainUntilDate!.getTime()
    expect(until).toBeGreaterThan(inDays(1.9).getTime())
    expect(until).toBeLessThan(inDays(2.1).getTime())
    const bare = await rawRequest(server, { method: 'PUT', path: objectPath(B, 'bare'), body: 'no digest' })
    expect(bare.status).toBe(400)
    expect(bare.body).toContain('Content-MD5')
    const withMd5 = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(B, 'bare'),
      headers: { 'content-md5': md5b64('digest') },
      body: 'digest',
    })
    expect(withMd5.status).toBe(200)
  })

  it('a part of an upload that makes a locked version needs Content-MD5 or a checksum, as PutObject does', async () => {
    // Raw parts: the SDK adds a CRC32 by itself. A part is judged as a PUT would be: lock headers
    // at creation, or the bucket default (B has one), demand a digest; neither (Bucket) does not.
    const partOf = (bucket: string, UploadId: string, headers: Record<string, string> = {}) =>
      rawRequest(server, {
        method: 'PUT',
        path: objectPath(bucket, 'parts'),
        query: [
          ['partNumber', '1'],
          ['uploadId', UploadId],
        ],
        headers,
        body: 'part',
      })
    const create = async (bucket: string, lock: boolean) =>
      (
        await s3.send(
          new CreateMultipartUploadCommand({
            Bucket: bucket,
            Key: 'parts',
            ...(lock ? { ObjectLockMode: 'GOVERNANCE' as const, ObjectLockRetainUntilDate: inDays(1) } : {}),
          }),
        )
      ).UploadId!
    for (const [bucket, lock] of [
      [Bucket, true],
      [B, false],
    ] as const) {
      const id = await create(bucket, lock)
      const bare = await partOf(bucket, id)
      expect(bare.status).toBe(400)
      expect(bare.body).toContain('<Code>InvalidRequest</Code>')
      expect(bare.body).toContain('Content-MD5')
      expect((await partOf(bucket, id, { 'content-md5': md5b64('part') })).status).toBe(200)
      expect((await partOf(bucket, id, { 'x-amz-checksum-crc32': 'SQ9wxg==' })).status).toBe(200)
    }
    // No lock headers and no default retention: the version will not be locked, no digest needed.
    expect((await partOf(Bucket, await create(Bucket, false))).status).toBe(200)
  })

  it('lock headers on CreateMultipartUpload and CopyObject lock the version they make', async () => {
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({
        Bucket,
        Key: 'mpu',
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: inDays(1),
      }),
    )
    const part = await s3.send(new UploadPartCommand({ Bucket, Key: 'mpu', UploadId, PartNumber: 1, Body: 'p' }))
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key: 'mpu',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    )
    expect(
      (await s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'mpu', VersionId: done.VersionId }))).Retention?.Mode,
    ).toBe('COMPLIANCE')
    expect(await sdkError(delVersion('mpu', done.VersionId!, true))).toMatchObject({ status: 403 })
    const copy = await s3.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'copied',
        CopySource: `${Bucket}/mpu`,
        ObjectLockLegalHoldStatus: 'ON',
      }),
    )
    expect((await s3.send(new GetObjectLegalHoldCommand({ Bucket, Key: 'copied' }))).LegalHold?.Status).toBe('ON')
    // The copy does not inherit the source's retention.
    const none = await sdkError(
      s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'copied', VersionId: copy.VersionId })),
    )
    expect(none).toMatchObject({ status: 404, name: 'NoSuchObjectLockConfiguration' })
    await s3.send(
      new PutObjectLegalHoldCommand({ Bucket, Key: 'copied', VersionId: copy.VersionId, LegalHold: { Status: 'OFF' } }),
    )
  })
})

describe('a restart', () => {
  it('keeps every retention and legal hold, and their refusals', async () => {
    const held = (await put('r', { ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: inDays(1) })).VersionId!
    s3.destroy()
    await server.kill('SIGTERM')
    server = await startServer({ dataDir, env })
    s3 = s3Client(server)
    expect((await s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'r', VersionId: held }))).Retention?.Mode).toBe(
      'COMPLIANCE',
    )
    expect(await sdkError(delVersion('r', held, true))).toMatchObject({ status: 403 })
    expect((await s3.send(new GetObjectLockConfigurationCommand({ Bucket }))).ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: 'Enabled',
    })
  })
})
