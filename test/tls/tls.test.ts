/**
 * The TLS policy on every runtime, checked from outside with openssl s_client and raw sockets:
 * TLS 1.2/1.3 only, AEAD suites only, no plaintext answer, certificate valid for local names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { connect as netConnect } from 'node:net'
import { createServer as createTlsServer, connect as tlsConnect, type Server as TlsServer } from 'node:tls'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServer, type Runtime, type TestServer } from '../helpers/server.ts'

interface SClient {
  code: number
  output: string
}

/** openssl s_client with stdin closed, bounded; SECLEVEL=0 so the *client* never refuses a version itself. */
function sClient(port: number, args: string[], caFile?: string): Promise<SClient> {
  const argv = ['s_client', '-connect', `127.0.0.1:${port}`, ...(caFile ? ['-CAfile', caFile] : []), ...args]
  return new Promise((resolve) => {
    const child = execFile('openssl', argv, { timeout: 15_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      resolve({
        code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0,
        output: String(stdout) + String(stderr),
      })
    })
    child.stdin?.end()
  })
}

/** s_client's summary line: `New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384` (`(NONE)` when refused). */
const summary = (r: SClient) => /^New, (\S+), Cipher is (\S+)/m.exec(r.output)
/**
 * The negotiated version: the session's `Protocol :` line when printed (TLS ≤ 1.2 prints it at
 * once), else the summary's version, which for TLS 1.2 and older names the cipher's version instead.
 */
const negotiated = (r: SClient) => /^\s*Protocol\s*:\s*(\S+)/m.exec(r.output)?.[1] ?? summary(r)?.[1]
const handshakeOk = (r: SClient) => summary(r) !== null && summary(r)![2] !== '(NONE)'

/** Writes `bytes` to a raw TCP connection and collects what comes back (bounded). */
function rawExchange(port: number, bytes: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const sock = netConnect(port, '127.0.0.1', () => sock.write(bytes))
    const done = () => {
      clearTimeout(timer)
      sock.destroy()
      resolve(Buffer.concat(chunks))
    }
    const timer = setTimeout(done, 5_000)
    sock.on('data', (c: Buffer) => chunks.push(c))
    sock.on('close', done)
    sock.on('error', done)
  })
}

let work: string
beforeAll(async () => (work = await mkdtemp(join(tmpdir(), 'coffer-tlstest-'))))
afterAll(() => rm(work, { recursive: true, force: true }))

describe("openssl can speak TLS 1.1 here (so a refusal below is the server's doing)", () => {
  let control: TlsServer | undefined
  afterAll(() => new Promise<void>((r) => (control ? control.close(() => r()) : r())))

  it('a deliberately permissive TLS server accepts -tls1_1 from the same s_client invocation', async () => {
    const seed = await startServer()
    const [cert, key] = await Promise.all([
      readFile(join(seed.dataDir, 'tls/server.pem'), 'utf8'),
      readFile(join(seed.dataDir, 'tls/server-key.pem'), 'utf8'),
    ])
    await seed.stop()
    control = createTlsServer({ cert, key, minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' }, (s) => s.end())
    control.on('tlsClientError', () => {})
    await new Promise<void>((r) => control!.listen(0, '127.0.0.1', () => r()))
    const r = await sClient((control.address() as AddressInfo).port, ['-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0'])
    expect(negotiated(r)).toBe('TLSv1.1')
    expect(handshakeOk(r)).toBe(true)
  })
})

describe.each(['node', 'deno', 'bun'] as Runtime[])('TLS policy on %s', (runtime) => {
  let server: TestServer
  let caFile: string
  beforeAll(async () => {
    server = await startServer({ runtime })
    caFile = join(work, `ca-${runtime}.pem`)
    await writeFile(caFile, server.caPem)
  })
  afterAll(() => server?.stop())

  it('refuses TLS 1.1 (and so everything older)', async () => {
    const r = await sClient(server.port, ['-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0'], caFile)
    expect(handshakeOk(r)).toBe(false)
    expect(r.output).toMatch(/alert|wrong version|unsupported protocol|handshake failure/i)
  })

  it.each([
    ['-tls1_2', 'TLSv1.2'],
    ['-tls1_3', 'TLSv1.3'],
  ])('accepts %s with an AEAD suite and a certificate that verifies', async (flag, version) => {
    const r = await sClient(server.port, [flag, '-verify_return_error', '-verify_ip', '127.0.0.1'], caFile)
    expect(handshakeOk(r)).toBe(true)
    expect(negotiated(r)).toBe(version)
    expect(r.output).toMatch(/Verify return code: 0 \(ok\)/)
    expect(summary(r)![2]).toMatch(/GCM|CHACHA20/)
  })

  it('refuses TLS 1.2 suites without AEAD or without forward secrecy', async () => {
    for (const cipher of [
      'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA',
      'AES128-GCM-SHA256:AES256-GCM-SHA384',
    ]) {
      const r = await sClient(server.port, ['-tls1_2', '-cipher', cipher], caFile)
      expect(handshakeOk(r), cipher).toBe(false)
    }
  })

  it('the certificate verifies against ca.pem for localhost and 127.0.0.1, not for other names', async () => {
    const check = (host: string, servername?: string) =>
      new Promise<{ authorized: boolean; error?: string }>((resolve) => {
        const s = tlsConnect(
          {
            host: '127.0.0.1',
            port: server.port,
            ca: server.caPem,
            servername,
            rejectUnauthorized: false,
            checkServerIdentity: () => undefined,
          },
          () => {
            const { tlsCheck } = { tlsCheck: s.authorized }
            // Hostname check done by hand: rejectUnauthorized=false lets us see the chain result and the name result apart.
            const cert = s.getPeerX509Certificate()
            const nameOk =
              host.includes('.') && /^\d/.test(host)
                ? cert?.checkIP(host) !== undefined
                : cert?.checkHost(host) !== undefined
            s.end()
            resolve({
              authorized: tlsCheck && nameOk,
              error: s.authorizationError ? String(s.authorizationError) : undefined,
            })
          },
        )
        s.on('error', (e) => resolve({ authorized: false, error: e.message }))
      })
    expect(await check('127.0.0.1')).toEqual({ authorized: true, error: undefined })
    expect(await check('localhost', 'localhost')).toEqual({ authorized: true, error: undefined })
    expect((await check('example.com', 'example.com')).authorized).toBe(false)
  })

  it('a plaintext HTTP request gets no HTTP or S3 answer', async () => {
    const reply = await rawExchange(
      server.port,
      'GET /_coffer/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    )
    const text = reply.toString('latin1')
    expect(text).not.toMatch(/HTTP\/1\.[01] \d{3}/)
    expect(text).not.toContain('<Error>')
    expect(text).not.toContain('"status"')
    // Whatever came back, if anything, is a TLS record (alert = 0x15) — never plaintext.
    if (reply.length > 0) expect([0x15, 0x16]).toContain(reply[0])
  })
})
