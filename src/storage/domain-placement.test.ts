import { describe, expect, it } from 'vitest'
import { bootstrapLayout } from './cluster-layout.ts'
import { type Candidate, placeShardsInDomains, worstZoneShare } from './domain-placement.ts'
import { rank } from './placement.ts'

const zoneCounts = (placed: string[], nodes: readonly Candidate[]): Map<string, number> => {
  const zoneOf = new Map(nodes.map((n) => [n.id, n.zone]))
  const out = new Map<string, number>()
  for (const id of placed) out.set(zoneOf.get(id)!, (out.get(zoneOf.get(id)!) ?? 0) + 1)
  return out
}

/** `zones` zones of `perZone` nodes, capacities cycling through `caps`. */
function cluster(zones: number, perZone: number, caps = [1]): Candidate[] {
  const out: Candidate[] = []
  for (let z = 0; z < zones; z++)
    for (let i = 0; i < perZone; i++)
      out.push({ id: `https://n${z}-${i}:9000`, capacity: caps[(z * perZone + i) % caps.length]!, zone: `z${z}` })
  return out
}

describe('placeShardsInDomains', () => {
  it('over a bootstrapped layout (equal capacity, each node its own zone) places exactly as rank did', () => {
    const ids = Array.from({ length: 9 }, (_, i) => `https://127.0.0.1:${9000 + i}`)
    const nodes = bootstrapLayout(ids).nodes
    for (let i = 0; i < 2000; i++) {
      const key = `write-${i}`
      expect(placeShardsInDomains(key, nodes, 6)).toEqual(rank(key, ids).slice(0, 6))
    }
  })

  it('is deterministic, a set of distinct nodes, and independent of the candidates’ order', () => {
    const nodes = cluster(4, 3, [1, 2, 5])
    for (let i = 0; i < 500; i++) {
      const a = placeShardsInDomains(`k${i}`, nodes, 6)
      expect(a).toHaveLength(6)
      expect(new Set(a).size).toBe(6)
      expect(placeShardsInDomains(`k${i}`, [...nodes].reverse(), 6)).toEqual(a)
    }
  })

  it('with at least k+m zones puts every shard of a write in a different zone', () => {
    const nodes = cluster(10, 10, [1, 2, 4, 8])
    for (let i = 0; i < 2000; i++) {
      const placed = placeShardsInDomains(`obj-${i}`, nodes, 6)
      expect([...zoneCounts(placed, nodes).values()].every((c) => c === 1)).toBe(true)
    }
  })

  it('with fewer zones never puts more than ceil(n/zones) in one zone (3 zones, 4+2: 2 each, any zone loss survived)', () => {
    const nodes = cluster(3, 4, [3, 1, 2])
    expect(worstZoneShare(nodes, 6)).toBe(2)
    for (let i = 0; i < 2000; i++) {
      const placed = placeShardsInDomains(`obj-${i}`, nodes, 6)
      const counts = zoneCounts(placed, nodes)
      expect([...counts.values()]).toEqual([2, 2, 2])
      // Losing any one zone leaves k = 4 shards.
      for (const z of ['z0', 'z1', 'z2']) expect(6 - (counts.get(z) ?? 0)).toBeGreaterThanOrEqual(4)
    }
  })

  it('raises a zone’s share only when the others have too few nodes', () => {
    // Zone sizes 5, 1, 1: the even share (3) cannot be met; the big zone takes the rest.
    const nodes = [...cluster(1, 5), { id: 'b', capacity: 1, zone: 'zb' }, { id: 'c', capacity: 1, zone: 'zc' }]
    expect(worstZoneShare(nodes, 6)).toBe(4)
    for (let i = 0; i < 200; i++) {
      const counts = zoneCounts(placeShardsInDomains(`o${i}`, nodes, 6), nodes)
      expect(counts.get('z0')).toBe(4)
      expect(counts.get('zb')).toBe(1)
      expect(counts.get('zc')).toBe(1)
    }
  })

  it('inside a zone, puts a write’s shards on distinct racks first', () => {
    // 2 zones × 2 racks × 3 nodes, 4 shards: 2 per zone, on its 2 racks.
    const nodes: Candidate[] = []
    for (const z of ['a', 'b'])
      for (const r of ['r1', 'r2'])
        for (let i = 0; i < 3; i++) nodes.push({ id: `${z}-${r}-${i}`, capacity: 1 + i, zone: z, rack: r })
    for (let i = 0; i < 1000; i++) {
      const placed = placeShardsInDomains(`o${i}`, nodes, 4)
      const racks = placed.map((id) => id.slice(0, 4))
      expect(new Set(racks).size).toBe(4)
    }
  })

  it('weights nodes by capacity (shares within 5% of capacity / total)', () => {
    // 3 zones, 3 shards: each zone takes one, and inside it the node by capacity 1:2:3.
    const nodes = cluster(3, 3, [1, 2, 3])
    const counts = new Map<string, number>()
    const writes = 30_000
    for (let i = 0; i < writes; i++)
      for (const id of placeShardsInDomains(`obj-${i}`, nodes, 3)) counts.set(id, (counts.get(id) ?? 0) + 1)
    for (const n of nodes) {
      const share = (counts.get(n.id) ?? 0) / writes
      expect(Math.abs(share - n.capacity / 6) / (n.capacity / 6), n.id).toBeLessThan(0.05)
    }
  })

  it('skips nodes with no capacity and returns fewer ids when there are not enough candidates', () => {
    const nodes = cluster(2, 3).map((n, i) => (i === 0 ? { ...n, capacity: 0 } : n))
    for (let i = 0; i < 100; i++) expect(placeShardsInDomains(`o${i}`, nodes, 6)).not.toContain(nodes[0]!.id)
    expect(placeShardsInDomains('o', nodes, 6)).toHaveLength(5)
    expect(placeShardsInDomains('o', [], 6)).toEqual([])
  })

  it('adding a node moves shards only into its zone, under twice the ideal share', () => {
    const nodes = cluster(10, 5, [1, 2, 3, 4])
    const added: Candidate = { id: 'https://new:9000', capacity: 3, zone: 'z4' }
    const writes = 5000
    let moved = 0
    let total = 0
    for (let i = 0; i < writes; i++) {
      const before = placeShardsInDomains(`obj-${i}`, nodes, 6)
      const after = placeShardsInDomains(`obj-${i}`, [...nodes, added], 6)
      const gone = before.filter((id) => !after.includes(id))
      moved += gone.length
      total += 6
      // Whatever moved, moved into the zone that grew (to the new node, or one zone z4 had).
      for (const id of after.filter((x) => !before.includes(x)))
        expect(id === added.id || id.startsWith('https://n4-')).toBe(true)
    }
    const capacity = nodes.reduce((t, n) => t + n.capacity, 0) + added.capacity
    const ideal = added.capacity / capacity
    expect(moved / total).toBeGreaterThan(ideal * 0.5)
    // Above the ideal: the zone that grew also wins writes from other zones (1.4× here).
    expect(moved / total).toBeLessThan(ideal * 2)
  })
})
