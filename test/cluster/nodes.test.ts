/**
 * Distributed mode with real processes: 6 `coffer node`s and a gateway over them (4+2). Nodes are
 * killed with -9, wiped and restarted; every answer is checked with the SDK and on the nodes' disks.
 */
import { cp, readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'node:https'
import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { freePorts, type NodeProc as HelperNode, initCluster, startNode, stopNode } from '../helpers/nodes.ts'
import { startServer, type TestServer, whenLogged } from '../helpers/server.ts'
import {
  getBytes,
  getHealth,
  incomplete,
  listShards,
  objectBytes,
  pool,
  putObj,
  seededRandom,
  sha256,
  verifyAll,
  verifyRanges,
  verifyWhole,
  waitFor,
  type Obj,
} from '../helpers/shards.ts'

const MiB = 1024 * 1024
const NODES = 6
const SHARDS = 6 // 4+2 over 6 nodes: every node holds one shard of every write
const SEED = Number(process.env.COFFER_TEST_SEED ?? Date.now() % 100_000)
/** A failure answer must come this fast: "fail fast", never a hang. */
const FAST_MS = 5_000

/** A node process of this suite, numbered for the messages. */
interface NodeProc extends HelperNode {
  index: number
}

/** A request to a node with no cluster signature; resolves with the status. */
/** A request without a client certificate: the HTTP status, or the error that ended it (a refused handshake). */
function unsignedNodeRequest(node: NodeProc, caPem: string, path: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port: node.port, path, method: 'GET', ca: caPem, agent: false, timeout: 10_000 },
      (res) => {
        res.resume().on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')))
    req.on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message))
    req.end()
  })
}

