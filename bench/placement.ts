/**
 * Placement suite: a pure simulation of where stripes go (src/storage/domain-placement.ts) over
 * 100 nodes in 10 zones with mixed capacities, beside the capacity- and zone-blind rendezvous
 * ranking every write used before cluster layouts (`rank`). Reports balance (max / mean of each
 * node's shards per unit of capacity), the shards that move when one node is added (against the
 * ideal: the new node's share of capacity) and the stripes still readable after losing a whole
 * zone. No I/O; deterministic (seeded capacities, fixed write ids).
 */
import { type Candidate, placeShardsInDomains } from '../src/storage/domain-placement.ts'
import { rank } from '../src/storage/placement.ts'
import type { Metric, SuiteResult, Table } from './lib/report.ts'
import { measureMover, moverSize } from './mover.ts'
import type { SuiteContext } from './lib/suite.ts'

const TB = 1e12
/** Drive sizes a cluster bought over the years: mixed, from 4 TB to 20 TB. */
const SIZES_TB = [4, 8, 12, 16, 20]

/** A small seeded generator (mulberry32), so every run simulates the same cluster. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function simulatedCluster(zones = 10, perZone = 10, seed = 16): Candidate[] {
  const rnd = seeded(seed)
  const out: Candidate[] = []
  for (let z = 0; z < zones; z++)
    for (let i = 0; i < perZone; i++)
      out.push({
        id: `https://node-${z}-${i}.cluster:9000`,
        capacity: SIZES_TB[Math.floor(rnd() * SIZES_TB.length)]! * TB,
        zone: `zone-${z}`,
        rack: `rack-${z}-${i % 3}`,
      })
  return out
}

type Policy = 'zones + capacity' | 'rank (before)'
const place = (policy: Policy, key: string, nodes: readonly Candidate[], n: number): string[] =>
  policy === 'rank (before)'
    ? rank(
        key,
        nodes.map((c) => c.id),
      ).slice(0, n)
    : placeShardsInDomains(key, nodes, n)

export interface PlacementFigures {
  /** max / mean of shards per unit of capacity over the nodes (1 = perfectly even). */
  balance: number
  /** Fraction of all shards whose node changed when one node was added. */
  moved: number
  /** The new node's share of capacity: what an ideal placement would move to it. */
  ideal: number
  /** Over the zones, the smallest fraction of stripes that keep ≥ k shards after losing that zone. */
  zoneLossSurvival: number
  /** The largest number of one stripe's shards seen in one zone. */
  worstZoneShare: number
}

