/**
 * The key hierarchy over restarts: master and namespace key rotation (objects written before and
 * after each read back, also after a restart), and a wrong or missing master key refused at start.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AdminNamespace, adminJson, filesUnder, tenant } from '../helpers/admin.ts'
import { bodyBytes, bucketName, s3Client } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

let dataDir: string
let server: TestServer | undefined
let tenantCreds: { accessKeyId: string; secretAccessKey: string }
const rootBucket = bucketName('rot-root')
const nsBucket = bucketName('rot-ns')
/** Every object written so far: bucket/key → body. */
const written = new Map<string, Buffer>()
/** An upload opened before the rotations and completed after them. */
let openUpload: { UploadId: string; first: Buffer; ETag: string }

const clients = () => ({ root: s3Client(server!), t: s3Client(server!, tenantCreds) })

async function start(env: Record<string, string> = {}): Promise<void> {
  server = await startServer({ dataDir, env })
}

async function putSome(tag: string): Promise<void> {
  const { root, t } = clients()
  for (const [client, bucket] of [
    [root, rootBucket],
    [t, nsBucket],
  ] as [S3Client, string][]) {
    const body = randomBytes(70_000 + written.size)
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: tag, Body: body }))
    written.set(`${bucket}/${tag}`, body)
  }
}

async function readAll(): Promise<void> {
  const { root, t } = clients()
  for (const [path, body] of written) {
    const [bucket, key] = path.split('/') as [string, string]
    const client = bucket === rootBucket ? root : t
    const got = await bodyBytes((await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body)
    expect(got.equals(body), path).toBe(true)
    const ranged = await bodyBytes(
      (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=65530-65545' }))).Body,
    )
    expect(ranged.equals(body.subarray(65_530, 65_546)), `${path} range`).toBe(true)
  }
}

const masterKeyFile = () => join(dataDir, 'master.key')
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'coffer-keys-'))
  await start()
  tenantCreds = await tenant(server!, 'rotating', 'on')
  const { root, t } = clients()
  await root.send(new CreateBucketCommand({ Bucket: rootBucket }))
  await t.send(new CreateBucketCommand({ Bucket: nsBucket }))
  const first = randomBytes(5 * 1024 * 1024)
  const { UploadId } = await t.send(new CreateMultipartUploadCommand({ Bucket: nsBucket, Key: 'open-upload' }))
  const part = await t.send(
    new UploadPartCommand({ Bucket: nsBucket, Key: 'open-upload', UploadId, PartNumber: 1, Body: first }),
  )
  openUpload = { UploadId: UploadId!, first, ETag: part.ETag! }
}, 60_000)
afterAll(async () => {
  await server?.stop()
  await rm(dataDir, { recursive: true, force: true })
})

describe('master key file', () => {
  it('is created at first start: 32 bytes, mode 0600', async () => {
    const s = await stat(masterKeyFile())
    expect(s.size).toBe(32)
    expect(s.mode & 0o777).toBe(0o600)
  })
})

describe('rotation', () => {
  it('master key: objects before and after read back; the key file changes, still 0600', async () => {
    await putSome('before-master')
    const before = await readFile(masterKeyFile())
    const out = await adminJson(server!, ['key', 'rotate', '--master'])
    expect(out).toMatchObject({ rotated: 'master', namespaces: 2 })
    const after = await readFile(masterKeyFile())
    expect(after.length).toBe(32)
    expect(after.equals(before)).toBe(false)
    expect((await stat(masterKeyFile())).mode & 0o777).toBe(0o600)
    await putSome('after-master')
    await readAll()
  })

  it('namespace key: re-wraps objects and open uploads; before and after read back', async () => {
    await putSome('before-ns')
    const out = await adminJson<{ keyVersion: number; rewrapped: number }>(server!, [
      'key',
      'rotate',
      '--namespace',
      'rotating',
    ])
    expect(out.keyVersion).toBe(2)
    expect(out.rewrapped).toBeGreaterThanOrEqual(4) // three objects and the open upload
    const dflt = await adminJson<{ keyVersion: number }>(server!, ['key', 'rotate', '--namespace', 'default'])
    expect(dflt.keyVersion).toBe(2)
    const { namespaces } = await adminJson<{ namespaces: AdminNamespace[] }>(server!, ['namespace', 'list'])
    expect(namespaces.find((n) => n.name === 'rotating')?.keyVersion).toBe(2)
    await putSome('after-ns')
    await readAll()
  })

  it('an upload opened before the rotations completes after them', async () => {
    const { t } = clients()
    const second = randomBytes(1000)
    const { UploadId } = openUpload
    const p2 = await t.send(
      new UploadPartCommand({ Bucket: nsBucket, Key: 'open-upload', UploadId, PartNumber: 2, Body: second }),
    )
    await t.send(
      new CompleteMultipartUploadCommand({
        Bucket: nsBucket,
        Key: 'open-upload',
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: openUpload.ETag },
            { PartNumber: 2, ETag: p2.ETag },
          ],
        },
      }),
    )
    written.set(`${nsBucket}/open-upload`, Buffer.concat([openUpload.first, second]))
    await readAll()
  })

  it('after a restart everything still reads', async () => {
    await server!.stop()
    await start()
    await readAll()
  }, 60_000)
})

describe('wrong or missing master key', () => {
  /** SHA-256 of every file under the drives: what "nothing was changed" means for data. */
  async function drivesPicture(): Promise<Map<string, string>> {
    const files = await filesUnder(join(dataDir, 'drives'))
    return new Map(await Promise.all(files.map(async (f) => [f, sha(await readFile(f))] as const)))
  }

  it('a different COFFER_MASTER_KEY_FILE: refused at start with a clear error, nothing changed', async () => {
    await server!.stop()
    server = undefined
    const before = await drivesPicture()
    const keyBefore = await readFile(masterKeyFile())
    const wrong = join(dataDir, '..', `wrong-${randomBytes(4).toString('hex')}.key`)
    await writeFile(wrong, randomBytes(32), { mode: 0o600 })
    try {
      const err = await start({ COFFER_MASTER_KEY_FILE: wrong }).then(
        () => undefined,
        (e: Error) => e,
      )
      expect(err?.message).toMatch(/exited \(1\)/)
      expect(err?.message).toMatch(/master key in .*wrong-.* is not the one this data was encrypted with/)
    } finally {
      await rm(wrong, { force: true })
    }
    expect(await drivesPicture()).toEqual(before)
    expect((await readFile(masterKeyFile())).equals(keyBefore)).toBe(true)
  }, 60_000)

  it('a missing master.key: refused, no new key file is left behind', async () => {
    const aside = `${masterKeyFile()}.aside`
    await rename(masterKeyFile(), aside)
    try {
      const err = await start().then(
        () => undefined,
        (e: Error) => e,
      )
      expect(err?.message).toMatch(/no master key file at .*master\.key/)
      await expect(stat(masterKeyFile())).rejects.toThrow(/ENOENT/)
    } finally {
      await rename(aside, masterKeyFile())
    }
  }, 60_000)

  it('the right key again: all data intact', async () => {
    await start()
    await readAll()
  }, 60_000)
})
