/**
 * A real `coffer node` process on 127.0.0.1: requests without credentials, with a wrong secret, an
 * expired date, a tampered path or body, or a replayed nonce are refused (401/403) and logged; a
 * correctly signed RemoteStore round trip works; SIGTERM ends it cleanly.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadCluster, type Cluster } from '../../src/runtime/cluster.ts'
import { createClusterFetch, type ClusterFetchHandle } from '../../src/runtime/cluster-fetch.ts'
import { createPlatform } from '../../src/runtime/platform.ts'
import { deriveRequestKey, EMPTY_SHA256, signRequest } from '../../src/storage/remote/auth.ts'
import { createRemoteStore } from '../../src/storage/remote/client.ts'
import { STREAMING_PAYLOAD } from '../../src/storage/remote/protocol.ts'
import { frameBody } from '../../src/storage/remote/trailer.ts'
import { readAll, streamFromBytes } from '../../src/util/streams.ts'
import { REPO_ROOT } from '../helpers/server.ts'

const READY_MS = 30_000
const STOP_MS = 15_000
const MiB = 1024 * 1024

/** `coffer <args>` on Node, as an operator runs it. */
const cofferArgv = (args: string[]) => [join(REPO_ROOT, 'bin/coffer.mjs'), ...args]

const platform = createPlatform()
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
  fetch = createClusterFetch(cluster)
})

afterAll(async () => {
  fetch?.close()
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL')
    await exited
  }
  if (dir) await rm(dir, { recursive: true, force: true })
})

const key = () => deriveRequestKey(platform, cluster.secret)
const signedGet = (target: string, o: { key?: Uint8Array; now?: number; sendTo?: string } = {}) =>
  new Request(endpoint + (o.sendTo ?? target), {
    headers: signRequest(platform, o.key ?? key(), {
      method: 'GET',
      target,
      content: EMPTY_SHA256(platform),
      now: o.now,
    }).headers,
  })

/** Waits (bounded) until the node has logged `n` refusals; returns those lines parsed. */
async function refusals(n: number): Promise<Array<Record<string, unknown>>> {
  const parse = () =>
    stderr
      .split('\n')
      .filter((l) => l.includes('request refused'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
  for (let i = 0; i < 50 && parse().length < n; i++) await new Promise((r) => setTimeout(r, 100))
  return parse()
}

describe('a storage node process refuses anything not signed with the cluster secret', () => {
  it('refuses and logs: no credentials, wrong secret, expired date, tampered path, replay, tampered body', async () => {
    expect((await fetch(new Request(`${endpoint}/v1/health`))).status).toBe(401)
    const wrong = deriveRequestKey(platform, randomBytes(32))
    expect((await fetch(signedGet('/v1/health', { key: wrong }))).status).toBe(403)
    expect((await fetch(signedGet('/v1/health', { now: Date.now() - 6 * 60_000 }))).status).toBe(401)
    expect((await fetch(signedGet('/v1/stat/aaa', { sendTo: '/v1/stat/bbb' }))).status).toBe(403)
    const once = signedGet('/v1/health')
    const again = new Request(once.url, { headers: once.headers })
    expect((await fetch(once)).status).toBe(200)
    expect((await fetch(again)).status).toBe(401)

    // A shard PUT whose body was changed after signing: refused, and nothing is stored.
    const target = '/v1/shards/tampered.0'
    const { headers, signature } = signRequest(platform, key(), { method: 'PUT', target, content: STREAMING_PAYLOAD })
    const framed = await readAll(
      frameBody(platform, key(), signature, streamFromBytes(randomBytes(300_000), 65536)).stream,
      MiB,
    )
    framed[1000]! ^= 0x01
    const res = await fetch(new Request(endpoint + target, { method: 'PUT', headers, body: framed.slice() }))
    expect(res.status).toBe(403)
    const store = createRemoteStore({ url: endpoint, secret: cluster.secret, fetch, timeoutMs: 10_000, platform })
    expect(await store.stat('tampered.0')).toBeUndefined()

    const lines = await refusals(6)
    expect(lines.map((l) => l.status)).toEqual([401, 403, 401, 403, 401, 403])
    for (const l of lines) expect(l).toMatchObject({ level: 'warn', msg: 'node: request refused' })
    expect(lines[3]).toMatchObject({ path: '/v1/stat/bbb' })
    expect(lines[5]).toMatchObject({ method: 'PUT', path: target })
    const secretB64 = Buffer.from(cluster.secret).toString('base64')
    expect(stderr).not.toContain(secretB64)
    expect(stderr).not.toContain(Buffer.from(cluster.secret).toString('hex'))
  })

  it('serves only over TLS with the cluster CA (a client with the system CAs fails the handshake)', async () => {
    const err = await new Promise<Error>((resolve) => {
      const r = request(`${endpoint}/v1/health`, { timeout: 5000 }, () => resolve(new Error('unexpected answer')))
      r.on('error', resolve)
      r.end()
    })
    expect((err as { code?: string }).code).toMatch(/CERT|SELF_SIGNED|UNABLE/)
  })

  it('works for a correctly signed RemoteStore round trip, 64 MiB included', async () => {
    const store = createRemoteStore({
      url: endpoint,
      secret: cluster.secret,
      fetch,
      timeoutMs: 10_000,
      platform,
      listPageSize: 2,
    })
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

  it('closes on SIGTERM with exit code 0', async () => {
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_MS)
    expect(await exited).toBe(0)
    clearTimeout(timer)
  })
})
