/**
 * Shard files that hold another valid shard — another object's, or another index of the same
 * object — against a real gateway, embedded (6 drives) and over 6 `coffer node` processes, in a
 * namespace with D@RE and one without: GETs answer the right bytes (from parity), never another
 * object's bytes nor a 500, and one `coffer admin heal run` puts every file back as written (a
 * second run finds nothing). Plus damage spread over three shards in different stripes (4+2).
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminJson, tenant } from '../helpers/admin.ts'
import { freePorts, initCluster, type NodeProc, startNode, stopNode } from '../helpers/nodes.ts'
import { bucketName, s3Client } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'
import {
  blockRanges,
  flipBytesAt,
  getBytes,
  type Health,
  listShards,
  objectBytes,
  putObj,
  sha256,
  snapshotFiles,
} from '../helpers/shards.ts'

const MiB = 1024 * 1024
/** Three stripes of the default 1 MiB (4 × 256 KiB), the last one short. */
const SIZE = 2 * MiB + 4099
/** Only `heal run` repairs here: the background healer and scrubber wait an hour. */
const QUIET = { COFFER_HEAL_INTERVAL_MS: '3600000', COFFER_SCRUB_INTERVAL_MS: '3600000' }

/** Write ids present under `roots`. */
async function writeIds(roots: string[]): Promise<Set<string>> {
  return new Set((await listShards(roots)).map((f) => f.writeId))
}

/** PUTs objectBytes(key, size) and returns the write id its shards carry (the one id that appeared). */
async function putFinding(s3: S3Client, bucket: string, key: string, size: number, roots: string[]): Promise<string> {
  const before = await writeIds(roots)
  await putObj(s3, bucket, key, size)
  const fresh = [...(await writeIds(roots))].filter((id) => !before.has(id))
  expect(fresh, `write ids of ${key}`).toHaveLength(1)
  return fresh[0]!
}

/** Path of shard `index` of write `id`, wherever it was placed. */
async function shardPath(roots: string[], id: string, index: number): Promise<string> {
  const f = (await listShards(roots)).find((s) => s.writeId === id && s.index === index)
  if (!f) throw new Error(`no shard ${id}.${index} under ${roots.join(', ')}`)
  return f.path
}

/** Exchanges the contents of two shard files: each then holds a valid shard, of the other. */
async function swapContents(a: string, b: string): Promise<void> {
  const [x, y] = await Promise.all([readFile(a), readFile(b)])
  await Promise.all([writeFile(a, y), writeFile(b, x)])
}

async function allShardPaths(roots: string[], ids: string[]): Promise<string[]> {
  return (await listShards(roots)).filter((f) => ids.includes(f.writeId)).map((f) => f.path)
}

async function expectUnchanged(before: Map<string, Buffer>): Promise<void> {
  for (const [path, bytes] of before) expect((await readFile(path)).equals(bytes), path).toBe(true)
}

async function healRun(server: TestServer): Promise<Health> {
  return adminJson<Health>(server, ['heal', 'run'])
}

const found = (h: Health) => ({
  shardsRebuilt: h.stats.shardsRebuilt,
  corruptShardsFound: h.stats.corruptShardsFound,
  missingShardsFound: h.stats.missingShardsFound,
  healFailures: h.stats.healFailures,
})

/** Reads an object whole and a range across a stripe boundary; both must be its own bytes. */
async function readsBack(s3: S3Client, bucket: string, key: string): Promise<void> {
  const want = objectBytes(key, SIZE)
  const got = await getBytes(s3, bucket, key)
  expect(got.length, key).toBe(SIZE)
  expect(sha256(got), key).toBe(sha256(want))
  const ranged = await getBytes(s3, bucket, key, `bytes=${MiB - 10}-${2 * MiB + 9}`)
  expect(ranged.equals(want.subarray(MiB - 10, 2 * MiB + 10)), `${key} range`).toBe(true)
}

/**
 * In one namespace: A and B swap shard 1 (between objects), C swaps shards 0 and 2 (one object),
 * D swaps shards 1 and 5 and is never read (only the scrub of `heal run` can find it).
 */
