/**
 * Black-box: the AWS CLI — each major version on PATH (v1 and v2) — against a real server over TLS
 * (mb, cp with multipart, sync, ls, s3api head-object, rm --recursive, rb), trusting its CA.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { startServer, type TestServer } from '../helpers/server.ts'
import { awsCli, type AwsCli } from '../helpers/aws-cli.ts'
import { describeWithAwsCli } from '../helpers/clients.ts'
import { bucketName } from '../helpers/s3-client.ts'
import { multipartEtag } from '../helpers/raw.ts'

const MiB = 1024 * 1024
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

async function walk(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...(await walk(p)))
    else out.push(p)
  }
  return out
}

describeWithAwsCli('aws s3 / s3api', (aws) => {
  let server: TestServer
  let cli: AwsCli
  const Bucket = bucketName(`cli-v${aws.major}`)

  beforeAll(async () => {
    server = await startServer()
    cli = await awsCli(aws.path, server)
  })
  afterAll(async () => {
    await cli?.cleanup()
    await server?.stop()
  })

  it('mb, then ls lists the bucket', async () => {
    const mb = await cli.ok(['s3', 'mb', `s3://${Bucket}`])
    expect(mb.stdout).toContain(`make_bucket: ${Bucket}`)
    const ls = await cli.ok(['s3', 'ls'])
    expect(ls.stdout.split('\n').some((l) => l.trim().endsWith(Bucket))).toBe(true)
  })

  it('cp of a 20 MiB file up (multipart at the 8 MiB default) and down: identical SHA-256', async () => {
    const data = randomBytes(20 * MiB)
    const up = join(cli.dir, 'big.bin')
    const down = join(cli.dir, 'big.down')
    await writeFile(up, data)
    await cli.ok(['s3', 'cp', up, `s3://${Bucket}/big/file.bin`], { timeoutMs: 180_000 })
    const head = JSON.parse(
      (await cli.ok(['s3api', 'head-object', '--bucket', Bucket, '--key', 'big/file.bin'])).stdout,
    )
    expect(head.ContentLength).toBe(data.length)
    // The CLI's default multipart chunk size is 8 MiB: parts of 8, 8 and 4 MiB.
    const parts = [data.subarray(0, 8 * MiB), data.subarray(8 * MiB, 16 * MiB), data.subarray(16 * MiB)]
    expect(head.ETag).toBe(multipartEtag(parts))
    await cli.ok(['s3', 'cp', `s3://${Bucket}/big/file.bin`, down], { timeoutMs: 180_000 })
    expect(sha(await readFile(down))).toBe(sha(data))
  })

  it('cp of a small file: ETag is its MD5', async () => {
    const f = join(cli.dir, 'small.txt')
    await writeFile(f, 'small file body\n')
    await cli.ok(['s3', 'cp', f, `s3://${Bucket}/small.txt`])
    const head = JSON.parse((await cli.ok(['s3api', 'head-object', '--bucket', Bucket, '--key', 'small.txt'])).stdout)
    expect(head.ETag).toBe(`"${createHash('md5').update('small file body\n').digest('hex')}"`)
    expect(head.ContentLength).toBe(16)
    expect(head.ContentType).toBe('text/plain')
  })

  it('sync a directory tree up and back: same files, same bytes', async () => {
    const src = join(cli.dir, 'tree')
    const files: Record<string, Buffer> = {
      'a.txt': Buffer.from('alpha'),
      'sub/b.bin': randomBytes(100_000),
      'sub/deeper/c with space.txt': Buffer.from('charlie'),
      'sub/ünï.txt': Buffer.from('unicode name'),
      'empty.txt': Buffer.alloc(0),
    }
    for (const [rel, data] of Object.entries(files)) {
      await mkdir(join(src, rel, '..'), { recursive: true })
      await writeFile(join(src, rel), data)
    }
    const upOut = await cli.ok(['s3', 'sync', src, `s3://${Bucket}/tree`])
    expect(upOut.stdout.match(/upload:/g)?.length).toBe(Object.keys(files).length)
    // A second sync has nothing to do.
    const again = await cli.ok(['s3', 'sync', src, `s3://${Bucket}/tree`])
    expect(again.stdout.trim()).toBe('')
    const back = join(cli.dir, 'tree-back')
    await cli.ok(['s3', 'sync', `s3://${Bucket}/tree`, back])
    const got = (await walk(back)).map((p) => relative(back, p)).sort()
    expect(got).toEqual(Object.keys(files).sort())
    for (const [rel, data] of Object.entries(files)) expect(sha(await readFile(join(back, rel)))).toBe(sha(data))

    const ls = await cli.ok(['s3', 'ls', `s3://${Bucket}/tree/`])
    expect(ls.stdout).toMatch(/PRE sub\/$/m)
    expect(ls.stdout).toMatch(/\s5 a\.txt$/m)
    const rec = await cli.ok(['s3', 'ls', '--recursive', `s3://${Bucket}/tree/`])
    expect(rec.stdout.trim().split('\n')).toHaveLength(Object.keys(files).length)
    expect(rec.stdout).toContain('tree/sub/deeper/c with space.txt')
  })

  it('s3api list-objects-v2 and a missing key give S3 answers', async () => {
    const list = JSON.parse(
      (await cli.ok(['s3api', 'list-objects-v2', '--bucket', Bucket, '--prefix', 'tree/sub/'])).stdout,
    )
    expect(list.Contents.map((c: { Key: string }) => c.Key)).toContain('tree/sub/b.bin')
    const missing = await cli.run(['s3api', 'head-object', '--bucket', Bucket, '--key', 'nope'])
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toMatch(/404|Not Found/)
  })

  it('rm --recursive empties the bucket, then rb removes it', async () => {
    const rm = await cli.ok(['s3', 'rm', '--recursive', `s3://${Bucket}/`])
    expect(rm.stdout).toContain('delete:')
    const left = JSON.parse((await cli.ok(['s3api', 'list-objects-v2', '--bucket', Bucket])).stdout || '{}')
    expect(left.Contents ?? []).toEqual([])
    const rb = await cli.ok(['s3', 'rb', `s3://${Bucket}`])
    expect(rb.stdout).toContain(`remove_bucket: ${Bucket}`)
    const ls = await cli.ok(['s3', 'ls'])
    expect(ls.stdout).not.toContain(Bucket)
  })

  it('s3api put-bucket-versioning, list-object-versions and put/get-object-retention', async () => {
    const V = `${Bucket}-v`
    await cli.ok(['s3api', 'create-bucket', '--bucket', V, '--object-lock-enabled-for-bucket'])
    await cli.ok(['s3api', 'put-bucket-versioning', '--bucket', V, '--versioning-configuration', 'Status=Enabled'])
    const status = JSON.parse((await cli.ok(['s3api', 'get-bucket-versioning', '--bucket', V])).stdout)
    expect(status.Status).toBe('Enabled')
    const f = join(cli.dir, 'versioned.txt')
    const ids: string[] = []
    for (const body of ['first', 'second']) {
      await writeFile(f, body)
      const out = await cli.ok(['s3api', 'put-object', '--bucket', V, '--key', 'doc', '--body', f])
      ids.unshift(JSON.parse(out.stdout).VersionId)
    }
    const listed = JSON.parse((await cli.ok(['s3api', 'list-object-versions', '--bucket', V])).stdout)
    expect(listed.Versions.map((v: { VersionId: string }) => v.VersionId)).toEqual(ids)
    const until = new Date(Date.now() + 86_400_000).toISOString()
    await cli.ok([
      's3api',
      'put-object-retention',
      '--bucket',
      V,
      '--key',
      'doc',
      '--version-id',
      ids[1]!,
      '--retention',
      `Mode=COMPLIANCE,RetainUntilDate=${until}`,
    ])
    const retention = JSON.parse(
      (await cli.ok(['s3api', 'get-object-retention', '--bucket', V, '--key', 'doc', '--version-id', ids[1]!])).stdout,
    )
    expect(retention.Retention.Mode).toBe('COMPLIANCE')
    const refused = await cli.run(['s3api', 'delete-object', '--bucket', V, '--key', 'doc', '--version-id', ids[1]!])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/AccessDenied/)
  })
})
