/**
 * Black-box bucket lifecycle over TLS with the AWS SDK, under COFFER_LIFECYCLE_DAY_SECONDS=1 (a
 * "day" of one second, a test setting): Put/Get/DeleteBucketLifecycleConfiguration and AWS's
 * validation, x-amz-expiration, and the background worker acting within seconds — expiration by
 * days and by date, delete markers in a versioned bucket, noncurrent versions removed, expired
 * delete markers removed, incomplete uploads aborted, a locked version kept — and a restart in
 * the middle of a pass resuming from the saved cursor.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type LifecycleRule,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { errorFields, md5b64, objectPath, rawRequest } from '../helpers/raw.ts'
import { bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { randomCredentials, startServer, type TestServer } from '../helpers/server.ts'

const creds = randomCredentials()
const ENV = {
  COFFER_ROOT_ACCESS_KEY: creds.accessKeyId,
  COFFER_ROOT_SECRET_KEY: creds.secretAccessKey,
  COFFER_LIFECYCLE_DAY_SECONDS: '1',
  COFFER_LIFECYCLE_INTERVAL_MS: '300',
  COFFER_LIFECYCLE_PAUSE_MS: '20',
}

interface Pass {
  startedAt: number
  examined: number
  expired: number
  noncurrentRemoved: number
  markersRemoved: number
  uploadsAborted: number
  bytesFreed: number
  keptLocked: number
}
interface Status {
  rules: number
  running: boolean
  currentPass?: Pass
  lastPass?: Pass & { endedAt: number }
  totals: Omit<Pass, 'startedAt'> & { passes: number }
}

let server: TestServer
let s3: S3Client

async function status(srv = server): Promise<Status> {
  const r = await rawRequest(srv, { method: 'GET', path: '/_coffer/admin/lifecycle' })
  expect(r.status, r.body).toBe(200)
  return JSON.parse(r.body) as Status
}

/** Polls `check` every 200 ms until it holds, for at most `ms`. */
async function waitFor(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const gone = (Bucket: string, Key: string, c = s3) =>
  c.send(new HeadObjectCommand({ Bucket, Key })).then(
    () => false,
    () => true,
  )
const setRules = (Bucket: string, Rules: LifecycleRule[], c = s3) =>
  c.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules } }))
const putLifecycleXml = (Bucket: string, body: string) =>
  rawRequest(server, {
    method: 'PUT',
    path: objectPath(Bucket),
    query: [['lifecycle', '']],
    headers: { 'content-md5': md5b64(body) },
    body,
  })
const rule = (xml: string, id = 'r') =>
  `<LifecycleConfiguration><Rule><ID>${id}</ID><Filter><Prefix>p/</Prefix></Filter><Status>Enabled</Status>${xml}</Rule></LifecycleConfiguration>`

beforeAll(async () => {
  server = await startServer({ env: ENV })
  s3 = s3Client(server)
}, 60_000)
afterAll(async () => {
  s3?.destroy()
  await server?.stop()
})

