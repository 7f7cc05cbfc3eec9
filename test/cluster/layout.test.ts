/**
 * The cluster layout as data, with real processes: seven `coffer node`s, sqld (`coffer
 * meta-server`) and two gateways sharing it (2+1). The layout is bootstrapped from `--nodes`,
 * changed through gateway A (`coffer admin node …`) and followed by gateway B; where each write's
 * shards went is checked on the nodes' disks, and every object is read back after each step.
 */
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminJson, adminRun } from '../helpers/admin.ts'
import { startCluster, type TestCluster } from '../helpers/cluster.ts'
import { freePorts, type NodeProc } from '../helpers/nodes.ts'
import { bucketName, s3Client } from '../helpers/s3-client.ts'
import type { TestServer } from '../helpers/server.ts'
import { byWriteId, listShards, type Obj, putObj, verifyWhole, waitFor } from '../helpers/shards.ts'

const MiB = 1024 * 1024
const NODES = 7 // 0…5 bootstrap the layout (--nodes); 6 is added later
const ZONE_OF = ['a', 'a', 'b', 'b', 'c', 'c', 'c']

interface LayoutAnswer {
  version: number
  nodes: { id: string; address: string; capacity: number; zone: string; rack?: string; state: string }[]
  zones: string[]
  worstZoneShare: number
  zoneLossSafe: boolean
}

