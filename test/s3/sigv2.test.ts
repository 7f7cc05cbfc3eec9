/**
 * Black-box: AWS Signature Version 2 from clients no one here wrote — boto3's legacy signer
 * (`signature_version='s3'`) presigned URLs fetched with curl, s3cmd with `signature_v2 = True`
 * (put, get, signurl) — against a real server over TLS; `--sigv2 off` refuses them as AWS does.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { boto3, describeWithBoto3 } from '../helpers/boto3.ts'
import { describeWithClient, findOnPath } from '../helpers/clients.ts'
import { s3Client } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

const run = promisify(execFile)

interface Fixture {
  server: TestServer
  dir: string
  caFile: string
}

function fixture(args: string[] = []) {
  const f = {} as Fixture
  beforeAll(async () => {
    f.server = await startServer({ args })
    f.dir = await mkdtemp(join(tmpdir(), 'coffer-sigv2-'))
    f.caFile = join(f.dir, 'ca.pem')
    await writeFile(f.caFile, f.server.caPem)
    const s3 = s3Client(f.server)
    await s3.send(new CreateBucketCommand({ Bucket: 'legacy' }))
    await s3.send(new PutObjectCommand({ Bucket: 'legacy', Key: 'dir/hello world+ü.txt', Body: 'hello from sigv4' }))
  })
  afterAll(async () => {
    await f.server?.stop()
    if (f.dir) await rm(f.dir, { recursive: true, force: true })
  })
  return f
}

/** curl (on PATH; every CI image has it) trusting only the server's CA; returns status and body. */
async function curl(f: Fixture, url: string, extra: string[] = []): Promise<{ status: number; body: string }> {
  const bin = findOnPath('curl')
  if (!bin) throw new Error('curl is not on PATH')
  const { stdout } = await run(bin, ['-sS', '--cacert', f.caFile, '-w', '\n%{http_code}', ...extra, url], {
    timeout: 60_000,
  })
  const nl = stdout.lastIndexOf('\n')
  return { status: Number(stdout.slice(nl + 1)), body: stdout.slice(0, nl) }
}

describeWithBoto3('SigV2: boto3 presigned URLs (signature_version s3)', (python) => {
  const f = fixture()

  it('a GET URL made by boto3 is a SigV2 URL and curl fetches the object with it', async () => {
    const { url } = await boto3(python, f.server, f.caFile, {
      op: 'presign',
      signature_version: 's3',
      method: 'get_object',
      bucket: 'legacy',
      key: 'dir/hello world+ü.txt',
    })
    expect(url).toMatch(/[?&]AWSAccessKeyId=/)
    expect(url).toMatch(/[?&]Signature=/)
    expect(url).toMatch(/[?&]Expires=\d+/)
    expect(await curl(f, url!)).toEqual({ status: 200, body: 'hello from sigv4' })
  })

  it('a response-* override is signed as a sub-resource and applied', async () => {
    const { url } = await boto3(python, f.server, f.caFile, {
      op: 'presign',
      signature_version: 's3',
      method: 'get_object',
      bucket: 'legacy',
      key: 'dir/hello world+ü.txt',
      params: { ResponseContentType: 'text/x-test; charset=utf-8' },
    })
    const res = await curl(f, url!, ['-D', '-'])
    expect(res.status).toBe(200)
    expect(res.body.toLowerCase()).toContain('content-type: text/x-test; charset=utf-8')
  })

  it('a PUT URL made by boto3 uploads with curl; a tampered or expired URL is refused', async () => {
    const { url } = await boto3(python, f.server, f.caFile, {
      op: 'presign',
      signature_version: 's3',
      method: 'put_object',
      bucket: 'legacy',
      key: 'uploaded.bin',
    })
    // No Content-Type (curl would send a form type): the URL signed an empty one.
    const put = await curl(f, url!, ['-X', 'PUT', '-H', 'Content-Type:', '--data-binary', 'bytes via sigv2'])
    expect(put.status).toBe(200)
    const got = await s3Client(f.server).send(new GetObjectCommand({ Bucket: 'legacy', Key: 'uploaded.bin' }))
    expect(await got.Body!.transformToString()).toBe('bytes via sigv2')

    const tampered = await curl(f, url!.replace('uploaded.bin', 'other.bin'), [
      '-X',
      'PUT',
      '-H',
      'Content-Type:',
      '--data-binary',
      'x',
    ])
    expect(tampered.status).toBe(403)
    expect(tampered.body).toContain('<Code>SignatureDoesNotMatch</Code>')
    expect(tampered.body).toContain('<StringToSign>PUT\n')

    const expired = url!.replace(/Expires=\d+/, `Expires=${Math.floor(Date.now() / 1000) - 60}`)
    const old = await curl(f, expired)
    expect(old.status).toBe(403)
    expect(old.body).toContain('<Code>AccessDenied</Code>')
    expect(old.body).toContain('Request has expired')
  })

  it('boto3 with the SigV2 signer for whole requests: put and get', async () => {
    const put = await boto3(python, f.server, f.caFile, {
      op: 'put',
      signature_version: 's3',
      bucket: 'legacy',
      key: 'boto-v2.bin',
      size: 4096,
    })
    expect(put).toMatchObject({ ok: true })
    const get = await boto3(python, f.server, f.caFile, {
      op: 'get',
      signature_version: 's3',
      bucket: 'legacy',
      key: 'boto-v2.bin',
    })
    expect(get.body).toHaveLength(4096)
    const wrong = await boto3(python, f.server, f.caFile, {
      op: 'get',
      signature_version: 's3',
      bucket: 'legacy',
      key: 'boto-v2.bin',
      sk: 'not-the-secret',
    })
    expect(wrong).toMatchObject({ error: 'SignatureDoesNotMatch', status: 403 })
  })
})

