/**
 * The rebalance mover with real processes: six `coffer node`s (2+1, each its own zone), one
 * gateway. node add → shards move onto the new node; node drain → the node empties (checked on
 * its disk) and `node remove` succeeds; overwrites and deletes racing the moves lose nothing and
 * leave no dangling location; a gateway killed mid-move resumes after a restart. After every step
 * every object is read back whole (bytes and SHA-256), every shard is read and checked by a full
 * scrub (`coffer admin heal run`: none missing or corrupt), and each stored write has exactly its
 * 3 shard files on the nodes' disks — none lost, none left over once GC has run.
 */
import { join } from 'node:path'
import { CreateBucketCommand, DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { createClient } from '@libsql/client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { adminJson, adminRun } from '../helpers/admin.ts'
import { startCluster, type TestCluster } from '../helpers/cluster.ts'
import type { NodeProc } from '../helpers/nodes.ts'
import { bucketName, s3Client } from '../helpers/s3-client.ts'
import { httpsGet, type TestServer } from '../helpers/server.ts'
import {
  byWriteId,
  getHealth,
  listShards,
  type Obj,
  putObj,
  verifyWhole,
  waitFor,
  getBytes,
} from '../helpers/shards.ts'

const KiB = 1024
const MiB = 1024 * KiB
const NODES = 6 // 0…4 bootstrap the layout; 5 is added
/** Shard files per write at 2+1. */
const WIDTH = 3
/** Moves of the crash step take seconds each at this budget (bytes/s)… */
const SLOW_RATE = 200 * KiB
/** …and a 512 KiB shard of the race step sits on its target for about 12 s before its switch. */
const RACE_RATE = 40 * KiB

interface Status {
  enabled: boolean
  running: boolean
  layoutVersion: number
  currentPass?: Record<string, number | string>
  lastPass?: Record<string, number | string>
  totals: Record<string, number>
}

describe('rebalance mover: six node processes, one gateway (2+1)', () => {
  let cluster: TestCluster
  let nodes: NodeProc[] = []
  let gateway: TestServer
  let client: S3Client
  const Bucket = bucketName('rebalance')
  /** What every key must read back as; its segment count is its number of stored writes. */
  const live = new Map<string, Obj & { writes: number }>()

  const url = (i: number) => nodes[i]!.url

  /** stderr of every gateway started (restarts replace `gateway`): printed after a failed test. */
  const gatewayLogs: (() => string)[] = []

  async function startGateway(rate: number): Promise<void> {
    gateway = await cluster.startGateway('gw', { env: { COFFER_REBALANCE_RATE: String(rate) } })
    gatewayLogs.push(gateway.stderr)
    client = s3Client(gateway)
  }

  async function stopGateway(): Promise<void> {
    client.destroy()
    await gateway.kill('SIGTERM')
  }

  const put = async (key: string, size: number, multipart = false) => {
    const o = await putObj(client, Bucket, key, size, multipart)
    live.set(key, { ...o, writes: multipart ? Math.ceil(size / (5 * MiB)) : 1 })
  }

  const status = () => adminJson<Status>(gateway, ['layout', 'status'])

  /** The mover has finished a pass toward the layout in use and found nothing left to move. */
  const converged = () =>
    waitFor(
      'the mover to converge on the layout in use',
      async () => {
        const s = await status()
        const last = s.lastPass
        if (s.running || !last || last.layoutVersion !== s.layoutVersion) return JSON.stringify(s)
        return last.toMove === 0 || JSON.stringify(s)
      },
      180_000,
      500,
    )

  /**
   * What the gateway's metadata says of write ids on the disks that no row names (a failed wait
   * then names them): their gc_queue entries (reason, queued, leased until), write intents, and
   * the mover's moves in flight.
   */
  async function strays(onDisk: Iterable<string>): Promise<string> {
    const db = createClient({ url: `file:${join(cluster.root, 'gw', 'meta.db')}` })
    try {
      const rows = async (sql: string, args: string[] = []) => (await db.execute({ sql, args })).rows
      const NAMED = 'select 1 from objects where layout like ?1 union all select 1 from parts where layout like ?1'
      const out: string[] = []
      for (const id of onDisk) {
        const like = [`%"${id}"%`]
        if ((await rows(NAMED, like)).length > 0) continue
        const gc = await rows('select reason, enqueued_at, retry_at from gc_queue where layout like ?', like)
        const intent = await rows('select 1 from write_intents where id = ?', [id])
        out.push(`${id}: no row; gc_queue ${JSON.stringify(gc)}; intent ${intent.length > 0}`)
      }
      const state = await rows(`select value from settings where key = 'rebalance-state'`)
      const inflight = state[0] ? (JSON.parse(String(state[0].value)) as { inflight?: unknown }).inflight : undefined
      return [...out, `mover inflight ${JSON.stringify(inflight ?? [])}`].join('; ')
    } finally {
      db.close()
    }
  }

  /** Shard files per write id on every node's disk. */
  const onDisk = async () => byWriteId(await listShards(nodes.map((n) => n.dataDir)))
  /** A write has a 4th shard file: a copy is on its target and its switch not yet committed. */
  const copyPending = async () => [...(await onDisk()).values()].some((files) => files.length > WIDTH)
  const nodeOf = (path: string) => nodes.findIndex((n) => path.startsWith(n.dataDir))

  /**
   * Every stored write has exactly its 3 shards on 3 distinct nodes, and nothing else is on disk
   * (GC has removed what moves left behind), within a bounded wait.
   */
  const exactlyTheLiveShards = () =>
    waitFor(
      'exactly 3 shard files per live write on the disks',
      async () => {
        const shards = await onDisk()
        const expected = [...live.values()].reduce((n, o) => n + o.writes, 0)
        if (shards.size !== expected)
          return `${shards.size} write ids on disk, ${expected} live writes (${await strays(shards.keys())})`
        for (const [id, files] of shards) {
          const indexes = new Set(files.map((f) => f.index))
          const on = new Set(files.map((f) => nodeOf(f.path)))
          if (files.length !== WIDTH || indexes.size !== WIDTH || on.size !== WIDTH)
            return `${id}: ${files.map((f) => `${f.index}@${nodeOf(f.path)}`).join(' ')}`
        }
        return true
      },
      60_000,
      500,
    )

  /** Bytes and checksums of every object, then a scrub that reads every shard: none missing or corrupt. */
  async function verifyEverything(): Promise<void> {
    await verifyWhole(client, Bucket, [...live.values()])
    const before = (await getHealth(gateway)).stats
    await adminRun(gateway, ['heal', 'run'])
    const after = (await getHealth(gateway)).stats
    expect(after.missingShardsFound - before.missingShardsFound, 'shards missing').toBe(0)
    expect(after.corruptShardsFound - before.corruptShardsFound, 'shards corrupt').toBe(0)
  }

  const drainAndRemove = async (i: number) => {
    await waitFor(
      `node ${i} empty on disk`,
      async () => {
        const left = (await listShards(nodes[i]!.dataDir)).length
        return left === 0 || `${left} shard file(s) left`
      },
      120_000,
      500,
    )
    const after = await adminJson<{ nodes: { id: string; state: string }[] }>(gateway, ['node', 'remove', url(i)])
    expect(after.nodes.find((n) => n.id === url(i))?.state).toBe('removed')
  }

  beforeAll(async () => {
    cluster = await startCluster({
      name: 'rebalance',
      nodes: NODES,
      listed: 5,
      ec: '2+1',
      env: {
        COFFER_GC_GRACE_MS: '500',
        COFFER_REBALANCE_PAUSE_MS: '20',
        COFFER_REBALANCE_INTERVAL_MS: '1000',
        COFFER_SCRUB_INTERVAL_MS: '3600000',
      },
    })
    nodes = cluster.nodes
    await startGateway(64 * MiB)
    await client.send(new CreateBucketCommand({ Bucket }))
    for (let i = 0; i < 24; i++) await put(`base/${i}`, i % 6 === 0 ? 1 * MiB + 333 : 64 * KiB + 97 * i)
    await put('base/multipart', 11 * MiB, true)
    await verifyEverything()
  }, 240_000)

  afterEach((ctx) => {
    if (ctx.task.result?.state !== 'fail') return
    for (const [i, log] of gatewayLogs.entries())
      console.error(`gateway start ${i + 1}, stderr (last 8,000 characters):\n${log().slice(-8_000)}`)
  })

  afterAll(async () => {
    client?.destroy()
    await cluster?.stop()
  }, 60_000)

  it('node add: existing shards move onto the new node, about its share; every object reads back', async () => {
    const before = await onDisk()
    expect([...before.values()].flat().some((f) => nodeOf(f.path) === 5)).toBe(false)
    await adminJson(gateway, ['node', 'add', url(5)])
    await converged()
    const s = await status()
    const moved = Number(s.totals.moved)
    const shards = [...before.values()].flat().length
    // One node of six: a sixth of the shards is the ideal; rendezvous hashing comes close.
    expect(moved).toBeGreaterThan(0)
    expect(moved).toBeLessThan(shards / 2)
    expect(Number(s.totals.errors)).toBe(0)
    await exactlyTheLiveShards()
    const onNew = [...(await onDisk()).values()].flat().filter((f) => nodeOf(f.path) === 5)
    expect(onNew.length).toBe(moved)
    // The same progress in /_coffer/metrics.
    const metrics = (await httpsGet(gateway, '/_coffer/metrics')).body
    expect(metrics).toContain(`coffer_rebalance_moved_shards_total ${moved}\n`)
    await verifyEverything()
  }, 240_000)

  it('node drain: every shard leaves the node (on its disk), then node remove succeeds', async () => {
    const held = (await listShards(nodes[0]!.dataDir)).length
    expect(held).toBeGreaterThan(0)
    await adminJson(gateway, ['node', 'drain', url(0)])
    await converged()
    await drainAndRemove(0)
    await exactlyTheLiveShards()
    await verifyEverything()
  }, 240_000)

  it('overwrites and deletes racing the moves lose nothing and leave no dangling or stray shard', async () => {
    await stopGateway()
    await startGateway(RACE_RATE)
    // Keys that sort before every other: the mover's pass reaches them first. Each one's write id
    // (the one new id on disk after its PUT) says which key a copy in flight belongs to.
    const keys = Array.from({ length: 12 }, (_, i) => `a-race/${i}`)
    const keyOf = new Map<string, string>()
    for (const [i, key] of keys.entries()) {
      const before = new Set((await onDisk()).keys())
      await put(key, 1 * MiB + 17 * i)
      const added = [...(await onDisk()).keys()].filter((id) => !before.has(id))
      expect(added, `the write id of ${key}`).toHaveLength(1)
      keyOf.set(added[0]!, key)
    }
    await converged()
    const counters = async () => {
      const s = await status()
      const p = s.currentPass ?? {}
      return {
        discarded: Number(p.discarded ?? 0) + Number(s.totals.discarded),
        settled: [p.moved, p.discarded, p.errors, s.totals.moved, s.totals.discarded, s.totals.errors]
          .map((n) => Number(n ?? 0))
          .reduce((a, b) => a + b),
      }
    }
    await adminJson(gateway, ['node', 'drain', url(1)])
    // A copy of a race key sits on its target waiting for its switch (the budget's pause, ≈ 12 s):
    // overwrite that key (or delete it, every other round). The switch must lose, its copy be
    // discarded, the new data kept. Only that key is touched, so a later round still finds race
    // keys whose shards are to move, should a write ever come too late to win.
    let discarded = 0
    for (let round = 1; round <= 6 && discarded === 0; round++) {
      let key: string | undefined
      await waitFor(
        'a copy of a race key on its target before its switch',
        async () => {
          for (const [id, files] of await onDisk())
            if (files.length > WIDTH && keyOf.has(id) && live.has(keyOf.get(id)!)) {
              key = keyOf.get(id)
              keyOf.delete(id)
              return true
            }
          return false
        },
        120_000,
        50,
      )
      const before = await counters()
      if (round % 2 === 0) {
        await client.send(new DeleteObjectCommand({ Bucket, Key: key! }))
        live.delete(key!)
      } else await put(key!, 1 * MiB + 17 * keys.indexOf(key!) + round)
      // The mover settles that move (switched, discarded or failed) before it goes on.
      await waitFor(
        `the move of ${key} to settle`,
        async () => {
          const now = await counters()
          discarded = now.discarded
          return now.settled > before.settled || JSON.stringify(await status())
        },
        60_000,
        250,
      )
    }
    // Then every race key changes while the pass goes on over the rest: moves of rows changed
    // under them are dropped, and nothing is lost either way.
    for (const [i, key] of keys.entries()) {
      if (!live.has(key)) continue
      if (i % 3 === 0) {
        await client.send(new DeleteObjectCommand({ Bucket, Key: key }))
        live.delete(key)
      } else await put(key, 1 * MiB + 17 * i + 7)
    }
    expect(discarded, 'a move lost a race to a write').toBeGreaterThan(0)
    for (const key of keys)
      if (!live.has(key)) await expect(getBytes(client, Bucket, key)).rejects.toMatchObject({ name: 'NoSuchKey' })
    await verifyWhole(client, Bucket, [...live.values()])
    await stopGateway()
    await startGateway(64 * MiB)
    await converged()
    await drainAndRemove(1)
    await exactlyTheLiveShards()
    await verifyEverything()
  }, 500_000)

  it('a gateway killed mid-move resumes after a restart; nothing is lost or left over', async () => {
    await stopGateway()
    await startGateway(SLOW_RATE)
    await adminJson(gateway, ['node', 'drain', url(2)])
    // Killed while a copy sits on its target, switch not yet committed (the budget's pause).
    await waitFor('a copy on its target before its switch', copyPending, 120_000, 50)
    await gateway.kill('SIGKILL')
    client.destroy()
    const interrupted = await onDisk()
    expect([...interrupted.values()].some((f) => f.length > WIDTH)).toBe(true)
    await startGateway(64 * MiB)
    await converged()
    await drainAndRemove(2)
    await exactlyTheLiveShards()
    await verifyEverything()
    const s = await status()
    expect(Number(s.totals.passes)).toBeGreaterThan(0)
  }, 400_000)
})
