/**
 * rclone (found on PATH; AWS SDK for Go under the hood) against a real server: the README's
 * configuration, copy up (including a multipart-sized file), listing, check, copy back, delete.
 */
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeWithClient } from '../helpers/clients.ts'
import { rcloneEnv } from '../helpers/rclone.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

const run = promisify(execFile)
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

describeWithClient('rclone', 'rclone', (bin) => {
  let server: TestServer
  let dir: string
  beforeAll(async () => {
    server = await startServer()
    dir = await mkdtemp(join(tmpdir(), 'coffer-rclone-'))
    await writeFile(join(dir, 'ca.pem'), server.caPem)
  })
  afterAll(async () => {
    await server?.stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  /** rclone with the remote configured only through environment variables, as the README shows. */
  function rclone(args: string[]) {
    return run(
      bin,
      [
        '--ca-cert',
        join(dir, 'ca.pem'),
        '--config',
        '/dev/null',
        '--low-level-retries',
        '1',
        '--retries',
        '1',
        ...args,
      ],
      {
        timeout: 120_000,
        env: rcloneEnv(server, dir),
      },
    )
  }

  it('mkdir, copy a tree up and back, lsf, check, delete, rmdir', async () => {
    const src = join(dir, 'src')
    await mkdir(join(src, 'nested/deeper'), { recursive: true })
    const files: Record<string, Uint8Array> = {
      'small.txt': new TextEncoder().encode('hello from rclone\n'),
      'nested/mid.bin': randomBytes(300_000),
      // Above rclone's 200 MiB default cutoff would be slow; force multipart with a small cutoff below.
      'nested/deeper/large.bin': randomBytes(12 * 1024 * 1024),
      'with space & plus+.txt': new TextEncoder().encode('odd name'),
    }
    for (const [name, data] of Object.entries(files)) await writeFile(join(src, name), data)

    await rclone(['mkdir', 'coffer:rclone-bucket'])
    await rclone(['copy', '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', src, 'coffer:rclone-bucket/tree'])
    const listed = (await rclone(['lsf', '-R', '--files-only', 'coffer:rclone-bucket/tree'])).stdout
      .trim()
      .split('\n')
      .sort()
    expect(listed).toEqual(Object.keys(files).sort())
    await rclone(['check', src, 'coffer:rclone-bucket/tree'])

    const back = join(dir, 'back')
    await rclone(['copy', 'coffer:rclone-bucket/tree', back])
    for (const [name, data] of Object.entries(files)) expect(sha(await readFile(join(back, name)))).toBe(sha(data))

    await rclone(['delete', 'coffer:rclone-bucket'])
    await rclone(['rmdir', 'coffer:rclone-bucket'])
    const buckets = (await rclone(['lsd', 'coffer:'])).stdout
    expect(buckets).not.toContain('rclone-bucket')
  })
})
