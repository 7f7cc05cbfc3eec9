/**
 * A signed storage-node request captured before the node restarts is refused after it (issue 10,
 * defect 10): the node persists a replay mark (src/storage/remote/replay-mark.ts) before serving
 * a request, and after a restart — even a kill -9 — refuses everything dated at or below it. The
 * request replayed here is a shard DELETE: accepted, it would delete a shard written since.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClusterFetch, type ClusterFetchHandle } from '../../src/runtime/cluster-fetch.ts'
import { loadCluster, type Cluster } from '../../src/runtime/cluster.ts'
import { createPlatform } from '../../src/runtime/platform.ts'
import { deriveRequestKey, EMPTY_SHA256, signRequest } from '../../src/storage/remote/auth.ts'
import { createRemoteStore } from '../../src/storage/remote/client.ts'
import { readAll, streamFromBytes } from '../../src/util/streams.ts'
import { freePorts, initCluster, type NodeProc, startNode, stopNode } from '../helpers/nodes.ts'
import { waitFor } from '../helpers/shards.ts'

const platform = createPlatform()
let dir: string
let cluster: Cluster
let node: NodeProc
let fetch: ClusterFetchHandle

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-node-replay-'))
  initCluster(join(dir, 'cluster.json'))
  cluster = await loadCluster(join(dir, 'cluster.json'))
  const [port] = await freePorts(1)
  node = { port: port!, dataDir: join(dir, 'node'), url: `https://127.0.0.1:${port}`, log: '' }
  await startNode(node, cluster.path)
  fetch = createClusterFetch(cluster)
}, 90_000)

afterAll(async () => {
  fetch?.close()
  if (node) await stopNode(node)
  if (dir) await rm(dir, { recursive: true, force: true })
})

/** kill -9, then start again on the same data dir and port. */
async function killAndRestart(): Promise<void> {
  const child = node.child!
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGKILL')
  await exited
  node.child = undefined
  await startNode(node, cluster.path)
}

/** A request signed now, to be sent (and sent again) as is. */
function captured(method: string, target: string): { send: () => Promise<Response> } {
  const { headers } = signRequest(platform, deriveRequestKey(platform, cluster.secret), {
    method,
    target,
    content: EMPTY_SHA256(platform),
  })
  return { send: () => fetch(new Request(node.url + target, { method, headers })) }
}

describe('replays across a node restart', () => {
  it('a shard DELETE captured before a kill -9 and restart is refused after it, and the shard stays', async () => {
    const store = createRemoteStore({ url: node.url, secret: cluster.secret, fetch, timeoutMs: 10_000, platform })
    const first = randomBytes(40_000)
    await store.put('victim.0', streamFromBytes(first, 8192))

    const del = captured('DELETE', '/v1/shards/victim.0')
    const health = captured('GET', '/v1/health')
    expect((await del.send()).status).toBe(204)
    expect((await health.send()).status).toBe(200)
    expect(await store.stat('victim.0')).toBeUndefined()
    // Replayed while the node runs: the nonce cache refuses it (as before).
    expect((await del.send()).status).toBe(401)

    // The shard is written again; then the node dies without a chance to save anything.
    const second = randomBytes(50_000)
    await store.put('victim.0', streamFromBytes(second, 8192))
    await killAndRestart()

    const replayed = await del.send()
    expect(replayed.status).toBe(401)
    expect(await replayed.text()).toContain('replay floor')
    expect((await health.send()).status).toBe(401)

    // Requests signed after the restart go through (bounded: until the signer's clock passes the mark).
    const fresh = createRemoteStore({ url: node.url, secret: cluster.secret, fetch, timeoutMs: 10_000, platform })
    await waitFor('fresh requests accepted after the restart', () => fresh.healthy(), 10_000)
    expect(await fresh.stat('victim.0')).toBeGreaterThan(0)
    const back = await readAll(fresh.get('victim.0', 0, second.length), second.length)
    expect(Buffer.from(back).equals(second)).toBe(true)
    expect(node.log).toContain('dated at or before the replay floor')
  })

  it('the mark is a small file in the node data dir, at or past every date the node accepted', async () => {
    const before = Date.now()
    expect((await captured('GET', '/v1/health').send()).status).toBe(200)
    const text = await readFile(join(node.dataDir, 'replay-mark'), 'utf8')
    expect(text).toMatch(/^\d{16}\n$/)
    expect(Number(text)).toBeGreaterThanOrEqual(before)
  })
})