describe('configuration', () => {
  const Bucket = bucketName('lcconf')
  beforeAll(() => s3.send(new CreateBucketCommand({ Bucket })))

  it('NoSuchLifecycleConfiguration until set; a round trip keeps every rule; delete removes it', async () => {
    const none = await sdkError(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket })))
    expect(`${none.status} ${none.name}`).toBe('404 NoSuchLifecycleConfiguration')
    const Rules: LifecycleRule[] = [
      { ID: 'logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 30 } },
      {
        ID: 'old-versions',
        Status: 'Disabled',
        Filter: {
          And: { Prefix: 'docs/', Tags: [{ Key: 'keep', Value: 'no' }], ObjectSizeGreaterThan: 10 },
        },
        NoncurrentVersionExpiration: { NoncurrentDays: 7, NewerNoncurrentVersions: 2 },
      },
      {
        ID: 'uploads',
        Status: 'Enabled',
        Filter: { Prefix: '' },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
      },
      {
        ID: 'dated',
        Status: 'Enabled',
        Filter: { Tag: { Key: 'tmp', Value: 'yes' } },
        Expiration: { Date: new Date('2030-01-01T00:00:00Z') },
      },
      {
        ID: 'markers',
        Status: 'Enabled',
        Filter: { ObjectSizeLessThan: 100 },
        Expiration: { ExpiredObjectDeleteMarker: true },
      },
    ]
    await setRules(Bucket, Rules)
    const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }))
    expect(got.Rules).toEqual(Rules)
    await s3.send(new DeleteBucketLifecycleCommand({ Bucket }))
    const after = await sdkError(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket })))
    expect(after.name).toBe('NoSuchLifecycleConfiguration')
  })

  it.each([
    [
      'a Transition (one storage class)',
      rule('<Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>'),
      'InvalidStorageClass',
    ],
    [
      'a NoncurrentVersionTransition',
      rule(
        '<NoncurrentVersionTransition><NoncurrentDays>3</NoncurrentDays><StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition>',
      ),
      'InvalidStorageClass',
    ],
    ['Days 0', rule('<Expiration><Days>0</Days></Expiration>'), 'InvalidArgument'],
    ['a Date not at midnight', rule('<Expiration><Date>2030-01-01T12:00:00Z</Date></Expiration>'), 'InvalidArgument'],
    [
      'Days and Date together',
      rule('<Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>'),
      'MalformedXML',
    ],
    ['no action', rule(''), 'InvalidRequest'],
    [
      'no Status',
      '<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>',
      'MalformedXML',
    ],
    [
      'Filter and a legacy Prefix together',
      '<LifecycleConfiguration><Rule><Prefix>a</Prefix><Filter><Prefix>a</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>',
      'MalformedXML',
    ],
    ['an ID over 255 characters', rule('<Expiration><Days>1</Days></Expiration>', 'x'.repeat(256)), 'InvalidArgument'],
    [
      'NewerNoncurrentVersions 101',
      rule(
        '<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>101</NewerNoncurrentVersions></NoncurrentVersionExpiration>',
      ),
      'InvalidArgument',
    ],
    [
      'ObjectSizeGreaterThan ≥ ObjectSizeLessThan',
      '<LifecycleConfiguration><Rule><ID>s</ID><Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>10</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>',
      'InvalidArgument',
    ],
  ])('refuses %s', async (_what, body, code) => {
    const r = await putLifecycleXml(Bucket, body)
    expect([r.status, errorFields(r.body).code]).toEqual([400, code])
  })

  it('refuses duplicate rule IDs and more than 1,000 rules', async () => {
    const one = '<Rule><ID>same</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>'
    const dup = await putLifecycleXml(Bucket, `<LifecycleConfiguration>${one}${one}</LifecycleConfiguration>`)
    expect([dup.status, errorFields(dup.body).code]).toEqual([400, 'InvalidArgument'])
    const many = Array.from(
      { length: 1001 },
      (_, i) => `<Rule><ID>r${i}</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`,
    ).join('')
    const tooMany = await putLifecycleXml(Bucket, `<LifecycleConfiguration>${many}</LifecycleConfiguration>`)
    expect([tooMany.status, errorFields(tooMany.body).code]).toEqual([400, 'MalformedXML'])
  })

  it('x-amz-expiration on PUT, copy, completion, GET and HEAD names the expiry date and the rule', async () => {
    await setRules(Bucket, [
      { ID: 'far "away"', Status: 'Enabled', Filter: { Prefix: 'later/' }, Expiration: { Days: 100_000 } },
    ])
    const expectExpiryOf = async (Key: string, header: string | undefined) => {
      const m = /^expiry-date="([^"]+)", rule-id="far \\"away\\""$/.exec(header ?? '')
      expect(m, `x-amz-expiration of ${Key}: ${header}`).not.toBeNull()
      const { LastModified } = await s3.send(new HeadObjectCommand({ Bucket, Key }))
      const days = (Date.parse(m?.[1] ?? '') - (LastModified?.getTime() ?? 0)) / 1000
      expect(days).toBeGreaterThanOrEqual(100_000)
      expect(days).toBeLessThanOrEqual(100_001)
    }
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'later/a', Body: 'a' }))
    expect(put.Expiration).toMatch(
      /^expiry-date="[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT", rule-id="far \\"away\\""$/,
    )
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'later/a' }))
    expect(head.Expiration).toBe(put.Expiration)
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'later/a' }))
    expect(got.Expiration).toBe(put.Expiration)
    const other = await s3.send(new PutObjectCommand({ Bucket, Key: 'elsewhere', Body: 'b' }))
    expect(other.Expiration).toBeUndefined()
    // The other writes that make a current version say it too, as S3's do.
    const copied = await s3.send(
      new CopyObjectCommand({ Bucket, Key: 'later/copy', CopySource: `${Bucket}/elsewhere` }),
    )
    // Each write is its own version with its own creation time: its expiry is that time plus
    // 100,000 (one-second) days, rounded up to the next day boundary as S3 rounds to midnight.
    await expectExpiryOf('later/copy', copied.Expiration)
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'later/mpu' }))
    const part = await s3.send(new UploadPartCommand({ Bucket, Key: 'later/mpu', UploadId, PartNumber: 1, Body: 'p' }))
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key: 'later/mpu',
        UploadId,
        MultipartUpload: { Parts: [{ ETag: part.ETag, PartNumber: 1 }] },
      }),
    )
    await expectExpiryOf('later/mpu', done.Expiration)
    await expectExpiryOf('later/a', put.Expiration)
    await s3.send(new DeleteBucketLifecycleCommand({ Bucket }))
  })
})

