import { describe, expect, it } from 'vitest'
import { placeShardsInDomains } from './domain-placement.ts'
import { planMoves } from './rebalance-plan.ts'

describe('planMoves', () => {
  it('moves nothing when the write is where placement puts it, in any order', () => {
    expect(planMoves(['a', 'b', 'c'], ['c', 'a', 'b'])).toEqual([])
  })

  it('moves each shard off a store placement no longer names, to a named store that holds none', () => {
    expect(planMoves(['a', 'b', 'c'], ['b', 'd', 'c'])).toEqual([{ index: 0, from: 'a', to: 'd' }])
    expect(planMoves(['a', 'b', 'c'], ['e', 'd', 'c'])).toEqual([
      { index: 0, from: 'a', to: 'e' },
      { index: 1, from: 'b', to: 'd' },
    ])
  })

  it('leaves shards in place when too few stores are named (candidates full)', () => {
    expect(planMoves(['a', 'b', 'c'], ['d'])).toEqual([{ index: 0, from: 'a', to: 'd' }])
    expect(planMoves(['a', 'b', 'c'], [])).toEqual([])
  })

  it('after adding one node of ten, about a tenth of the shards move, all onto it', () => {
    const nodes = Array.from({ length: 9 }, (_, i) => ({ id: `n${i}`, capacity: 1, zone: `z${i}` }))
    const added = [...nodes, { id: 'n9', capacity: 1, zone: 'z9' }]
    let moved = 0
    let shards = 0
    for (let w = 0; w < 2000; w++) {
      const id = `write-${w}`
      const before = placeShardsInDomains(id, nodes, 6)
      const moves = planMoves(before, placeShardsInDomains(id, added, 6))
      for (const m of moves) expect(m.to).toBe('n9')
      moved += moves.length
      shards += before.length
    }
    // The ideal is 6/10 of the writes gaining the new node: 1/10 of the shards.
    expect(moved / shards).toBeGreaterThan(0.07)
    expect(moved / shards).toBeLessThan(0.13)
  })

  it('empties a node that leaves placement (drained)', () => {
    const nodes = Array.from({ length: 8 }, (_, i) => ({ id: `n${i}`, capacity: 1, zone: `z${i}` }))
    const without = nodes.filter((n) => n.id !== 'n3')
    for (let w = 0; w < 500; w++) {
      const id = `write-${w}`
      const before = placeShardsInDomains(id, nodes, 6)
      const after = [...before]
      for (const m of planMoves(before, placeShardsInDomains(id, without, 6))) after[m.index] = m.to
      expect(after).not.toContain('n3')
      expect(new Set(after).size).toBe(6)
    }
  })
})