describeWithClient('s3cmd', 'SigV2: s3cmd with signature_v2 = True', (bin) => {
  const f = fixture()
  let config: string
  beforeAll(async () => {
    config = join(f.dir, 's3cfg')
    const host = `127.0.0.1:${f.server.port}`
    await writeFile(
      config,
      [
        '[default]',
        `access_key = ${f.server.accessKeyId}`,
        `secret_key = ${f.server.secretAccessKey}`,
        `host_base = ${host}`,
        `host_bucket = ${host}`,
        'use_https = True',
        'check_ssl_certificate = True',
        `ca_certs_file = ${f.caFile}`,
        'signature_v2 = True',
        `bucket_location = ${f.server.region}`,
        '',
      ].join('\n'),
    )
  })
  const s3cmd = (args: string[]) =>
    run(bin, ['-c', config, '--no-progress', ...args], {
      timeout: 120_000,
      env: { PATH: process.env.PATH, HOME: f.dir },
    })

  it('put, get and ls with header-signed SigV2 requests', async () => {
    const src = join(f.dir, 'up.txt')
    await writeFile(src, 'from s3cmd v2\n'.repeat(1000))
    await s3cmd(['put', src, 's3://legacy/s3cmd/up.txt', '--add-header=x-amz-meta-who:s3cmd'])
    const back = join(f.dir, 'back.txt')
    await s3cmd(['get', 's3://legacy/s3cmd/up.txt', back])
    expect(await readFile(back, 'utf8')).toBe('from s3cmd v2\n'.repeat(1000))
    expect((await s3cmd(['ls', 's3://legacy/s3cmd/'])).stdout).toContain('s3://legacy/s3cmd/up.txt')
    const got = await s3Client(f.server).send(new GetObjectCommand({ Bucket: 'legacy', Key: 's3cmd/up.txt' }))
    expect(got.Metadata).toMatchObject({ who: 's3cmd' })
  })

  it('signurl gives a SigV2 URL that curl fetches', async () => {
    const { stdout } = await s3cmd(['signurl', 's3://legacy/dir/hello world+ü.txt', '+600'])
    // s3cmd 2.3 prints signurl URLs with http:// whatever use_https says; the signature does not cover the scheme.
    const url = stdout.trim().replace(/^http:/, 'https:')
    expect(url).toMatch(/AWSAccessKeyId=.*Expires=\d+.*Signature=/)
    expect(await curl(f, url)).toEqual({ status: 200, body: 'hello from sigv4' })
  })
})

describeWithBoto3('SigV2 off (--sigv2 off)', (python) => {
  const f = fixture(['--sigv2', 'off'])
  it('refuses SigV2 URLs and headers with 400 InvalidRequest "Please use AWS4-HMAC-SHA256"', async () => {
    const { url } = await boto3(python, f.server, f.caFile, {
      op: 'presign',
      signature_version: 's3',
      method: 'get_object',
      bucket: 'legacy',
      key: 'dir/hello world+ü.txt',
    })
    const res = await curl(f, url!)
    expect(res.status).toBe(400)
    expect(res.body).toContain('<Code>InvalidRequest</Code>')
    expect(res.body).toContain('Please use AWS4-HMAC-SHA256')
    const get = await boto3(python, f.server, f.caFile, {
      op: 'get',
      signature_version: 's3',
      bucket: 'legacy',
      key: 'dir/hello world+ü.txt',
    })
    expect(get).toMatchObject({ error: 'InvalidRequest', status: 400 })
    // SigV4 keeps working.
    const v4 = await boto3(python, f.server, f.caFile, { op: 'get', bucket: 'legacy', key: 'dir/hello world+ü.txt' })
    expect(v4.body).toBe('hello from sigv4')
  })
})