describe('storage nodes: 6 node processes + gateway (4+2)', () => {
  let root: string
  let clusterFile: string
  let nodes: NodeProc[] = []
  let gateway: TestServer | undefined
  let s3: S3Client
  const Bucket = bucketName('nodes')
  const objects: Obj[] = []
  let ids = new Set<string>()
  const nodeDirs = () => nodes.map((n) => n.dataDir)

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'coffer-nodes-'))
    clusterFile = join(root, 'cluster.json')
    initCluster(clusterFile)
    const ports = await freePorts(NODES)
    nodes = ports.map((port, index) => ({
      index,
      port,
      dataDir: join(root, `node-${index}`),
      url: `https://127.0.0.1:${port}`,
      log: '',
    }))
    await Promise.all(nodes.map((n) => startNode(n, clusterFile)))
    gateway = await startServer({
      dataDir: join(root, 'gateway'),
      args: ['--cluster', clusterFile, '--nodes', nodes.map((n) => n.url).join(',')],
      env: {
        // Shards only: these cases count shards on the nodes and take nodes away; objects at or
        // under --inline-max would live in the gateway's metadata instead.
        COFFER_INLINE_MAX: '0',
        COFFER_SCRUB_INTERVAL_MS: '1000',
        COFFER_HEAL_INTERVAL_MS: '200',
        COFFER_SCRUB_DEEP_BYTES: '0',
        COFFER_READ_TIMEOUT_MS: '2000',
      },
    })
    s3 = s3Client(gateway)
    await s3.send(new CreateBucketCommand({ Bucket }))
  }, 120_000)
  afterAll(async () => {
    s3?.destroy()
    await gateway?.stop()
    await Promise.all(nodes.map((n) => stopNode(n)))
    if (root) await rm(root, { recursive: true, force: true })
  })

  it('the gateway runs over the nodes, and a node refuses a client without a cluster certificate', async () => {
    const h = await getHealth(gateway!)
    expect(h.ec).toBe('4+2')
    expect(h.stores).toHaveLength(NODES)
    expect(h.stores.every((s) => s.up)).toBe(true)
    // Not the embedded drives: --nodes must not be ignored.
    expect(h.stores.some((s) => /^drive-\d+$/.test(s.id))).toBe(false)
    const ca = JSON.parse(await readFile(clusterFile, 'utf8')).caCert as string
    for (const path of ['/v2/health', '/v2/list', '/v2/stat/x.0', '/v2/shards/x.0']) {
      // Mutual TLS: no HTTP answer at all, the handshake is refused.
      expect(String(await unsignedNodeRequest(nodes[0]!, ca, path)), path).toMatch(/CERTIFICATE_REQUIRED|ECONNRESET/)
    }
  })

  it(`stores 200 objects of 0 B … 20 MiB, some multipart (seed ${SEED}); 6 shards each on the nodes' disks`, async () => {
    const rand = seededRandom(SEED)
    const plan: { key: string; size: number; multipart?: boolean }[] = [
      0,
      1,
      256 * 1024 - 1,
      256 * 1024 + 1,
      MiB - 1,
      MiB + 1,
      20 * MiB,
    ].map((size, i) => ({ key: `edge/${i}`, size }))
    for (let i = 0; i < 149; i++) plan.push({ key: `small/${i}`, size: Math.floor(rand() * 256 * 1024) })
    // About 110 MiB in all: enough for every shape, small enough for CI's 2 cores.
    for (let i = 0; i < 37; i++) plan.push({ key: `medium/${i}`, size: 256 * 1024 + Math.floor(rand() * 1.5 * MiB) })
    for (let i = 0; i < 4; i++) plan.push({ key: `large/${i}`, size: 2 * MiB + Math.floor(rand() * 6 * MiB) })
    for (const [i, size] of [20 * MiB, 6 * MiB, 5 * MiB + 1].entries())
      plan.push({ key: `mpu/${i}`, size, multipart: true })
    expect(plan).toHaveLength(200)
    await pool(plan, 4, async (p) => void objects.push(await putObj(s3, Bucket, p.key, p.size, p.multipart)))

    const files = await listShards(nodeDirs())
    ids = new Set(files.map((f) => f.writeId))
    expect(ids.size).toBeGreaterThanOrEqual(plan.length)
    expect(incomplete(files, ids, SHARDS)).toEqual([])
    for (const n of nodes)
      expect(
        files.filter((f) => f.drive.startsWith(`${n.dataDir}/`)),
        `node ${n.index}`,
      ).toHaveLength(ids.size)
    await verifyWhole(s3, Bucket, objects)
  })

  it('kill -9 two nodes: every object reads back with the same SHA-256, ranges included', async () => {
    await Promise.all([1, 4].map((i) => stopNode(nodes[i]!, 'SIGKILL')))
    // Degraded vs healthy read speed is measured in bench/s3.ts.
    await verifyWhole(s3, Bucket, objects)
    await verifyRanges(
      s3,
      Bucket,
      objects.filter((o) => o.size >= 2 * MiB),
    )
    // Store health is cached for up to a second on the gateway.
    await waitFor(
      '2 nodes reported down',
      async () => ((await getHealth(gateway!)).stores.filter((s) => !s.up).length === 2 ? true : 'not yet'),
      10_000,
    )
    const h = await getHealth(gateway!)
    expect(h.stats.degradedReads).toBeGreaterThan(0)
  })

  it('one node down: writes succeed; the node comes back wiped; the healer restores 6 shards of every write', async () => {
    await startNode(nodes[4]!, clusterFile) // back with its shards; node 1 stays down
    await waitFor(
      '5 nodes up',
      async () => ((await getHealth(gateway!)).stores.filter((s) => s.up).length === 5 ? true : 'not yet'),
      15_000,
    )
    const written: Obj[] = []
    for (const [i, size] of [0, 1000, 300_000, 3 * MiB + 1].entries())
      written.push(await putObj(s3, Bucket, `while-down/${i}`, size))
    written.push(await putObj(s3, Bucket, 'while-down/mpu', 12 * MiB, true))
    await verifyAll(s3, Bucket, written)
    objects.push(...written)

    // Node 1 returns with an empty drive (a replaced disk): everything it held must be rebuilt.
    const lostDrive = join(nodes[1]!.dataDir, 'drive')
    await cp(lostDrive, join(root, 'node-1-before'), { recursive: true })
    await rm(lostDrive, { recursive: true, force: true })
    await startNode(nodes[1]!, clusterFile)
    ids = new Set((await listShards(nodeDirs())).map((f) => f.writeId))
    await waitFor(
      'every write to have 6 shards on the nodes',
      async () => {
        const short = incomplete(await listShards(nodeDirs()), ids, SHARDS)
        return short.length === 0 ? true : `${short.length} of ${ids.size} writes short of 6 shards`
      },
      90_000,
      500,
    )
    const rebuilt = (await listShards(nodes[1]!.dataDir)).reduce((n, f) => n + f.size, 0)
    const h = await getHealth(gateway!)
    console.log(
      `healed node 1: ${(rebuilt / MiB).toFixed(1)} MiB of shards (${ids.size} writes); stats ${JSON.stringify(h.stats)}`,
    )
    // Each rebuilt shard file is byte-identical to the one the wiped drive held.
    const before = await listShards(join(root, 'node-1-before'))
    expect(before.length).toBeGreaterThan(0)
    for (const f of before) {
      const now = join(lostDrive, f.path.slice(join(root, 'node-1-before').length))
      expect((await readFile(now)).equals(await readFile(f.path)), now).toBe(true)
    }
    expect(h.stats.shardsRebuilt).toBeGreaterThanOrEqual(before.length)
    expect(h.stats.degradedWrites).toBeGreaterThan(0)
  })

  it('three nodes down: writes get 503 within seconds and nothing appears; reads 503, never a hang', async () => {
    await Promise.all([0, 2, 5].map((i) => stopNode(nodes[i]!, 'SIGKILL')))
    // Store health is cached for up to a second on the gateway.
    await waitFor(
      '3 nodes reported down',
      async () => ((await getHealth(gateway!)).stores.filter((s) => !s.up).length === 3 ? true : 'not yet'),
      10_000,
    )
    const h = await getHealth(gateway!)
    expect(h.httpStatus).toBe(503)
    expect(h.status).toBe('degraded')
    for (const [key, size] of [
      ['new/tiny', 1000],
      ['new/bigger', 3 * MiB],
    ] as const) {
      const once = s3Client(gateway!) // its own connection: see the keep-alive note in embedded-durability
      const t0 = Date.now()
      const err = await sdkError(once.send(new PutObjectCommand({ Bucket, Key: key, Body: objectBytes(key, size) })))
      once.destroy()
      expect({ key, status: err.status }).toEqual({ key, status: 503 })
      expect(Date.now() - t0).toBeLessThan(FAST_MS)
      expect((await sdkError(s3.send(new HeadObjectCommand({ Bucket, Key: key })))).status).toBe(404)
    }
    // Each refused write is a warning in the gateway's log, with why (the nodes it could not use).
    const refusals = await whenLogged(gateway!, 'request refused', (l) => l.level === 'warn' && l.status === 503, 2)
    expect(refusals.length).toBeGreaterThanOrEqual(2)
    expect(String(refusals.at(-1)!.error)).toMatch(/\S/)
    const keys: string[] = []
    let token: string | undefined
    for (let page = 0; page < 10; page++) {
      const r = await s3.send(new ListObjectsV2Command({ Bucket, ContinuationToken: token }))
      keys.push(...(r.Contents ?? []).map((c) => c.Key!))
      if (!r.IsTruncated) break
      token = r.NextContinuationToken
    }
    expect(keys.sort()).toEqual(objects.map((o) => o.key).sort())
    // An object spanning all k data blocks needs 4 shards and only 3 nodes are up: 503, fast.
    // One that fits in its first block needs only that shard: correct bytes or 503, never wrong.
    let unavailable = 0
    for (const o of objects.filter((x) => x.size > 0).slice(0, 40)) {
      const t0 = Date.now()
      const r = await getBytes(s3, Bucket, o.key).then(
        (b) => ({ bytes: b }),
        (e) => ({ status: e?.$metadata?.httpStatusCode as number }),
      )
      expect(Date.now() - t0, o.key).toBeLessThan(FAST_MS)
      if ('bytes' in r) {
        expect(o.size, `${o.key} read with 3 of 6 nodes down`).toBeLessThanOrEqual(256 * 1024)
        expect(sha256(r.bytes), o.key).toBe(o.sha)
      } else {
        expect(r.status, o.key).toBe(503)
        unavailable++
      }
    }
    expect(unavailable).toBeGreaterThan(0)
  })

  it('nodes back, then 2 others down: the rebuilt node serves its shards, everything reads back', async () => {
    await Promise.all([0, 2, 5].map((i) => startNode(nodes[i]!, clusterFile)))
    await Promise.all([3, 5].map((i) => stopNode(nodes[i]!, 'SIGKILL')))
    // Up: 0, 1 (rebuilt), 2, 4 — exactly k, so every read needs node 1's rebuilt shard.
    await waitFor(
      '4 nodes up',
      async () => ((await getHealth(gateway!)).stores.filter((s) => s.up).length === 4 ? true : 'not yet'),
      15_000,
    )
    // A sample (the rebuilt files were compared byte for byte above): all big ones, every 4th small one.
    await verifyAll(
      s3,
      Bucket,
      objects.filter((o, i) => o.size >= MiB || i % 4 === 0),
      4,
    )
  })
})
