/**
 * The fault scheduler: at seeded intervals it kills the gateway or a storage node with SIGKILL and
 * restarts it, or damages shard files on the nodes' drives — always within what 4+2 erasure coding
 * tolerates, so every acknowledged object must stay readable: at most one node down at a time, at
 * most one damaged shard per write (or one bad block per stripe, `stripe-damage`), and only writes
 * whose six shards are all on disk.
 */
import { readFile, rm, writeFile } from 'node:fs/promises'
import type { FaultClass } from './args.ts'
import type { SoakCluster } from './cluster.ts'
import type { Rng } from './rng.ts'
import { blockRanges, byWriteId, flipBytes, listShardFiles, type ShardFile, truncateTo } from './shard-files.ts'
import type { Tally } from './tally.ts'
import { liveWriteIds } from './meta-facts.ts'

const SHARDS = 6
const M = 2
/** Coffer's block size (docs/architecture.md §2 step 4). */
const BLOCK = 256 * 1024
const FIRST_FAULT_MS = 3000

/** Faults the scheduler itself injects (`slow` is the workers' doing). */
const SCHEDULED: readonly FaultClass[] = [
  'kill-gateway',
  'kill-node',
  'truncate',
  'flip',
  'swap',
  'delete-shard',
  'stripe-damage',
]

export interface FaultContext {
  cluster: SoakCluster
  tally: Tally
  rng: Rng
  classes: readonly FaultClass[]
  deadline: number
  everyS: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)))

export class FaultScheduler {
  /** Writes that have had a shard damaged: never damaged again, so one write never exceeds m. */
  private readonly damaged = new Set<string>()

  constructor(private readonly ctx: FaultContext) {}

