import { X509Certificate } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { addClusterMeta, initCluster, loadCluster, runClusterCommand } from './cluster.ts'
import { createMetaAuth } from './meta-server.ts'
import { parseNodeArgs } from './storage-node.ts'

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'coffer-cluster-test-'))
  dirs.push(d)
  return d
}
function capture() {
  const out: string[] = []
  const err: string[] = []
  return { io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) }, out, err }
}

describe('cluster file', () => {
  it('init writes a 0600 file with a 256-bit secret and a CA certificate; load reads it back', async () => {
    const file = join(await tempDir(), 'cluster.json')
    const made = await initCluster(file)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const c = await loadCluster(file)
    expect(c.secret.length).toBe(32)
    expect(Buffer.from(c.secret).equals(Buffer.from(made.secret))).toBe(true)
    expect(c.warnings).toEqual([])
    const ca = new X509Certificate(c.caPem)
    expect(ca.ca).toBe(true)
    expect(ca.checkPrivateKey((await import('node:crypto')).createPrivateKey(c.caKeyPem))).toBe(true)
    // Two clusters never share a secret or a CA.
    const other = await initCluster(join(await tempDir(), 'cluster.json'))
    expect(Buffer.from(other.secret).equals(Buffer.from(c.secret))).toBe(false)
    expect(other.caPem).not.toBe(c.caPem)
  })

  it('refuses to overwrite without force, and replaces with it', async () => {
    const file = join(await tempDir(), 'cluster.json')
    const first = await initCluster(file)
    await expect(initCluster(file)).rejects.toThrow(/already exists.*--force/)
    const second = await initCluster(file, { force: true })
    expect(second.caPem).not.toBe(first.caPem)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
  })

  it('explains unusable files and warns about loose permissions', async () => {
    const dir = await tempDir()
    const file = join(dir, 'cluster.json')
    await initCluster(file)
    const good = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
    await expect(loadCluster(join(dir, 'missing.json'))).rejects.toThrow(/coffer cluster init/)
    for (const [patch, msg] of [
      [{ version: 2 }, /version 2/],
      [{ secret: 'AAAA' }, /32 bytes/],
      [{ format: 'x' }, /format/],
      [{ caKey: 'nope' }, /caKey/],
    ] as const) {
      await writeFile(file, JSON.stringify({ ...good, ...patch }), { mode: 0o600 })
      await expect(loadCluster(file)).rejects.toThrow(msg)
    }
    await writeFile(file, JSON.stringify(good))
    await chmod(file, 0o644)
    expect((await loadCluster(file)).warnings[0]).toMatch(/chmod 600/)
  })

  it('keeps the metadata token meta-server adds, leaves the rest alone, and never replaces it', async () => {
    const file = join(await tempDir(), 'cluster.json')
    const made = await initCluster(file)
    expect((await loadCluster(file)).meta).toBeUndefined()
    const auth = await createMetaAuth()
    await addClusterMeta(file, auth)
    const c = await loadCluster(file)
    expect(c.meta).toEqual(auth)
    expect(Buffer.from(c.secret).equals(Buffer.from(made.secret))).toBe(true)
    expect(c.caPem).toBe(made.caPem)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    await expect(addClusterMeta(file, await createMetaAuth())).rejects.toThrow(/already has/)
    const json = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
    await writeFile(file, JSON.stringify({ ...json, meta: { key: 'k' } }), { mode: 0o600 })
    await expect(loadCluster(file)).rejects.toThrow(/"meta" must hold/)
  })

  it('signs the metadata token with the key it stores (EdDSA JWT, as sqld checks it)', async () => {
    const { key, token } = await createMetaAuth()
    const [head, claims, sig] = token.split('.') as [string, string, string]
    expect(JSON.parse(Buffer.from(head, 'base64url').toString())).toEqual({ alg: 'EdDSA', typ: 'JWT' })
    const pub = await crypto.subtle.importKey('raw', Buffer.from(key, 'base64url'), { name: 'Ed25519' }, false, [
      'verify',
    ])
    const data = new TextEncoder().encode(`${head}.${claims}`)
    expect(await crypto.subtle.verify({ name: 'Ed25519' }, pub, Buffer.from(sig, 'base64url'), data)).toBe(true)
    const other = await createMetaAuth()
    expect(other.key).not.toBe(key)
  })

  it('runs `cluster init` from argv and refuses bad usage', async () => {
    const file = join(await tempDir(), 'c.json')
    const ok = capture()
    expect(await runClusterCommand(['init', '--out', file], {}, ok.io)).toBe(0)
    expect(ok.out.join()).toContain(file)
    const bad = capture()
    expect(await runClusterCommand(['init'], {}, bad.io)).toBe(2)
    expect(await runClusterCommand(['frobnicate'], {}, bad.io)).toBe(2)
    expect(await runClusterCommand(['init', '--out', file], {}, bad.io)).toBe(1)
    expect(bad.err.join('\n')).toMatch(/--out FILE is required[\s\S]*unknown verb[\s\S]*already exists/)
  })
})

