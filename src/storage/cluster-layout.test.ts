import { describe, expect, it } from 'vitest'
import {
  bootstrapLayout,
  isClusterLayout,
  LayoutError,
  parseClusterLayout,
  withNode,
  withNodeState,
} from './cluster-layout.ts'

const A = 'https://127.0.0.1:9001'
const B = 'https://127.0.0.1:9002'

describe('cluster layout', () => {
  it('bootstraps from node URLs: each node active, its own zone, id = URL (the store id layouts recorded)', () => {
    const l = bootstrapLayout([A, B])
    expect(l.version).toBe(1)
    expect(l.nodes.map((n) => [n.id, n.address, n.zone, n.state])).toEqual([
      [A, A, A, 'active'],
      [B, B, B, 'active'],
    ])
    expect(isClusterLayout(l)).toBe(true)
    expect(parseClusterLayout(JSON.parse(JSON.stringify(l)))).toEqual(l)
  })

  it('adds and updates nodes, each change one version up', () => {
    const l1 = bootstrapLayout([A])
    const l2 = withNode(l1, { id: B, zone: 'z2', rack: 'r1', capacity: 1000 })
    expect(l2.version).toBe(2)
    expect(l2.nodes[1]).toEqual({ id: B, address: B, capacity: 1000, zone: 'z2', rack: 'r1', state: 'active' })
    const l3 = withNode(l2, { id: B, capacity: 2000 })
    expect(l3.nodes[1]).toMatchObject({ capacity: 2000, zone: 'z2', rack: 'r1' })
    const l4 = withNodeState(l3, B, 'draining')
    expect(l4.nodes[1]!.state).toBe('draining')
    expect(l4.version).toBe(4)
    expect(l1.nodes).toHaveLength(1) // inputs are not changed
  })

  it('refuses bad input with a LayoutError', () => {
    const l = bootstrapLayout([A])
    expect(() => withNode(l, { id: 'x', address: 'http://insecure:1' })).toThrow(LayoutError)
    expect(() => withNode(l, { id: B, zone: 'bad zone' })).toThrow(/zone must be/)
    expect(() => withNode(l, { id: B, rack: '' })).toThrow(/rack must be/)
    expect(() => withNode(l, { id: B, capacity: -1 })).toThrow(/capacity/)
    expect(() => withNodeState(l, B, 'draining')).toThrow(/no node/)
    const removed = withNodeState(l, A, 'removed')
    expect(() => withNode(removed, { id: A })).toThrow(/never reused/)
    expect(() => withNodeState(removed, A, 'active')).toThrow(/was removed/)
  })

  it('rejects malformed stored layouts', () => {
    for (const bad of [
      null,
      { v: 2, version: 1, nodes: [] },
      { v: 1, version: 0, nodes: [] },
      { v: 1, version: 1, nodes: [{ id: A, address: A, capacity: 1, zone: 'z', state: 'gone' }] },
      { v: 1, version: 1, nodes: [bootstrapLayout([A]).nodes[0], bootstrapLayout([A]).nodes[0]] },
    ])
      expect(isClusterLayout(bad)).toBe(false)
    expect(() => parseClusterLayout({})).toThrow(/malformed/)
  })
})
