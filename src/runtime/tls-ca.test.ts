import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { createSecureContext } from 'node:tls'
import { join } from 'node:path'
import { ensureLocalTls } from './tls-ca.ts'

let dir: string
beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'coffer-tls-'))))
afterEach(() => rm(dir, { recursive: true, force: true }))

const file = (n: string) => readFile(join(dir, 'tls', n), 'utf8')
const mode = async (n: string) => (await stat(join(dir, 'tls', n))).mode & 0o777

describe('local CA (checked with node:crypto, independent of the generator)', () => {
  it('first start writes a CA and a server certificate it signed, keys 0600, SANs for local names', async () => {
    const t = await ensureLocalTls(dir)
    expect(t.createdCa).toBe(true)
    expect(t.issuedServerCert).toBe(true)
    expect(await mode('ca-key.pem')).toBe(0o600)
    expect(await mode('server-key.pem')).toBe(0o600)
    const ca = new X509Certificate(await file('ca.pem'))
    const leaf = new X509Certificate(await file('server.pem'))
    expect(ca.ca).toBe(true)
    expect(leaf.ca).toBe(false)
    expect(leaf.verify(ca.publicKey)).toBe(true)
    expect(leaf.checkIssued(ca)).toBe(true)
    expect(leaf.checkHost('localhost')).toBe('localhost')
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1')
    expect(leaf.checkIP('::1')).toBe('::1')
    expect(leaf.checkHost('example.com')).toBeUndefined()
    // The key on disk is the certificate's key.
    expect(leaf.checkPrivateKey(createPrivateKey(await file('server-key.pem')))).toBe(true)
    // What a server presents: leaf then CA.
    expect(t.cert.indexOf(leaf.toString().trim().split('\n')[1]!)).toBeLessThan(
      t.cert.indexOf(ca.toString().trim().split('\n')[1]!),
    )
  })

  it('a restart with the same names keeps both certificates', async () => {
    await ensureLocalTls(dir)
    const before = [await file('ca.pem'), await file('server.pem')]
    const t = await ensureLocalTls(dir)
    expect(t.createdCa).toBe(false)
    expect(t.issuedServerCert).toBe(false)
    expect([await file('ca.pem'), await file('server.pem')]).toEqual(before)
  })

  it('a new --domain reissues the server certificate under the same CA, with domain and wildcard', async () => {
    await ensureLocalTls(dir)
    const caBefore = await file('ca.pem')
    const t = await ensureLocalTls(dir, 's3.example.test')
    expect(t.createdCa).toBe(false)
    expect(t.issuedServerCert).toBe(true)
    expect(await file('ca.pem')).toBe(caBefore)
    const leaf = new X509Certificate(await file('server.pem'))
    expect(leaf.verify(new X509Certificate(caBefore).publicKey)).toBe(true)
    expect(leaf.checkHost('s3.example.test')).toBeDefined()
    expect(leaf.checkHost('bucket.s3.example.test')).toBeDefined()
    expect(leaf.checkHost('localhost')).toBe('localhost')
    // And back without the domain: reissued again, the domain gone.
    expect((await ensureLocalTls(dir)).issuedServerCert).toBe(true)
    expect(new X509Certificate(await file('server.pem')).checkHost('s3.example.test')).toBeUndefined()
  })

  it("extra names (a storage node's addresses) become IP and DNS SANs; a change reissues", async () => {
    const t = await ensureLocalTls(dir, undefined, ['10.20.30.40', 'Node1.Cluster.Internal', '[fd00::7]'])
    expect(t.issuedServerCert).toBe(true)
    const leaf = new X509Certificate(await file('server.pem'))
    expect(leaf.checkIP('10.20.30.40')).toBe('10.20.30.40')
    expect(leaf.checkIP('fd00::7')).toBeDefined()
    expect(leaf.checkHost('node1.cluster.internal')).toBe('node1.cluster.internal')
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1')
    expect(leaf.checkIP('10.20.30.41')).toBeUndefined()
    expect(
      (await ensureLocalTls(dir, undefined, ['10.20.30.40', 'node1.cluster.internal', 'fd00::7'])).issuedServerCert,
    ).toBe(false)
    expect((await ensureLocalTls(dir, undefined, ['10.20.30.41'])).issuedServerCert).toBe(true)
    expect(new X509Certificate(await file('server.pem')).checkIP('10.20.30.40')).toBeUndefined()
  })

  it('an unreadable server certificate is replaced; a missing CA key is refused with what to do', async () => {
    await ensureLocalTls(dir)
    await writeFile(join(dir, 'tls', 'server.pem'), 'garbage')
    expect((await ensureLocalTls(dir)).issuedServerCert).toBe(true)
    await rm(join(dir, 'tls', 'ca-key.pem'))
    await expect(ensureLocalTls(dir)).rejects.toThrow(/restore the missing file, or delete/)
  })

  // Each PEM file is written atomically, but a key and its certificate are two files: these are
  // the states a crash between the two writes leaves, each rebuilt from real files.
  it('a reissue cut between its key and its certificate: the next start reissues instead of pairing them', async () => {
    await ensureLocalTls(dir)
    const oldCert = await file('server.pem')
    // A reissue for a new domain writes the new key, then the new certificate; the crash keeps
    // the old certificate, and the operator goes back to the old flags.
    await ensureLocalTls(dir, 'b.example.com')
    await writeFile(join(dir, 'tls', 'server.pem'), oldCert)
    const t = await ensureLocalTls(dir)
    expect(t.issuedServerCert).toBe(true)
    expect(new X509Certificate(await file('server.pem')).checkPrivateKey(createPrivateKey(t.key))).toBe(true)
    expect(() => createSecureContext({ cert: t.cert, key: t.key })).not.toThrow()
  })

  it('a CA creation cut after its key: the next start creates the CA instead of refusing', async () => {
    const other = await mkdtemp(join(tmpdir(), 'coffer-tls-'))
    try {
      await ensureLocalTls(other)
      await mkdir(join(dir, 'tls'))
      await writeFile(join(dir, 'tls', 'ca-key.pem'), await readFile(join(other, 'tls', 'ca-key.pem')))
    } finally {
      await rm(other, { recursive: true, force: true })
    }
    const t = await ensureLocalTls(dir)
    expect(t.createdCa).toBe(true)
    const ca = new X509Certificate(await file('ca.pem'))
    expect(ca.checkPrivateKey(createPrivateKey(await file('ca-key.pem')))).toBe(true)
    expect(new X509Certificate(await file('server.pem')).checkIssued(ca)).toBe(true)
    // With a server certificate beside it the key is not a cut creation: a lost ca.pem is refused.
    await rm(join(dir, 'tls', 'ca.pem'))
    await expect(ensureLocalTls(dir)).rejects.toThrow(/restore the missing file, or delete/)
  })
})
