/**
 * A real `coffer node` process on 127.0.0.1 (mutual TLS): a client without a certificate, with one
 * from another CA, an expired one or the node's own server certificate is refused at the
 * handshake; a gateway's RemoteStore round trip works; SIGTERM ends it cleanly.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadCluster, type Cluster } from '../../src/runtime/cluster.ts'
import { createGatewayFetch, type ClusterFetchHandle } from '../../src/runtime/cluster-fetch.ts'
import {
  CA_KEY_FILE,
  ensureLocalTls,
  issueClientCert,
  SERVER_CERT_FILE,
  SERVER_KEY_FILE,
  TLS_DIR,
} from '../../src/runtime/tls-ca.ts'
import { createRemoteStore } from '../../src/storage/remote/client.ts'
import { readAll, streamFromBytes } from '../../src/util/streams.ts'
import { REPO_ROOT } from '../helpers/server.ts'

const READY_MS = 30_000
const STOP_MS = 15_000
const MiB = 1024 * 1024
/** Idle time before the reuse check: longer than the gateway's old 20 s idle-socket limit. */
const IDLE_MS = 25_000

/** `coffer <args>` on Node, as an operator runs it. */
const cofferArgv = (args: string[]) => [join(REPO_ROOT, 'bin/coffer.mjs'), ...args]

let dir: string
let cluster: Cluster
let child: ChildProcess
let stderr = ''
let endpoint: string
let fetch: ClusterFetchHandle
let exited: Promise<number | string>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-node-auth-'))
  const init = spawnSync(process.execPath, cofferArgv(['cluster', 'init', '--out', join(dir, 'cluster.json')]), {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: READY_MS,
  })
  expect(init.status, init.stderr).toBe(0)
  expect((await stat(join(dir, 'cluster.json'))).mode & 0o777).toBe(0o600)
  cluster = await loadCluster(join(dir, 'cluster.json'))
  child = spawn(
    process.execPath,
    cofferArgv(['node', '--cluster', cluster.path, '--data', join(dir, 'node'), '--port', '0', '--host', '127.0.0.1']),
    {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  exited = new Promise((r) => child.once('exit', (code, signal) => r(code ?? signal ?? -1)))
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  let stdout = ''
  endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`node not ready in ${READY_MS} ms:\n${stdout}\n${stderr}`)),
      READY_MS,
    )
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      stdout += s
      const m = /^coffer-node: listening on (https:\/\/127\.0\.0\.1:\d+)\s*$/m.exec(stdout)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    void exited.then((code) => reject(new Error(`node exited (${code}) before listening:\n${stdout}\n${stderr}`)))
  })
  fetch = await createGatewayFetch(cluster)
})

afterAll(async () => {
  fetch?.close()
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL')
    await exited
  }
  if (dir) await rm(dir, { recursive: true, force: true })
})

/** One GET without the gateway's fetch: the HTTP status, or the error code that ended it. */
function rawGet(tls: { cert?: string; key?: string; ca?: string }, path = '/v2/health'): Promise<number | string> {
  return new Promise((resolve) => {
    const r = request(`${endpoint}${path}`, { ca: cluster.caPem, ...tls, agent: false, timeout: 10_000 }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode ?? 0))
    })
    r.on('timeout', () => r.destroy(new Error('no answer within 10 s')))
    r.on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message))
    r.end()
  })
}

/**
 * Local ports of the established TCP connections to `port` on 127.0.0.1, from the client end
 * (Linux /proc/net/tcp): one per open gateway → node connection.
 */
async function clientPortsTo(port: number): Promise<Set<number>> {
  const ports = new Set<number>()
  for (const line of (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1)) {
    const [, local, remote, state] = line.trim().split(/\s+/)
    if (!local || !remote || state !== '01') continue // 01: ESTABLISHED
    if (Number.parseInt(remote.split(':')[1]!, 16) === port) ports.add(Number.parseInt(local.split(':')[1]!, 16))
  }
  return ports
}

/** A throwaway CA of its own (as another cluster would have), made the way `coffer cluster init` makes one. */
async function otherCa(): Promise<{ caPem: string; caKeyPem: string }> {
  const other = await mkdtemp(join(tmpdir(), 'coffer-other-ca-'))
  try {
    const t = await ensureLocalTls(other)
    return { caPem: t.caPem, caKeyPem: await readFile(join(other, TLS_DIR, CA_KEY_FILE), 'utf8') }
  } finally {
    await rm(other, { recursive: true, force: true })
  }
}

// A refused handshake: TLS 1.3 clients learn it from the server's alert (certificate required,
// unknown CA, expired), or see the connection reset.
const REFUSED = /CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_EXPIRED|BAD_CERTIFICATE|ECONNRESET/