describe('cluster layout: 7 node processes, sqld, two gateways (2+1)', () => {
  let cluster: TestCluster
  let nodes: NodeProc[] = []
  const gateways: TestServer[] = []
  const clients: S3Client[] = []
  const Bucket = bucketName('layout')
  const stored: Obj[] = []
  /** Write ids already seen on the nodes' disks: the writes of a step are the new ones. */
  const seen = new Set<string>()

  const url = (i: number) => nodes[i]!.url
  const layoutOf = (g: TestServer) => adminJson<LayoutAnswer>(g, ['layout', 'show'])
  /** Gateway B follows a change made through A within seconds. */
  const bFollows = async (version: number) =>
    waitFor(
      `gateway B at layout version ${version}`,
      async () => (await layoutOf(gateways[1]!)).version === version || false,
      15_000,
      250,
    )

  /** Writes `n` objects through `client`; returns, per new write id, the node indexes holding its shards. */
  async function writeStep(tag: string, n: number, client: S3Client): Promise<Map<string, number[]>> {
    for (let i = 0; i < n; i++)
      stored.push(await putObj(client, Bucket, `${tag}/${i}`, i % 4 === 0 ? 3 * MiB + 17 : 64 * 1024 + i))
    const shards = byWriteId(await listShards(nodes.map((x) => x.dataDir)))
    const out = new Map<string, number[]>()
    for (const [id, files] of shards) {
      if (seen.has(id)) continue
      seen.add(id)
      out.set(
        id,
        files.map((f) => nodes.findIndex((x) => f.drive.startsWith(x.dataDir))),
      )
    }
    expect(out.size, `new writes of ${tag}`).toBe(n)
    return out
  }

  /** Every object stored so far reads back whole and unchanged through both gateways. */
  const verifyEverything = async () => {
    for (const c of clients) await verifyWhole(c, Bucket, stored)
  }

  beforeAll(async () => {
    cluster = await startCluster({
      name: 'layout',
      nodes: NODES,
      listed: 6,
      meta: true,
      ec: '2+1',
      // The mover off: these steps look at where new writes go and at a drained node still holding shards.
      env: { COFFER_REBALANCE_RATE: '0' },
    })
    nodes = cluster.nodes
    // Started together: both find no layout and race to record the bootstrap one.
    gateways.push(...(await Promise.all([cluster.startGateway('gw-a'), cluster.startGateway('gw-b')])))
    clients.push(...gateways.map((g) => s3Client(g)))
    await clients[0]!.send(new CreateBucketCommand({ Bucket }))
  }, 180_000)

  afterAll(async () => {
    for (const c of clients) c.destroy()
    await cluster?.stop()
  }, 60_000)

  it('bootstraps one layout from --nodes (each node its own zone); writes go to 3 distinct nodes', async () => {
    for (const g of gateways) {
      const l = await layoutOf(g)
      expect(l.version).toBe(1)
      expect(l.nodes.map((n) => [n.id, n.zone, n.state])).toEqual(
        nodes.slice(0, 6).map((n) => [n.url, n.url, 'active']),
      )
      expect(l.zoneLossSafe).toBe(true)
    }
    const writes = await writeStep('bootstrap', 12, clients[0]!)
    for (const [id, on] of writes) {
      expect(new Set(on).size, id).toBe(3)
      expect(
        on.every((i) => i >= 0 && i < 6),
        id,
      ).toBe(true)
    }
    await verifyEverything()
  }, 120_000)

  it('zones set through gateway A: B follows, and every new write has its 3 shards in 3 zones', async () => {
    for (let i = 0; i < 6; i++) await adminJson(gateways[0]!, ['node', 'add', url(i), '--zone', ZONE_OF[i]!])
    const l = await layoutOf(gateways[0]!)
    expect(l.version).toBe(7)
    expect(l.zones).toEqual(['a', 'b', 'c'])
    expect(l.worstZoneShare).toBe(1)
    await bFollows(7)
    const writes = await writeStep('zoned', 24, clients[1]!)
    for (const [id, on] of writes) expect(new Set(on.map((i) => ZONE_OF[i])).size, id).toBe(3)
    await verifyEverything()
  }, 180_000)

  it('node add: new writes through B use the new node at once, still one shard per zone', async () => {
    // Heavier than the others (4T against 1T): it wins most of zone c's shards.
    await adminJson(gateways[0]!, ['node', 'add', url(6), '--zone', 'c', '--rack', 'r2', '--capacity', '4T'])
    await bFollows(8)
    const writes = await writeStep('added', 24, clients[1]!)
    let onNew = 0
    for (const [id, on] of writes) {
      expect(new Set(on.map((i) => ZONE_OF[i])).size, id).toBe(3)
      if (on.includes(6)) onNew++
    }
    expect(onNew).toBeGreaterThan(6)
    await verifyEverything()
  }, 180_000)

  it('a drained node and a node with no capacity left (full) take no new shard; their old ones are still read', async () => {
    await adminJson(gateways[0]!, ['node', 'drain', url(0)])
    await adminJson(gateways[0]!, ['node', 'add', url(2), '--capacity', '0'])
    const l = await layoutOf(gateways[0]!)
    expect(l.nodes.find((n) => n.id === url(0))?.state).toBe('draining')
    // Zones b and c have 4 nodes with capacity: a whole zone can be lost, still 1 shard each.
    expect(l.zoneLossSafe).toBe(true)
    await bFollows(10)
    const writes = await writeStep('drained', 24, clients[1]!)
    for (const [id, on] of writes) {
      expect(on, id).not.toContain(0)
      expect(on, id).not.toContain(2)
      expect(new Set(on.map((i) => ZONE_OF[i])).size, id).toBe(3)
    }
    await verifyEverything()
  }, 180_000)

  it('node remove is refused while the node holds shards or is not drained; an empty drained node is removed', async () => {
    const refused = await adminRun(gateways[0]!, ['node', 'remove', url(0)]).then(
      () => 'removed',
      (e: { stderr: string }) => e.stderr,
    )
    expect(refused).toMatch(/still holds shards/)
    const active = await adminRun(gateways[0]!, ['node', 'remove', url(3)]).then(
      () => 'removed',
      (e: { stderr: string }) => e.stderr,
    )
    expect(active).toMatch(/drain it first/)
    // A node added with no capacity never gets a shard: drained, it can go.
    const [port] = await freePorts(1)
    const spare = `https://127.0.0.1:${port}`
    await adminJson(gateways[0]!, ['node', 'add', spare, '--zone', 'd', '--capacity', '0'])
    await adminJson(gateways[0]!, ['node', 'drain', spare])
    const after = await adminJson<LayoutAnswer>(gateways[0]!, ['node', 'remove', spare])
    expect(after.nodes.find((n) => n.id === spare)?.state).toBe('removed')
    await expect(adminRun(gateways[0]!, ['node', 'add', spare])).rejects.toMatchObject({
      stderr: expect.stringMatching(/never reused/),
    })
    await bFollows(after.version)
    await verifyEverything()
  }, 180_000)
})