describe('the worker acts within seconds', () => {
  it('Expiration by Days removes matching objects of an unversioned bucket and keeps the rest', async () => {
    const Bucket = bucketName('lcdays')
    await s3.send(new CreateBucketCommand({ Bucket }))
    await setRules(Bucket, [{ ID: 'logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 2 } }])
    await s3.send(new PutObjectCommand({ Bucket, Key: 'logs/1', Body: 'x'.repeat(1000) }))
    await s3.send(new PutObjectCommand({ Bucket, Key: 'keep/1', Body: 'y' }))
    expect(await gone(Bucket, 'logs/1')).toBe(false)
    await waitFor('logs/1 expired', () => gone(Bucket, 'logs/1'))
    expect(await gone(Bucket, 'keep/1')).toBe(false)
    // The counters are the round's second commit: they may trail the removal a moment.
    await waitFor('the expiry counted', async () => (await status()).totals.expired >= 1)
    expect((await status()).rules).toBeGreaterThanOrEqual(1)
  })

  it('Expiration by Date (a past midnight) removes matching objects, by tag', async () => {
    const Bucket = bucketName('lcdate')
    await s3.send(new CreateBucketCommand({ Bucket }))
    const midnight = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000)
    await s3.send(new PutObjectCommand({ Bucket, Key: 'tmp-a', Body: 'a', Tagging: 'tmp=yes' }))
    await s3.send(new PutObjectCommand({ Bucket, Key: 'tmp-b', Body: 'b', Tagging: 'tmp=no' }))
    await setRules(Bucket, [
      { ID: 'dated', Status: 'Enabled', Filter: { Tag: { Key: 'tmp', Value: 'yes' } }, Expiration: { Date: midnight } },
    ])
    await waitFor('tmp-a expired', () => gone(Bucket, 'tmp-a'))
    expect(await gone(Bucket, 'tmp-b')).toBe(false)
  })

  it('versioned: expiry writes a delete marker, noncurrent versions go, then the lone marker goes', async () => {
    const Bucket = bucketName('lcver')
    await s3.send(new CreateBucketCommand({ Bucket }))
    await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }))
    await setRules(Bucket, [
      { ID: 'expire', Status: 'Enabled', Filter: { Prefix: 'v/' }, Expiration: { Days: 2 } },
      // Six "days" (seconds) between the marker and the removal: the state between them must be
      // seen by a poll every 200 ms even on a loaded machine (three were missed once in CI).
      { ID: 'old', Status: 'Enabled', Filter: { Prefix: 'v/' }, NoncurrentVersionExpiration: { NoncurrentDays: 6 } },
      { ID: 'markers', Status: 'Enabled', Filter: { Prefix: 'v/' }, Expiration: { ExpiredObjectDeleteMarker: true } },
    ])
    const v1 = await s3.send(new PutObjectCommand({ Bucket, Key: 'v/doc', Body: 'first' }))
    const versions = async () => await s3.send(new ListObjectVersionsCommand({ Bucket, Prefix: 'v/' }))
    // First the current version is hidden by a delete marker, its data kept as a noncurrent version.
    // The listing that first shows the marker is the one judged (a second call could come late).
    let mid: Awaited<ReturnType<typeof versions>> | undefined
    await waitFor('a delete marker', async () => {
      mid = await versions()
      return (mid.DeleteMarkers ?? []).length === 1
    })
    if (!mid) throw new Error('no listing')
    expect(mid.Versions?.map((v) => v.VersionId)).toEqual([v1.VersionId])
    expect(mid.DeleteMarkers?.[0]?.IsLatest).toBe(true)
    // Then the noncurrent version is removed for good, and the marker left alone goes too.
    await waitFor('no versions and no markers', async () => {
      const v = await versions()
      return (v.Versions ?? []).length === 0 && (v.DeleteMarkers ?? []).length === 0
    })
    // A round commits its removals, then its counters (a second commit): the status may trail
    // the listing by that much (CI once read it in between).
    await waitFor('the removals counted', async () => {
      const t = (await status()).totals
      return t.noncurrentRemoved >= 1 && t.markersRemoved >= 1
    })
    expect((await status()).totals.bytesFreed).toBeGreaterThanOrEqual('first'.length)
  })

  it('a version under legal hold is kept whatever the rules say', async () => {
    const Bucket = bucketName('lclock')
    await s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }))
    await setRules(Bucket, [
      { ID: 'expire', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 1 } },
      { ID: 'old', Status: 'Enabled', Filter: { Prefix: '' }, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
    ])
    const held = await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'held',
        Body: 'precious',
        ObjectLockLegalHoldStatus: 'ON',
        ContentMD5: md5b64('precious'),
      }),
    )
    await waitFor('the held version kept by a pass', async () => (await status()).totals.keptLocked >= 1)
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'held', VersionId: held.VersionId }))
    expect(await got.Body!.transformToString()).toBe('precious')
  })

  it('AbortIncompleteMultipartUpload aborts uploads older than its days', async () => {
    const Bucket = bucketName('lcmpu')
    await s3.send(new CreateBucketCommand({ Bucket }))
    await setRules(Bucket, [
      {
        ID: 'abort',
        Status: 'Enabled',
        Filter: { Prefix: 'tmp/' },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
    ])
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'tmp/big' }))
    const kept = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'other/big' }))
    await s3.send(new UploadPartCommand({ Bucket, Key: 'tmp/big', UploadId, PartNumber: 1, Body: 'part' }))
    await waitFor('the upload aborted', async () => {
      const list = await s3.send(new ListMultipartUploadsCommand({ Bucket }))
      return (list.Uploads ?? []).every((u) => u.UploadId !== UploadId)
    })
    const list = await s3.send(new ListMultipartUploadsCommand({ Bucket }))
    expect(list.Uploads?.map((u) => u.UploadId)).toEqual([kept.UploadId])
    const late = await sdkError(
      s3.send(new UploadPartCommand({ Bucket, Key: 'tmp/big', UploadId, PartNumber: 2, Body: 'p' })),
    )
    expect(late.name).toBe('NoSuchUpload')
  })
})

