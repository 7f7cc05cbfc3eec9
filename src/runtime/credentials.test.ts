import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { credentialsBanner, generateCredentials, loadRootCredentials, randomString } from './credentials.ts'

let dir: string
beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'coffer-creds-'))))
afterEach(() => rm(dir, { recursive: true, force: true }))

describe('root credentials', () => {
  it('generated keys have the AWS shapes and differ every time', () => {
    const a = generateCredentials()
    const b = generateCredentials()
    expect(a.accessKeyId).toMatch(/^[A-Z0-9]{20}$/)
    expect(a.secretAccessKey).toMatch(/^[A-Za-z0-9+/]{40}$/)
    expect(a.accessKeyId).not.toBe(b.accessKeyId)
    expect(a.secretAccessKey).not.toBe(b.secretAccessKey)
  })

  it('randomString uses every symbol of a small alphabet and nothing else', () => {
    const s = randomString('abc', 3000)
    expect(new Set(s)).toEqual(new Set('abc'))
    // Rejection sampling keeps the symbols even: each near 1000 of 3000 (far outside ±200 means bias).
    for (const ch of 'abc') expect(Math.abs(s.split(ch).length - 1 - 1000)).toBeLessThan(200)
  })

  it('first start generates and stores them with mode 0600; the next start reads the same ones', async () => {
    const first = await loadRootCredentials(dir, {})
    expect(first.source).toBe('generated')
    const file = join(dir, 'credentials.json')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
      accessKeyId: first.accessKeyId,
      secretAccessKey: first.secretAccessKey,
    })
    const second = await loadRootCredentials(dir, {})
    expect(second).toMatchObject({
      source: 'file',
      accessKeyId: first.accessKeyId,
      secretAccessKey: first.secretAccessKey,
    })
  })

  it('env credentials win and write no file', async () => {
    const c = await loadRootCredentials(dir, {
      COFFER_ROOT_ACCESS_KEY: 'ADMINKEY1',
      COFFER_ROOT_SECRET_KEY: 'secret-secret',
    })
    expect(c).toMatchObject({ source: 'env', accessKeyId: 'ADMINKEY1', secretAccessKey: 'secret-secret' })
    await expect(stat(join(dir, 'credentials.json'))).rejects.toThrow()
  })

  it('refuses half-given env credentials and unusable ones', async () => {
    await expect(loadRootCredentials(dir, { COFFER_ROOT_ACCESS_KEY: 'ADMINKEY1' })).rejects.toThrow(
      /set both or neither/,
    )
    await expect(
      loadRootCredentials(dir, { COFFER_ROOT_ACCESS_KEY: 'A B', COFFER_ROOT_SECRET_KEY: 'secret-secret' }),
    ).rejects.toThrow(/letters or digits/)
    await expect(
      loadRootCredentials(dir, { COFFER_ROOT_ACCESS_KEY: 'ADMINKEY1', COFFER_ROOT_SECRET_KEY: 'short' }),
    ).rejects.toThrow(/8..128/)
  })

  it('a corrupt file is refused with what to do', async () => {
    await writeFile(join(dir, 'credentials.json'), '{"accessKeyId": 1}')
    await expect(loadRootCredentials(dir, {})).rejects.toThrow(/delete it to generate/)
  })

  it('the banner carries a ready-to-paste AWS CLI command', () => {
    const text = credentialsBanner(
      { accessKeyId: 'AK', secretAccessKey: 'SK' },
      'https://127.0.0.1:9000',
      '/d/tls/ca.pem',
      'us-east-1',
    )
    expect(text).toContain(
      'AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK AWS_DEFAULT_REGION=us-east-1 AWS_CA_BUNDLE=/d/tls/ca.pem aws --endpoint-url https://127.0.0.1:9000 s3 ls',
    )
  })
})
