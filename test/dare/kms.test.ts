/**
 * SSE-KMS with service-managed keys end to end: keys made with `coffer admin kms`, used through
 * the real SDK over TLS (PUT, multipart, copy, bucket default), disabled and enabled, deleted on a
 * schedule (crypto-erase: objects unreadable, key material gone from the metadata file), and
 * master- and namespace-key rotations with KMS objects readable after.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketEncryptionCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { createClient } from '@libsql/client/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminJson, adminRun, tenant } from '../helpers/admin.ts'
import { bodyBytes, bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

const NS = 'kmsns'
const MiB = 1024 * 1024
/** A day of a scheduled deletion's waiting period in this server (COFFER_KMS_DAY_SECONDS). */
const DAY_SECONDS = 1
let server: TestServer
let client: S3Client
const bucket = bucketName('kms')

type KeyInfo = { keyId: string; arn: string; alias?: string; state: string; managed: boolean; namespace: string }
const kms = (args: string[]) => adminJson<KeyInfo>(server, ['kms', ...args])

/** A digest to compare big bodies by: a deep equality of megabytes is slow enough to idle the client's sockets out. */
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

async function get(Key: string, b = bucket, c = client): Promise<Buffer> {
  return bodyBytes((await c.send(new GetObjectCommand({ Bucket: b, Key }))).Body)
}

beforeAll(async () => {
  server = await startServer({ env: { COFFER_KMS_DAY_SECONDS: String(DAY_SECONDS) } })
  client = s3Client(server, await tenant(server, NS, 'on'))
  await client.send(new CreateBucketCommand({ Bucket: bucket }))
}, 60_000)
afterAll(async () => {
  await server?.stop()
})