describe('coffer node arguments', () => {
  it('parses flags and env, and lists every problem', () => {
    expect(parseNodeArgs(['--cluster', 'c.json', '--data=d', '--port', '9101'], {})).toEqual({
      ok: true,
      config: { clusterFile: 'c.json', dataDir: 'd', port: 9101, host: '127.0.0.1', names: [], directIo: true },
    })
    expect(
      parseNodeArgs(['--port', '1'], { COFFER_CLUSTER: 'c', COFFER_DATA: 'd', COFFER_DIRECT_IO: 'off' }),
    ).toMatchObject({ ok: true, config: { directIo: false } })
    expect(
      parseNodeArgs(['--port', '1', '--direct-io', 'maybe'], { COFFER_CLUSTER: 'c', COFFER_DATA: 'd' }),
    ).toMatchObject({ ok: false, problems: ['--direct-io must be on or off, got "maybe"'] })
    expect(
      parseNodeArgs(['--port', '1', '--names', '10.0.0.5, node5.internal'], { COFFER_CLUSTER: 'c', COFFER_DATA: 'd' }),
    ).toMatchObject({ ok: true, config: { names: ['10.0.0.5', 'node5.internal'] } })
    expect(
      parseNodeArgs(['--port', '1'], { COFFER_CLUSTER: 'c', COFFER_DATA: 'd', COFFER_NODE_NAMES: 'fd00::5' }),
    ).toMatchObject({ ok: true, config: { names: ['fd00::5'] } })
    expect(
      parseNodeArgs(['--port', '1', '--names', 'bad name'], { COFFER_CLUSTER: 'c', COFFER_DATA: 'd' }),
    ).toMatchObject({ ok: false, problems: [expect.stringMatching(/--names takes DNS names or IP addresses/)] })
    expect(parseNodeArgs(['--port', '0', '--host', '::1'], { COFFER_CLUSTER: 'c', COFFER_DATA: 'd' })).toMatchObject({
      ok: true,
      config: { host: '::1', port: 0 },
    })
    const bad = parseNodeArgs(['--port', '70000', '--what'], {})
    expect(bad.ok).toBe(false)
    expect(!bad.ok && bad.problems.join('\n')).toMatch(
      /unknown flag --what[\s\S]*--cluster FILE is required[\s\S]*--data DIR is required[\s\S]*0–65535/,
    )
    expect(parseNodeArgs(['--help'], {})).toEqual({ ok: true, help: true })
    // --names repeats and adds up; the flag replaces the variable.
    expect(
      parseNodeArgs(['--port', '1', '--names', 'a.internal', '--names=b.internal,10.0.0.6'], {
        COFFER_CLUSTER: 'c',
        COFFER_DATA: 'd',
        COFFER_NODE_NAMES: 'env.internal',
      }),
    ).toMatchObject({ ok: true, config: { names: ['a.internal', 'b.internal', '10.0.0.6'] } })
  })
})
