/**
 * First start and restarts, through the real CLI: generated credentials printed once and stored
 * 0600, reuse on restart, operator certificates, and the clear refusals (bad flags, busy port).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ListBucketsCommand } from '@aws-sdk/client-s3'
import { REPO_ROOT, httpsGet, startServer, type TestServer } from '../helpers/server.ts'
import { s3Client } from '../helpers/s3-client.ts'

/** Runs `node bin/coffer.mjs <args>` to completion (bounded). */
function coffer(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, 'bin/coffer.mjs'), ...args],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : -1
          : 0
        resolve({ code, stdout: String(stdout), stderr: String(stderr) })
      },
    )
  })
}

/** Generated credentials: an empty env value counts as unset. */
const GENERATE = { COFFER_ROOT_ACCESS_KEY: '', COFFER_ROOT_SECRET_KEY: '' }

let dir: string
beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), 'coffer-startup-'))))
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('first start and restart', () => {
  const data = () => join(dir, 'data')
  let first: TestServer

  it('first start generates root credentials, stores them 0600 and prints them once with a ready command', async () => {
    first = await startServer({ dataDir: data(), env: GENERATE })
    const file = join(data(), 'credentials.json')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const stored = JSON.parse(await readFile(file, 'utf8')) as { accessKeyId: string; secretAccessKey: string }
    expect(stored.accessKeyId).toMatch(/^[A-Z0-9]{20}$/)
    expect(stored.secretAccessKey).toHaveLength(40)
    const out = first.stdout()
    expect(out.split(stored.secretAccessKey).length - 1).toBe(2) // the secret line and the command, nothing else
    expect(out).toContain(
      `AWS_ACCESS_KEY_ID=${stored.accessKeyId} AWS_SECRET_ACCESS_KEY=${stored.secretAccessKey} AWS_DEFAULT_REGION=us-east-1 AWS_CA_BUNDLE=${join(data(), 'tls/ca.pem')} aws --endpoint-url https://127.0.0.1:${first.port} s3 ls`,
    )
    expect((await stat(join(data(), 'tls/ca-key.pem'))).mode & 0o777).toBe(0o600)
    expect((await stat(join(data(), 'tls/server-key.pem'))).mode & 0o777).toBe(0o600)
    // The printed credentials are the root user's.
    const s3 = s3Client(first)
    await expect(s3.send(new ListBucketsCommand({}))).resolves.toBeDefined()
    s3.destroy()
    await first.kill('SIGTERM')
    expect(await first.exited).toBe(0)
  })

  it('a restart reuses the stored credentials and the CA silently', async () => {
    const caBefore = await readFile(join(data(), 'tls/ca.pem'), 'utf8')
    const again = await startServer({ dataDir: data(), env: GENERATE })
    try {
      expect(again.accessKeyId).toBe(first.accessKeyId)
      expect(again.stdout()).not.toContain(again.secretAccessKey)
      expect(again.stdout()).not.toContain('generated root credentials')
      expect(again.stderr()).not.toContain('created a local CA')
      expect(again.caPem).toBe(caBefore)
      const s3 = s3Client(again)
      await expect(s3.send(new ListBucketsCommand({}))).resolves.toBeDefined()
      s3.destroy()
    } finally {
      await again.kill('SIGTERM')
    }
  })

  it('a restart with --domain reissues the server certificate under the same CA', async () => {
    const caBefore = await readFile(join(data(), 'tls/ca.pem'), 'utf8')
    const s = await startServer({ dataDir: data(), env: GENERATE, args: ['--domain', 's3.coffer.test'] })
    try {
      expect(s.caPem).toBe(caBefore)
      const leaf = new X509Certificate(await readFile(join(data(), 'tls/server.pem'), 'utf8'))
      expect(leaf.checkHost('bucket.s3.coffer.test')).toBeDefined()
      expect(leaf.verify(new X509Certificate(caBefore).publicKey)).toBe(true)
      expect((await httpsGet(s, '/_coffer/health')).status).toBe(200)
    } finally {
      await s.kill('SIGTERM')
    }
  })

  it('a different --drives on an existing data directory is refused with the count to use', async () => {
    const r = await coffer(['server', '--data', data(), '--port', '0', '--drives', '4'], GENERATE)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/holds 6 drives but --drives is 4: start with --drives 6/)
  })
})

describe('operator certificate', () => {
  it('--cert/--key are served as given and no local CA is created', async () => {
    const source = await startServer()
    const cert = join(source.dataDir, 'tls/server.pem')
    const key = join(source.dataDir, 'tls/server-key.pem')
    const caPem = source.caPem
    await source.kill('SIGTERM') // keeps the files until stop()
    const data = join(dir, 'operator')
    const s = await startServer({ dataDir: data, args: ['--cert', cert, '--key', key] })
    try {
      expect((await httpsGet({ port: s.port, caPem }, '/_coffer/health')).status).toBe(200)
      await expect(stat(join(data, 'tls'))).rejects.toThrow()
      expect(s.stderr()).toContain(`using operator certificate ${cert}`)
    } finally {
      await s.stop()
      await source.stop()
    }
  })
})

describe('refusals', () => {
  it('an unknown flag or a bad value exits 2 saying what to change', async () => {
    const r = await coffer(['server', '--data', join(dir, 'never'), '--prot', '9000', '--drives', 'six'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/unknown flag --prot: known flags are/)
    expect(r.stderr).toMatch(/--drives needs a whole number, got "six"/)
    await expect(stat(join(dir, 'never'))).rejects.toThrow() // nothing created
  })

  it.each(['node', 'cluster', 'admin'])('`coffer %s` without arguments: usage, exit 2', async (cmd) => {
    const r = await coffer([cmd])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/usage|needs|--/i)
  })

  it('--version and help exit 0', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
    expect(await coffer(['--version'])).toMatchObject({ code: 0, stdout: `coffer ${pkg.version} (node)\n` })
    expect((await coffer(['help'])).stdout).toContain('coffer server [flags]')
  })

  it('a port in use exits 1 with what to do', async () => {
    const s = await startServer()
    try {
      const r = await coffer(['server', '--data', join(dir, 'busy'), '--port', String(s.port)], {
        COFFER_ROOT_ACCESS_KEY: 'BUSYKEY1',
        COFFER_ROOT_SECRET_KEY: 'busy-secret-1',
      })
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/already in use: choose another --port/)
    } finally {
      await s.stop()
    }
  })
})