describe('SSE-KMS keys and writes', () => {
  it('a key made with an alias encrypts a PUT named by id, alias, ARN or alias ARN; GET/HEAD show aws:kms and the ARN', async () => {
    const key = await kms(['create-key', '--namespace', NS, '--alias', 'app'])
    expect(key.arn).toBe(`arn:aws:kms:${server.region}:${NS}:key/${key.keyId}`)
    expect(key.alias).toBe('alias/app')
    expect(key.state).toBe('Enabled')
    const aliasArn = `arn:aws:kms:${server.region}:${NS}:alias/app`
    for (const [i, name] of [key.keyId, 'alias/app', key.arn, aliasArn].entries()) {
      const body = randomBytes(1000 + i)
      const put = await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `named-${i}`,
          Body: body,
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: name,
        }),
      )
      expect(put.ServerSideEncryption).toBe('aws:kms')
      expect(put.SSEKMSKeyId).toBe(key.arn)
      expect(await get(`named-${i}`)).toEqual(body)
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `named-${i}` }))
      expect(head.ServerSideEncryption).toBe('aws:kms')
      expect(head.SSEKMSKeyId).toBe(key.arn)
    }
  })

  it('the encryption context is validated and echoed; a context and bucket key on PUT show in the answer', async () => {
    const context = Buffer.from(JSON.stringify({ b: '2', a: '1' })).toString('base64')
    const put = await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'ctx',
        Body: 'with context',
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: 'alias/app',
        SSEKMSEncryptionContext: context,
        BucketKeyEnabled: true,
      }),
    )
    expect(JSON.parse(Buffer.from(put.SSEKMSEncryptionContext!, 'base64').toString())).toEqual({ a: '1', b: '2' })
    expect(put.BucketKeyEnabled).toBe(true)
    expect((await get('ctx')).toString()).toBe('with context')
    for (const bad of [
      'not base64!',
      Buffer.from('[1]').toString('base64'),
      Buffer.from('{"a":1}').toString('base64'),
    ]) {
      const err = await sdkError(
        client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: 'bad-ctx',
            Body: 'x',
            ServerSideEncryption: 'aws:kms',
            SSEKMSEncryptionContext: bad,
          }),
        ),
      )
      expect([err.status, err.name]).toEqual([400, 'InvalidArgument'])
    }
  })

  it('an unknown key is KMS.NotFoundException; a key ARN of another namespace is AccessDenied', async () => {
    const put = (SSEKMSKeyId: string) =>
      sdkError(
        client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: 'nokey',
            Body: 'x',
            ServerSideEncryption: 'aws:kms',
            SSEKMSKeyId,
          }),
        ),
      )
    for (const name of ['alias/none', '1234abcd-12ab-34cd-56ef-1234567890ab', 'no such thing']) {
      const err = await put(name)
      expect([err.status, err.name]).toEqual([400, 'KMS.NotFoundException'])
    }
    await adminJson(server, ['namespace', 'create', 'otherkms'])
    const foreign = await kms(['create-key', '--namespace', 'otherkms'])
    expect((await put(foreign.arn)).status).toBe(403)
    // Its bare id names no key of this namespace.
    expect((await put(foreign.keyId)).name).toBe('KMS.NotFoundException')
  })

  it('without a key id: the namespace default key alias/aws/s3, created once even by concurrent first writes', async () => {
    const creds = await tenant(server, 'kmsdefault', 'off')
    const c = s3Client(server, creds)
    const b = bucketName('kms-default')
    await c.send(new CreateBucketCommand({ Bucket: b }))
    const puts = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        c.send(new PutObjectCommand({ Bucket: b, Key: `d${i}`, Body: `body ${i}`, ServerSideEncryption: 'aws:kms' })),
      ),
    )
    const arns = new Set(puts.map((p) => p.SSEKMSKeyId))
    expect(arns.size).toBe(1)
    const { keys } = await adminJson<{ keys: KeyInfo[] }>(server, ['kms', 'list', '--namespace', 'kmsdefault'])
    expect(keys.map((k) => [k.alias, k.managed, k.arn])).toEqual([['alias/aws/s3', true, [...arns][0]]])
    for (let i = 0; i < 8; i++) expect((await get(`d${i}`, b, c)).toString()).toBe(`body ${i}`)
    // AWS-managed keys cannot be disabled or deleted.
    await expect(adminRun(server, ['kms', 'disable', keys[0]!.keyId])).rejects.toThrow(/managed default key/)
  })

  it('bucket default aws:kms with BucketKeyEnabled: reported, applied to plain PUTs; deleting it falls back to AES256', async () => {
    const b = bucketName('kms-bd')
    await client.send(new CreateBucketCommand({ Bucket: b }))
    const key = await kms(['describe', 'alias/app', '--namespace', NS])
    await client.send(
      new PutBucketEncryptionCommand({
        Bucket: b,
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'alias/app' },
              BucketKeyEnabled: true,
            },
          ],
        },
      }),
    )
    const rule = (await client.send(new GetBucketEncryptionCommand({ Bucket: b }))).ServerSideEncryptionConfiguration
      ?.Rules?.[0]
    expect(rule?.ApplyServerSideEncryptionByDefault).toEqual({ SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'alias/app' })
    expect(rule?.BucketKeyEnabled).toBe(true)
    const put = await client.send(new PutObjectCommand({ Bucket: b, Key: 'plain', Body: 'default' }))
    expect([put.ServerSideEncryption, put.SSEKMSKeyId, put.BucketKeyEnabled]).toEqual(['aws:kms', key.arn, true])
    // An explicit AES256 still wins over the default.
    const aes = await client.send(
      new PutObjectCommand({ Bucket: b, Key: 'aes', Body: 'x', ServerSideEncryption: 'AES256' }),
    )
    expect(aes.ServerSideEncryption).toBe('AES256')
    await client.send(new DeleteBucketEncryptionCommand({ Bucket: b }))
    const after = await client.send(new GetBucketEncryptionCommand({ Bucket: b }))
    expect(after.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm).toBe(
      'AES256',
    )
    expect((await client.send(new PutObjectCommand({ Bucket: b, Key: 'p2', Body: 'x' }))).ServerSideEncryption).toBe(
      'AES256',
    )
    expect((await get('plain', b)).toString()).toBe('default')
  })

  it('multipart: parts inherit the upload key; copy decrypts a KMS source and re-encrypts as the target asks', async () => {
    const key = await kms(['create-key', '--namespace', NS, '--alias', 'uploads'])
    const parts = [randomBytes(5 * MiB), randomBytes(MiB + 7)]
    const up = await client.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: 'mp',
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: 'alias/uploads',
      }),
    )
    expect([up.ServerSideEncryption, up.SSEKMSKeyId]).toEqual(['aws:kms', key.arn])
    const done = []
    for (const [i, Body] of parts.entries()) {
      const r = await client.send(
        new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId: up.UploadId, PartNumber: i + 1, Body }),
      )
      expect([r.ServerSideEncryption, r.SSEKMSKeyId]).toEqual(['aws:kms', key.arn])
      done.push({ PartNumber: i + 1, ETag: r.ETag })
    }
    const fin = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'mp',
        UploadId: up.UploadId,
        MultipartUpload: { Parts: done },
      }),
    )
    expect([fin.ServerSideEncryption, fin.SSEKMSKeyId]).toEqual(['aws:kms', key.arn])
    expect(sha(await get('mp'))).toBe(sha(Buffer.concat(parts)))

    const toAes = await client.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: 'mp-aes',
        CopySource: `${bucket}/mp`,
        ServerSideEncryption: 'AES256',
      }),
    )
    expect([toAes.ServerSideEncryption, toAes.SSEKMSKeyId]).toEqual(['AES256', undefined])
    const other = await kms(['create-key', '--namespace', NS, '--alias', 'copies'])
    const toKms = await client.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: 'mp-kms',
        CopySource: `${bucket}/mp`,
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: other.arn,
      }),
    )
    expect([toKms.ServerSideEncryption, toKms.SSEKMSKeyId]).toEqual(['aws:kms', other.arn])
    expect(sha(await get('mp-aes'))).toBe(sha(Buffer.concat(parts)))
    expect(sha(await get('mp-kms'))).toBe(sha(Buffer.concat(parts)))
  })
})