describe('a storage node process admits only clients with a certificate from the cluster CA', () => {
  it('refuses at the handshake: no client certificate, one from another CA, an expired one', async () => {
    expect(await rawGet({})).toMatch(REFUSED)
    const foreign = await issueClientCert(await otherCa())
    expect(await rawGet({ cert: foreign.cert, key: foreign.key })).toMatch(REFUSED)
    const day = 86_400_000
    const expired = await issueClientCert(cluster, {
      notBefore: new Date(Date.now() - 10 * day),
      notAfter: new Date(Date.now() - day),
    })
    expect(await rawGet({ cert: expired.cert, key: expired.key })).toMatch(REFUSED)
    // The node's own server certificate (serverAuth only) is not a client certificate either.
    const server = await readFile(join(dir, 'node', TLS_DIR, SERVER_CERT_FILE), 'utf8')
    const serverKey = await readFile(join(dir, 'node', TLS_DIR, SERVER_KEY_FILE), 'utf8')
    expect(await rawGet({ cert: server, key: serverKey })).toMatch(REFUSED)
    // The control: a fresh certificate from the cluster CA gets an answer.
    const good = await issueClientCert(cluster)
    expect(await rawGet({ cert: good.cert, key: good.key })).toBe(200)
  })

  it('serves only over TLS with the cluster CA (a client with the system CAs fails the handshake)', async () => {
    const err = await new Promise<Error>((resolve) => {
      const r = request(`${endpoint}/v2/health`, { timeout: 5000 }, () => resolve(new Error('unexpected answer')))
      r.on('error', resolve)
      r.end()
    })
    expect((err as { code?: string }).code).toMatch(/CERT|SELF_SIGNED|UNABLE/)
  })

  it("works for a gateway's RemoteStore round trip, 64 MiB included", async () => {
    const store = createRemoteStore({ url: endpoint, fetch, timeoutMs: 10_000, listPageSize: 2 })
    expect(await store.healthy()).toBe(true)
    const small = randomBytes(1234)
    await store.put('obj.1', streamFromBytes(small, 100))
    expect(Buffer.from(await readAll(store.get('obj.1', 34, 1000), MiB)).equals(small.subarray(34, 1034))).toBe(true)

    const big = randomBytes(64 * MiB)
    await store.put('obj.2', streamFromBytes(big, 256 * 1024))
    const back = await readAll(store.get('obj.2', 0, big.length), big.length)
    expect(Buffer.from(back).equals(big)).toBe(true)

    const names: string[] = []
    for await (const n of store.list()) names.push(n)
    expect(names.sort()).toEqual(['obj.1', 'obj.2'])
    await store.delete('obj.2')
    expect(await store.stat('obj.2')).toBeUndefined()
  })

  it('refuses the gateway of another cluster (its own CA and client certificate) both ways', async () => {
    const foreign = await createGatewayFetch(await otherCa())
    try {
      const store = createRemoteStore({ url: endpoint, fetch: foreign, timeoutMs: 10_000, downBackoffMs: 0 })
      await expect(store.stat('obj.1')).rejects.toThrow(/self.signed|UNABLE_TO_VERIFY|CERT|certificate/i)
      expect(await store.healthy()).toBe(false)
    } finally {
      foreign.close()
    }
  })

  it(
    `keeps an idle gateway connection open for ${IDLE_MS / 1000} s: the next request reuses it (no new handshake)`,
    async () => {
      const port = Number(new URL(endpoint).port)
      const before = await clientPortsTo(port) // the shared fetch's connections, left alone
      const own = await createGatewayFetch(cluster)
      try {
        const store = createRemoteStore({ url: endpoint, fetch: own, timeoutMs: 10_000 })
        await store.put('idle.1', streamFromBytes(randomBytes(1000), 100))
        const opened = [...(await clientPortsTo(port))].filter((p) => !before.has(p))
        expect(opened).toHaveLength(1)
        await new Promise((r) => setTimeout(r, IDLE_MS))
        expect(await store.stat('idle.1')).toBe(1000)
        const now = [...(await clientPortsTo(port))].filter((p) => !before.has(p))
        expect(now).toEqual(opened)
      } finally {
        own.close()
      }
    },
    IDLE_MS + 30_000,
  )

  it('keeps the connection through 404 answers (a missing shard read or stat does not cost a handshake)', async () => {
    const port = Number(new URL(endpoint).port)
    const before = await clientPortsTo(port)
    const own = await createGatewayFetch(cluster)
    try {
      const store = createRemoteStore({ url: endpoint, fetch: own, timeoutMs: 10_000 })
      await store.put('kept.1', streamFromBytes(randomBytes(1000), 100))
      // Shard GETs have connections of their own (src/runtime/shard-read.ts): one each.
      expect((await readAll(store.get('kept.1', 0, 1000), MiB)).length).toBe(1000)
      const opened = [...(await clientPortsTo(port))].filter((p) => !before.has(p))
      expect(opened).toHaveLength(2)
      expect(await store.stat('missing.1')).toBeUndefined()
      await expect(readAll(store.get('missing.2', 0, 10), MiB)).rejects.toThrow(/not found/)
      expect(await store.stat('kept.1')).toBe(1000)
      const now = [...(await clientPortsTo(port))].filter((p) => !before.has(p))
      expect(now).toEqual(opened)
    } finally {
      own.close()
    }
  })

  it('closes on SIGTERM with exit code 0', async () => {
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_MS)
    expect(await exited).toBe(0)
    clearTimeout(timer)
  })
})