export function simulate(
  policy: Policy,
  nodes: readonly Candidate[],
  added: Candidate,
  k: number,
  m: number,
  stripes: number,
): PlacementFigures {
  const n = k + m
  const zoneOf = new Map([...nodes, added].map((c) => [c.id, c.zone]))
  const zones = [...new Set(nodes.map((c) => c.zone))]
  const shards = new Map(nodes.map((c) => [c.id, 0]))
  const lostWith = new Map(zones.map((z) => [z, 0]))
  const grown = [...nodes, added]
  let moved = 0
  let worst = 0
  for (let i = 0; i < stripes; i++) {
    const key = `write-${i}`
    const placed = place(policy, key, nodes, n)
    const perZone = new Map<string, number>()
    for (const id of placed) {
      shards.set(id, shards.get(id)! + 1)
      perZone.set(zoneOf.get(id)!, (perZone.get(zoneOf.get(id)!) ?? 0) + 1)
    }
    for (const [z, c] of perZone) {
      worst = Math.max(worst, c)
      if (n - c < k) lostWith.set(z, lostWith.get(z)! + 1)
    }
    const after = new Set(place(policy, key, grown, n))
    moved += placed.filter((id) => !after.has(id)).length
  }
  const use = nodes.map((c) => shards.get(c.id)! / c.capacity)
  const mean = use.reduce((t, x) => t + x, 0) / use.length
  const capacity = grown.reduce((t, c) => t + c.capacity, 0)
  return {
    balance: Math.max(...use) / mean,
    moved: moved / (stripes * n),
    ideal: added.capacity / capacity,
    zoneLossSurvival: 1 - Math.max(...lostWith.values()) / stripes,
    worstZoneShare: worst,
  }
}

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`

export async function runPlacement(ctx: SuiteContext): Promise<SuiteResult> {
  const t0 = performance.now()
  const stripes = ctx.quick ? 5000 : 20_000
  const nodes = simulatedCluster()
  const added: Candidate = { id: 'https://node-new.cluster:9000', capacity: 12 * TB, zone: 'zone-3', rack: 'rack-3-0' }
  const geometries: [number, number][] = [
    [4, 2],
    [8, 4],
  ]
  const policies: Policy[] = ['zones + capacity', 'rank (before)']
  const rows: string[][] = []
  const metrics: Metric[] = []
  ctx.progress.plan(geometries.length * policies.length + 1)
  for (const [k, m] of geometries)
    for (const policy of policies) {
      const f = simulate(policy, nodes, added, k, m, stripes)
      ctx.progress.step(`placement ${k}+${m} ${policy}`)
      rows.push([
        `${k}+${m}`,
        policy,
        f.balance.toFixed(3),
        pct(f.moved),
        pct(f.ideal),
        (f.moved / f.ideal).toFixed(2),
        String(f.worstZoneShare),
        pct(f.zoneLossSurvival),
      ])
      const c = `${k}+${m}`
      metrics.push(
        { suite: 'placement', case: `balance ${c}`, target: policy, value: f.balance, unit: 'max/mean' },
        { suite: 'placement', case: `moved on add ${c}`, target: policy, value: f.moved, unit: 'fraction' },
        { suite: 'placement', case: `zone loss ${c}`, target: policy, value: f.zoneLossSurvival, unit: 'fraction' },
      )
    }
  const total = nodes.reduce((t, c) => t + c.capacity, 0) / TB
  const table: Table = {
    title: `Placement of ${stripes.toLocaleString('en')} stripes over ${nodes.length} nodes in 10 zones (${total} TB, drives of ${SIZES_TB.join('/')} TB), one ${added.capacity / TB} TB node added`,
    columns: [
      'ec',
      'placement',
      'balance (max/mean use)',
      'moved on add',
      'ideal (its share)',
      'moved / ideal',
      'most shards in a zone',
      'readable after losing any zone',
    ],
    rows,
    notes: [
      'use = a node’s shards / its capacity; 1.000 is perfectly even',
      'readable after losing any zone: the worst zone’s figure (stripes keeping ≥ k shards)',
      '8+4 has 12 shards over 10 zones: at most 2 per zone, ≤ m, so a zone loss is still survived',
    ],
  }
  const { objects, size } = moverSize(ctx.quick)
  const mv = await measureMover(objects, size)
  ctx.progress.step('mover: drain one drive of seven')
  const mbps = (bps: number) => `${(bps / 1e6).toFixed(1)} MB/s`
  const mover: Table = {
    title: `Rebalance mover: one drive of seven drained, ${objects} objects of ${size / 1024 / 1024} MiB at 4+2 (local drives, one process)`,
    columns: [
      'shards moved',
      'bytes moved',
      'copyShard (copy + read-back check)',
      'raw copy (baseline)',
      'ratio',
      'objects readable after',
    ],
    rows: [
      [
        String(mv.shardsMoved),
        `${(mv.bytesMoved / 1e6).toFixed(1)} MB`,
        mbps(mv.moverBps),
        mbps(mv.rawBps),
        (mv.moverBps / mv.rawBps).toFixed(2),
        `${mv.readable}/${mv.objects}`,
      ],
    ],
    notes: [
      'copyShard streams the shard into the target’s fsynced put, then reads it back whole and checks every block checksum; the baseline is the same put without the check',
      'the mover’s metadata switch (one transaction per row) and its rate limit (COFFER_REBALANCE_RATE) are not in these figures',
    ],
  }
  metrics.push(
    { suite: 'placement', case: 'mover drain 4+2', target: 'copyShard', value: mv.moverBps / 1e6, unit: 'MB/s' },
    { suite: 'placement', case: 'mover drain 4+2', target: 'raw copy', value: mv.rawBps / 1e6, unit: 'MB/s' },
    {
      suite: 'placement',
      case: 'mover readable',
      target: 'copyShard',
      value: mv.readable / mv.objects,
      unit: 'fraction',
    },
  )
  return { name: 'placement', ms: performance.now() - t0, tables: [table, mover], metrics, notes: [] }
}