function swappedShards(setup: () => { server: TestServer; roots: string[] }) {
  for (const encryption of ['off', 'on'] as const) {
    it(`D@RE ${encryption}: swapped shards read right from parity, and one heal run puts them back`, async () => {
      const { server, roots } = setup()
      const creds = await tenant(server, `ns-swap-${encryption}`, encryption)
      const s3 = s3Client(server, creds)
      try {
        const bucket = bucketName(`swap-${encryption}`)
        await s3.send(new CreateBucketCommand({ Bucket: bucket }))
        const keys = ['a', 'b', 'c', 'd'].map((k) => `${k}-${encryption}`)
        const ids: string[] = []
        for (const key of keys) ids.push(await putFinding(s3, bucket, key, SIZE, roots))
        const [a, b, c, d] = ids as [string, string, string, string]
        const before = await snapshotFiles(await allShardPaths(roots, ids))
        expect(before.size).toBe(4 * 6)

        await swapContents(await shardPath(roots, a, 1), await shardPath(roots, b, 1))
        await swapContents(await shardPath(roots, c, 0), await shardPath(roots, c, 2))
        await swapContents(await shardPath(roots, d, 1), await shardPath(roots, d, 5))

        for (const key of keys.slice(0, 3)) await readsBack(s3, bucket, key)

        const first = await healRun(server)
        expect(first.healBacklog).toBe(0)
        await expectUnchanged(before)
        for (const key of keys) await readsBack(s3, bucket, key)
        const second = await healRun(server)
        expect(found(second)).toEqual(found(first))
      } finally {
        s3.destroy()
      }
    })
  }
}

describe('misplaced shard files, embedded (6 drives, 4+2)', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer({ env: QUIET })
  })
  afterAll(async () => {
    await server?.stop()
  })

  swappedShards(() => ({ server, roots: [server.dataDir] }))

  it('one bad block in each of three shards, in different stripes: GET whole, heal rewrites exactly those', async () => {
    const s3 = s3Client(server)
    try {
      const roots = [server.dataDir]
      const bucket = bucketName('stripes')
      await s3.send(new CreateBucketCommand({ Bucket: bucket }))
      const size = 6 * MiB + 1 // seven stripes
      const key = 'spread'
      const id = await putFinding(s3, bucket, key, size, roots)
      const paths = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => shardPath(roots, id, i)))
      const before = await snapshotFiles(paths)
      // Data shard 0 in stripe 1, data shard 2 in stripe 3, parity shard 4 in stripe 5.
      for (const [shard, stripe] of [
        [0, 1],
        [2, 3],
        [4, 5],
      ] as const) {
        const [start] = (await blockRanges(paths[shard]!))[stripe]!
        await flipBytesAt(paths[shard]!, [start + 1000])
      }
      const inodes = await Promise.all([1, 3, 5].map(async (i) => (await stat(paths[i]!)).ino))
      const got = await getBytes(s3, bucket, key)
      expect(got.length).toBe(size)
      expect(sha256(got)).toBe(sha256(objectBytes(key, size)))

      const h = await healRun(server)
      expect(h.healBacklog).toBe(0)
      await expectUnchanged(before)
      // The three good shards are the very same files: only the damaged ones were rewritten.
      expect(await Promise.all([1, 3, 5].map(async (i) => (await stat(paths[i]!)).ino))).toEqual(inodes)
    } finally {
      s3.destroy()
    }
  })
})

describe('misplaced shard files over 6 storage-node processes (4+2)', () => {
  let root: string
  let nodes: NodeProc[] = []
  let gateway: TestServer

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'coffer-misplaced-'))
    const cluster = join(root, 'cluster.json')
    initCluster(cluster)
    const ports = await freePorts(6)
    nodes = ports.map((port, i) => ({
      port,
      dataDir: join(root, `node-${i}`),
      url: `https://127.0.0.1:${port}`,
      log: '',
    }))
    await Promise.all(nodes.map((n) => startNode(n, cluster)))
    gateway = await startServer({
      dataDir: join(root, 'gateway'),
      args: ['--cluster', cluster, '--nodes', nodes.map((n) => n.url).join(',')],
      env: QUIET,
    })
  }, 120_000)
  afterAll(async () => {
    await gateway?.stop()
    await Promise.all(nodes.map((n) => stopNode(n)))
    if (root) await rm(root, { recursive: true, force: true })
  })

  swappedShards(() => ({ server: gateway, roots: nodes.map((n) => n.dataDir) }))
})
