/**
 * The lifecycle worker on two gateways sharing one sqld (`coffer meta-server`) and six `coffer
 * node`s (issue 16): both run it, the lease lets one work the passes (the other's rounds stay at
 * zero), every due object expires once, and a versioned bucket gets exactly one delete marker per
 * key. Lifecycle days are one second (COFFER_LIFECYCLE_DAY_SECONDS, a test setting) and rounds
 * small, so a pass takes many rounds and both gateways have every chance to step in.
 */
import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCluster, type TestCluster } from '../helpers/cluster.ts'
import { rawRequest } from '../helpers/raw.ts'
import { bucketName, s3Client } from '../helpers/s3-client.ts'
import { pool, waitFor } from '../helpers/shards.ts'
import type { TestServer } from '../helpers/server.ts'

const NODES = 6
const PLAIN_KEYS = 40
const VERSIONED_KEYS = 20

interface Status {
  running: boolean
  lastPass?: { startedAt: number; endedAt: number }
  totals: { expired: number; passes: number }
  lease?: { holder: string; until: number }
  gateway: { worker: string; rounds: number }
}

describe('lifecycle on two gateways sharing one sqld', () => {
  let cluster: TestCluster
  const gateways: TestServer[] = []
  const clients: S3Client[] = []

  beforeAll(async () => {
    cluster = await startCluster({
      name: 'lc-gateways',
      nodes: NODES,
      meta: true,
      env: {
        COFFER_LIFECYCLE_DAY_SECONDS: '1',
        COFFER_LIFECYCLE_INTERVAL_MS: '300',
        COFFER_LIFECYCLE_BATCH: '4',
        COFFER_LIFECYCLE_PAUSE_MS: '20',
        // No pacing by load: the test's own polling would stretch every pass (budget.test.ts covers it).
        COFFER_LIFECYCLE_BUSY_PERCENT: '100',
      },
    })
    gateways.push(...(await Promise.all([cluster.startGateway('gw-a'), cluster.startGateway('gw-b')])))
    clients.push(...gateways.map((g) => s3Client(g)))
  }, 180_000)

  afterAll(async () => {
    for (const c of clients) c.destroy()
    await cluster?.stop()
  })

  const status = async (g: number): Promise<Status> => {
    const r = await rawRequest(gateways[g]!, { method: 'GET', path: '/_coffer/admin/lifecycle' })
    expect(r.status, r.body).toBe(200)
    return JSON.parse(r.body) as Status
  }

  it('one gateway works the passes, every due object expires once, one delete marker per key', async () => {
    const plain = bucketName('lcgw-plain')
    const versioned = bucketName('lcgw-ver')
    await clients[0]!.send(new CreateBucketCommand({ Bucket: plain }))
    await clients[1]!.send(new CreateBucketCommand({ Bucket: versioned }))
    await clients[0]!.send(
      new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }),
    )
    const puts = [
      ...Array.from({ length: PLAIN_KEYS }, (_, i) => ({ Bucket: plain, Key: `p/${i}`, g: i % 2 })),
      ...Array.from({ length: VERSIONED_KEYS }, (_, i) => ({ Bucket: versioned, Key: `v/${i}`, g: i % 2 })),
    ]
    await pool(puts, 4, async ({ Bucket, Key, g }) => {
      await clients[g]!.send(new PutObjectCommand({ Bucket, Key, Body: Key }))
    })
    // Both buckets' rules at once, through different gateways: "after one (one-second) day".
    const expireAll = {
      Rules: [{ ID: 'all', Status: 'Enabled' as const, Filter: { Prefix: '' }, Expiration: { Days: 1 } }],
    }
    await Promise.all([
      clients[1]!.send(
        new PutBucketLifecycleConfigurationCommand({ Bucket: plain, LifecycleConfiguration: expireAll }),
      ),
      clients[0]!.send(
        new PutBucketLifecycleConfigurationCommand({ Bucket: versioned, LifecycleConfiguration: expireAll }),
      ),
    ])

    // While passes run, the lease names one gateway's worker throughout.
    const holders = new Set<string>()
    await waitFor(
      'every due object expired',
      async () => {
        const [a, b] = await Promise.all([status(0), status(1)])
        for (const s of [a, b]) if (s.running && s.lease) holders.add(s.lease.holder)
        if (a.totals.expired >= PLAIN_KEYS + VERSIONED_KEYS && !a.running) return true
        // What the gateways said, should it time out (a worker that fails logs why).
        return `${a.totals.expired} expired, ${JSON.stringify(a)}; gateway logs: ${gateways.map((g) => g.stderr().slice(-400)).join(' | ')}`
      },
      60_000,
      100,
    )
    const [a, b] = await Promise.all([status(0), status(1)])
    const workers = [a.gateway.worker, b.gateway.worker]
    expect(holders.size).toBe(1)
    expect(workers).toContain([...holders][0])
    // The other gateway ran its worker too, but never worked a round of a pass.
    const rounds = [a.gateway.rounds, b.gateway.rounds]
    expect(rounds.filter((r) => r > 0)).toHaveLength(1)
    expect(rounds[workers.indexOf([...holders][0]!)]).toBeGreaterThan((PLAIN_KEYS + VERSIONED_KEYS) / 4 - 1)
    // Each due object expired exactly once: no pass counted one twice, none was missed.
    expect(a.totals.expired).toBe(PLAIN_KEYS + VERSIONED_KEYS)
    expect(b.totals).toEqual(a.totals)
    for (const g of [0, 1])
      for (const { Bucket, Key } of puts) {
        const head = await clients[g]!.send(new HeadObjectCommand({ Bucket, Key })).then(
          () => 200,
          (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode,
        )
        expect(head, `${Bucket}/${Key} through gateway ${g}`).toBe(404)
      }
    // The versioned bucket: every key kept its version, hidden by exactly one delete marker.
    const listed = await clients[1]!.send(new ListObjectVersionsCommand({ Bucket: versioned }))
    const markers = new Map<string, number>()
    for (const m of listed.DeleteMarkers ?? []) markers.set(m.Key!, (markers.get(m.Key!) ?? 0) + 1)
    expect(listed.IsTruncated).toBe(false)
    expect(listed.Versions?.length).toBe(VERSIONED_KEYS)
    expect(markers.size).toBe(VERSIONED_KEYS)
    expect([...markers.values()].every((n) => n === 1)).toBe(true)
    expect(listed.DeleteMarkers?.every((m) => m.IsLatest)).toBe(true)
  }, 150_000)
})
