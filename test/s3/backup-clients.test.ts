/**
 * Real backup clients (found on PATH) against versioning and Object Lock: restic backing up to a
 * versioned, lock-enabled bucket with a default GOVERNANCE retention and restoring byte for byte
 * (its data then cannot be removed for good without bypass); rclone listing and fetching old
 * versions with --s3-versions.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectLockConfigurationCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeWithClient } from '../helpers/clients.ts'
import { bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { rcloneEnv } from '../helpers/rclone.ts'
import { startServer, type TestServer } from '../helpers/server.ts'
import { sha256 } from '../helpers/shards.ts'

const run = promisify(execFile)

describeWithClient('restic', 'restic backs up to a lock-enabled versioned bucket', (bin) => {
  let server: TestServer
  let s3: S3Client
  let dir: string
  const Bucket = bucketName('restic')

  beforeAll(async () => {
    server = await startServer()
    s3 = s3Client(server)
    dir = await mkdtemp(join(tmpdir(), 'coffer-restic-'))
    await writeFile(join(dir, 'ca.pem'), server.caPem)
    await s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }))
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket,
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } },
        },
      }),
    )
  })
  afterAll(async () => {
    s3?.destroy()
    await server?.stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  const restic = (args: string[]) =>
    run(bin, ['--cacert', join(dir, 'ca.pem'), '--no-cache', ...args], {
      timeout: 180_000,
      maxBuffer: 16 * 1024 * 1024,
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        RESTIC_REPOSITORY: `s3:${server.endpoint}/${Bucket}/repo`,
        RESTIC_PASSWORD: 'correct horse battery staple',
        AWS_ACCESS_KEY_ID: server.accessKeyId,
        AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
        AWS_DEFAULT_REGION: server.region,
      },
    })

  it('init, backup, restore byte for byte; the backup cannot be removed for good', async () => {
    const src = join(dir, 'src')
    await mkdir(join(src, 'docs/deep'), { recursive: true })
    const files: Record<string, Buffer> = {
      'a.txt': Buffer.from('the first file\n'),
      'docs/b.bin': randomBytes(700_000),
      'docs/deep/c.bin': randomBytes(6 * 1024 * 1024 + 11),
      'docs/empty': Buffer.alloc(0),
    }
    for (const [name, data] of Object.entries(files)) await writeFile(join(src, name), data)
    await restic(['init'])
    await restic(['backup', src])
    const out = join(dir, 'out')
    await restic(['restore', 'latest', '--target', out])
    for (const [name, data] of Object.entries(files)) {
      expect(sha256(await readFile(join(out, src, name))), name).toBe(sha256(data))
    }
    await restic(['check', '--read-data'])

    // Ransomware with the backup's credentials: deleting versions for good is refused.
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket, Prefix: 'repo/data/' }))
    const version = listed.Versions?.[0]
    expect(version?.VersionId).toBeDefined()
    const refused = await sdkError(
      s3.send(new DeleteObjectCommand({ Bucket, Key: version!.Key!, VersionId: version!.VersionId! })),
    )
    expect(refused.status).toBe(403)
  })
})

describeWithClient('rclone', 'rclone lists and fetches old versions', (bin) => {
  let server: TestServer
  let s3: S3Client
  let dir: string
  const Bucket = bucketName('rclone-versions')

  beforeAll(async () => {
    server = await startServer()
    s3 = s3Client(server)
    dir = await mkdtemp(join(tmpdir(), 'coffer-rclone-v-'))
    await writeFile(join(dir, 'ca.pem'), server.caPem)
    await s3.send(new CreateBucketCommand({ Bucket }))
    await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }))
  })
  afterAll(async () => {
    s3?.destroy()
    await server?.stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  const rclone = (args: string[]) =>
    run(bin, ['--ca-cert', join(dir, 'ca.pem'), '--config', '/dev/null', '--low-level-retries', '1', ...args], {
      timeout: 120_000,
      env: rcloneEnv(server, dir),
    })

  it('--s3-versions lists every version and copies an old one back', async () => {
    const file = join(dir, 'doc.txt')
    await writeFile(file, 'version one\n')
    await rclone(['copyto', file, `coffer:${Bucket}/doc.txt`])
    await writeFile(file, 'version two, longer\n')
    await rclone(['copyto', file, `coffer:${Bucket}/doc.txt`])
    const listed = (await rclone(['lsf', '--s3-versions', `coffer:${Bucket}`])).stdout.trim().split('\n').sort()
    // The current version under its name, the old one with its time stamp (doc-v2006-01-02-….txt).
    expect(listed).toHaveLength(2)
    expect(listed).toContain('doc.txt')
    const old = listed.find((n) => n !== 'doc.txt')!
    expect(old).toMatch(/^doc-v\d{4}-\d{2}-\d{2}-\d{6}-\d{3}\.txt$/)
    await rclone(['copyto', '--s3-versions', `coffer:${Bucket}/${old}`, join(dir, 'restored.txt')])
    expect(await readFile(join(dir, 'restored.txt'), 'utf8')).toBe('version one\n')
  })
})