describe('a namespace without D@RE', () => {
  it('AES256 asked (or set as the bucket default) is honoured; DeleteBucketEncryption clears the default', async () => {
    const c = s3Client(server, await tenant(server, 'kmsclear', 'off'))
    const b = bucketName('kms-clear')
    await c.send(new CreateBucketCommand({ Bucket: b }))
    expect((await sdkError(c.send(new GetBucketEncryptionCommand({ Bucket: b })))).status).toBe(404)
    const asked = await c.send(
      new PutObjectCommand({ Bucket: b, Key: 'asked', Body: 'aes', ServerSideEncryption: 'AES256' }),
    )
    expect([asked.ServerSideEncryption, asked.SSEKMSKeyId]).toEqual(['AES256', undefined])
    expect((await c.send(new HeadObjectCommand({ Bucket: b, Key: 'asked' }))).ServerSideEncryption).toBe('AES256')
    expect((await c.send(new PutObjectCommand({ Bucket: b, Key: 'plain', Body: 'x' }))).ServerSideEncryption).toBe(
      undefined,
    )
    await c.send(
      new PutBucketEncryptionCommand({
        Bucket: b,
        ServerSideEncryptionConfiguration: {
          Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
      }),
    )
    const got = await c.send(new GetBucketEncryptionCommand({ Bucket: b }))
    expect(got.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm).toBe(
      'AES256',
    )
    expect((await c.send(new PutObjectCommand({ Bucket: b, Key: 'dflt', Body: 'd' }))).ServerSideEncryption).toBe(
      'AES256',
    )
    await c.send(new DeleteBucketEncryptionCommand({ Bucket: b }))
    expect((await sdkError(c.send(new GetBucketEncryptionCommand({ Bucket: b })))).name).toBe(
      'ServerSideEncryptionConfigurationNotFoundError',
    )
    expect((await get('asked', b, c)).toString()).toBe('aes')
    expect((await get('dflt', b, c)).toString()).toBe('d')
  })
})

describe('key states', () => {
  it('disable → reads and writes refused with KMS.DisabledException (copy too), never bytes; enable → they work', async () => {
    const key = await kms(['create-key', '--namespace', NS, '--alias', 'switch'])
    const body = randomBytes(70_000)
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'sw',
        Body: body,
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: key.arn,
      }),
    )
    expect((await kms(['disable', key.keyId])).state).toBe('Disabled')
    const read = await sdkError(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'sw' })))
    expect([read.status, read.name]).toEqual([400, 'KMS.DisabledException'])
    expect(read.message).toContain(key.arn)
    const write = await sdkError(
      client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'sw2',
          Body: 'x',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: 'alias/switch',
        }),
      ),
    )
    expect([write.status, write.name]).toEqual([400, 'KMS.DisabledException'])
    // Copy reads the source: refused the same way.
    const copy = await sdkError(
      client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'sw-copy', CopySource: `${bucket}/sw` })),
    )
    expect(copy.name).toBe('KMS.DisabledException')
    expect((await kms(['enable', 'alias/switch', '--namespace', NS])).state).toBe('Enabled')
    expect(await get('sw')).toEqual(body)
  })

  it('a disable racing an upload: the completion after it is refused, and succeeds once the key is enabled again', async () => {
    const key = await kms(['create-key', '--namespace', NS])
    const up = await client.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: 'race',
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: key.keyId,
      }),
    )
    const body = randomBytes(100_000)
    const part = await client.send(
      new UploadPartCommand({ Bucket: bucket, Key: 'race', UploadId: up.UploadId, PartNumber: 1, Body: body }),
    )
    await kms(['disable', key.keyId])
    const complete = () =>
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: 'race',
          UploadId: up.UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      )
    const refused = await sdkError(complete())
    expect([refused.status, refused.name]).toEqual([400, 'KMS.DisabledException'])
    expect((await sdkError(client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'race' })))).status).toBe(404)
    await kms(['enable', key.keyId])
    await complete()
    expect(await get('race')).toEqual(body)
  })

  it('scheduled deletion: refused while pending, cancellable; then crypto-erased and the material gone from meta.db', async () => {
    const cancelled = await kms(['create-key', '--namespace', NS])
    expect((await kms(['schedule-deletion', cancelled.keyId, '--days', '30'])).state).toBe('PendingDeletion')
    expect((await kms(['cancel-deletion', cancelled.keyId])).state).toBe('Disabled')
    await expect(adminRun(server, ['kms', 'schedule-deletion', cancelled.keyId, '--days', '3'])).rejects.toThrow(
      /7 to 30 days/,
    )

    const key = await kms(['create-key', '--namespace', NS, '--alias', 'doomed'])
    const body = randomBytes(10_000)
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'doomed',
        Body: body,
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: key.arn,
      }),
    )
    const db = createClient({ url: `file:${join(server.dataDir, 'meta.db')}` })
    const blob = String(
      (await db.execute({ sql: 'select wrapped_key from kms_keys where id = ?', args: [key.keyId] })).rows[0]!
        .wrapped_key,
    )
    db.close()
    const pending = await kms(['schedule-deletion', key.keyId, '--days', '7'])
    expect(pending.state).toBe('PendingDeletion')
    const early = await sdkError(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'doomed' })))
    expect([early.status, early.name]).toEqual([400, 'KMS.KMSInvalidStateException'])
    let state = pending.state
    const deadline = Date.now() + 7 * DAY_SECONDS * 1000 + 60_000
    while (state !== 'Deleted' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500))
      state = (await kms(['describe', key.keyId])).state
    }
    expect(state).toBe('Deleted')
    const gone = await sdkError(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'doomed' })))
    expect([gone.status, gone.name]).toEqual([400, 'KMS.NotFoundException'])
    // The alias is free again, and the destroyed material is in no metadata file (rebuilt).
    await kms(['create-key', '--namespace', NS, '--alias', 'doomed'])
    for (const f of ['meta.db', 'meta.db-wal']) {
      const bytes = await readFile(join(server.dataDir, f)).catch(() => Buffer.alloc(0))
      expect(bytes.includes(Buffer.from(blob)), f).toBe(false)
    }
  })
})

describe('rotations', () => {
  it('namespace-key and master-key rotations keep KMS objects readable (the KMS keys are re-wrapped)', async () => {
    const key = await kms(['create-key', '--namespace', NS, '--alias', 'rotating'])
    const body = randomBytes(200_000)
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'rot',
        Body: body,
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: key.arn,
      }),
    )
    await adminJson(server, ['key', 'rotate', '--namespace', NS])
    expect(await get('rot')).toEqual(body)
    await adminJson(server, ['key', 'rotate', '--master'])
    expect(await get('rot')).toEqual(body)
  })
})