describe('restart', () => {
  it('a restart in the middle of a pass resumes it from the saved cursor', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'coffer-lifecycle-'))
    // Small rounds, long pauses: a pass over 30 objects takes several seconds.
    const env = { ...ENV, COFFER_LIFECYCLE_BATCH: '3', COFFER_LIFECYCLE_PAUSE_MS: '400' }
    let srv = await startServer({ dataDir, env })
    let c = s3Client(srv)
    try {
      const Bucket = bucketName('lcrestart')
      await c.send(new CreateBucketCommand({ Bucket }))
      for (let i = 0; i < 30; i++)
        await c.send(new PutObjectCommand({ Bucket, Key: `r/${String(i).padStart(2, '0')}`, Body: `${i}` }))
      await setRules(Bucket, [{ ID: 'all', Status: 'Enabled', Filter: { Prefix: 'r/' }, Expiration: { Days: 1 } }], c)
      let before: Pass | undefined
      await waitFor('a pass part-way', async () => {
        const s = await status(srv)
        if (s.currentPass && s.currentPass.examined >= 3 && s.currentPass.examined < 30) before = s.currentPass
        return before !== undefined
      })
      c.destroy()
      await srv.kill('SIGKILL')
      srv = await startServer({ dataDir, env })
      c = s3Client(srv)
      // The pass that was running finishes after the restart: same start, and it expired them all.
      await waitFor(
        'the interrupted pass finished',
        async () => (await status(srv)).lastPass?.startedAt === before!.startedAt,
        30_000,
      )
      await waitFor('every object expired', async () => {
        const left = await Promise.all(
          Array.from({ length: 30 }, (_, i) => gone(Bucket, `r/${String(i).padStart(2, '0')}`, c)),
        )
        return left.every(Boolean)
      })
    } finally {
      c.destroy()
      await srv.stop()
      await rm(dataDir, { recursive: true, force: true })
    }
  }, 90_000)
})