  async run(): Promise<void> {
    const { rng, deadline, everyS } = this.ctx
    const classes = this.ctx.classes.filter((c) => SCHEDULED.includes(c))
    if (classes.length === 0) return
    await sleep(Math.min(FIRST_FAULT_MS, deadline - Date.now()))
    for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
      const kind = rng.pick(classes)
      // Drawn before the fault runs, so a replay draws the same sequence whatever the fault found.
      const wait = Math.round(everyS * 1000 * (0.5 + rng.next()))
      const choice = rng.fork(i)
      try {
        await this.inject(kind, choice)
      } catch (e) {
        this.ctx.tally.fail('fault injection', `${kind}: ${e instanceof Error ? e.message : String(e)}`)
      }
      await sleep(Math.min(wait, deadline - Date.now()))
    }
  }

  private async inject(kind: FaultClass, r: Rng): Promise<void> {
    const { cluster, tally } = this.ctx
    switch (kind) {
      case 'kill-gateway': {
        await cluster.killGateway()
        const down = r.int(200, 2500)
        tally.fault(kind, `gateway killed, restart in ${down} ms`)
        await sleep(down)
        await cluster.startGateway()
        return
      }
      case 'kill-node': {
        const i = r.int(0, cluster.nodes.length - 1)
        await cluster.killNode(i)
        const down = r.int(1000, 8000)
        tally.fault(kind, `node ${i} killed, restart in ${down} ms`)
        await sleep(down)
        await cluster.startNode(i)
        return
      }
      default:
        return this.damage(kind, r)
    }
  }

  /** Live writes (an object or part points at them) with all six shards on disk and none damaged before, in a stable order. */
  private async candidates(): Promise<Map<string, ShardFile[]>> {
    const live = await liveWriteIds(this.ctx.cluster.gatewayDir)
    const files = await listShardFiles(this.ctx.cluster.nodes.map((n) => n.dataDir))
    const whole = new Map<string, ShardFile[]>()
    for (const [id, fs] of byWriteId(files)) {
      if (this.damaged.has(id) || !live.has(id)) continue
      if (new Set(fs.map((f) => f.index)).size !== SHARDS) continue
      whole.set(
        id,
        fs.sort((a, b) => a.index - b.index),
      )
    }
    return new Map([...whole.entries()].sort(([a], [b]) => a.localeCompare(b)))
  }

  private async damage(kind: FaultClass, r: Rng): Promise<void> {
    const { tally } = this.ctx
    const all = await this.candidates()
    if (all.size === 0) return
    const ids = [...all.keys()]
    // Stripe damage needs at least m+1 stripes: shards longer than m whole blocks.
    const long = ids.filter((i) => all.get(i)![0]!.size > M * (BLOCK + 4) + 256)
    if (kind === 'stripe-damage' && long.length === 0) return
    const id = kind === 'stripe-damage' ? r.pick(long) : r.pick(ids)
    const shards = all.get(id)!
    const shard = r.pick(shards)
    switch (kind) {
      case 'truncate': {
        const to = r.int(0, Math.max(0, shard.size - 1))
        this.damaged.add(id)
        await truncateTo(shard.path, to)
        tally.fault(kind, `${id}.${shard.index} ${shard.size} → ${to} bytes`)
        return
      }
      case 'flip': {
        const n = r.int(1, 8)
        const offsets = Array.from({ length: n }, () => r.int(0, shard.size - 1))
        this.damaged.add(id)
        await flipBytes(
          shard.path,
          offsets,
          offsets.map(() => r.int(0, 254)),
        )
        tally.fault(kind, `${id}.${shard.index}: ${n} bytes at ${offsets.join(',')}`)
        return
      }
      case 'delete-shard': {
        this.damaged.add(id)
        await rm(shard.path, { force: true })
        tally.fault(kind, `${id}.${shard.index} removed`)
        return
      }
      case 'swap': {
        // Another write's shard takes this one's place and the other way round: each file is still
        // a valid shard, only not the one its name says.
        // Preferably a shard of the same length (same geometry), which no block checksum can tell apart.
        const others = ids.filter((o) => o !== id)
        if (others.length === 0) return
        const twins = others.filter((o) => all.get(o)!.some((f) => f.size === shard.size))
        const otherId = r.pick(twins.length ? twins : others)
        const sameSize = all.get(otherId)!.filter((f) => f.size === shard.size)
        const other = r.pick(sameSize.length ? sameSize : all.get(otherId)!)
        this.damaged.add(id)
        this.damaged.add(otherId)
        const [a, b] = await Promise.all([readFile(shard.path), readFile(other.path)])
        await writeFile(shard.path, b)
        await writeFile(other.path, a)
        tally.fault(kind, `${id}.${shard.index} ⇄ ${otherId}.${other.index}`)
        return
      }
      case 'stripe-damage': {
        // One bad block in each of m+1 shards, each in a different stripe: every stripe keeps k good
        // blocks, so the object is whole — but no single shard is.
        const ranged = await Promise.all(shards.map(async (s) => ({ s, blocks: await blockRanges(s.path) })))
        const stripes = Math.min(...ranged.map((x) => x.blocks?.length ?? 0))
        if (stripes < M + 1) return
        const chosen = [...ranged]
        const picked: typeof ranged = []
        for (let j = 0; j <= M; j++) picked.push(chosen.splice(r.int(0, chosen.length - 1), 1)[0]!)
        const stripeIdx: number[] = []
        const free = Array.from({ length: stripes }, (_, s) => s)
        for (let j = 0; j <= M; j++) stripeIdx.push(free.splice(r.int(0, free.length - 1), 1)[0]!)
        this.damaged.add(id)
        const what: string[] = []
        for (const [j, p] of picked.entries()) {
          const [start, end] = p.blocks![stripeIdx[j]!]!
          const off = r.int(start, end - 1)
          await flipBytes(p.s.path, [off], [r.int(0, 254)])
          what.push(`shard ${p.s.index} stripe ${stripeIdx[j]}`)
        }
        tally.fault(kind, `${id}: ${what.join(', ')}`)
        return
      }
      default:
        return
    }
  }
}
