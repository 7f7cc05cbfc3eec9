/**
 * The cluster layout: which storage nodes exist, how much each should hold, which failure domain
 * (zone, optional rack) each is in and whether it takes new data. A versioned plain value (stored
 * in the metadata as JSON by the service); this module checks it and derives new versions from it.
 * Pure: no I/O, no clock.
 */
import { describeValue, isCount, isRecord } from '../util/shape.ts'

/** active: takes new shards; draining: read only, its shards are to move off; removed: gone. */
export type NodeState = 'active' | 'draining' | 'removed'
export const NODE_STATES: readonly NodeState[] = ['active', 'draining', 'removed']

/** FORMAT: one node of a stored layout (formats.md §4). */
export interface LayoutNode {
  /** The store id recorded in data layouts (`ErasureLayout.stores`): never changes, never reused. */
  id: string
  /** Where the node answers (its https URL). */
  address: string
  /** Relative weight for new data (bytes it is meant to hold); 0 takes nothing new. */
  capacity: number
  /** Failure domain: placement keeps a stripe's shards in distinct zones where it can. */
  zone: string
  /** Optional second failure domain inside the zone: shards of a stripe in one zone go to distinct racks first. */
  rack?: string
  state: NodeState
}

/** FORMAT: a stored layout (formats.md §4); `version` grows by one per change. */
export interface ClusterLayout {
  v: 1
  version: number
  nodes: LayoutNode[]
}

/** Capacity given to nodes a layout is bootstrapped with (flags carry none): equal weights. */
export const DEFAULT_CAPACITY = 1024 ** 4

const ZONE_OR_RACK = /^[A-Za-z0-9._:-]{1,64}$/

export function isClusterLayout(v: unknown): v is ClusterLayout {
  return (
    isRecord(v) &&
    v.v === 1 &&
    isCount(v.version) &&
    v.version > 0 &&
    Array.isArray(v.nodes) &&
    v.nodes.every(
      (n) =>
        isRecord(n) &&
        typeof n.id === 'string' &&
        n.id.length > 0 &&
        typeof n.address === 'string' &&
        isCount(n.capacity) &&
        typeof n.zone === 'string' &&
        n.zone.length > 0 &&
        (n.rack === undefined || typeof n.rack === 'string') &&
        NODE_STATES.includes(n.state as NodeState),
    ) &&
    new Set(v.nodes.map((n) => (n as LayoutNode).id)).size === v.nodes.length
  )
}

export function parseClusterLayout(v: unknown): ClusterLayout {
  if (isClusterLayout(v)) return v
  throw new Error(`a stored cluster layout is malformed: ${describeValue(v)}`)
}

/**
 * The first layout of a cluster started from `--nodes` flags: every node active, its own zone
 * (each node was its own failure domain before layouts existed) and equal capacity, its id its
 * URL (the store id its shards were recorded under). Placement over it is exactly the old one.
 */
export function bootstrapLayout(addresses: readonly string[]): ClusterLayout {
  return {
    v: 1,
    version: 1,
    nodes: addresses.map((url) => {
      // The id a RemoteStore gives itself: the URL without a trailing slash.
      const id = url.replace(/\/+$/, '')
      return { id, address: url, capacity: DEFAULT_CAPACITY, zone: id, state: 'active' }
    }),
  }
}

/** Why a zone or rack name is refused, or undefined. */
export function domainNameProblem(what: 'zone' | 'rack', name: string): string | undefined {
  return ZONE_OR_RACK.test(name)
    ? undefined
    : `${what} must be 1-64 characters of [A-Za-z0-9._:-], got ${JSON.stringify(name)}`
}

export interface NodeChange {
  id: string
  address?: string
  capacity?: number
  zone?: string
  rack?: string
}

/** A problem with a layout change: the caller's input, not a fault (the admin API answers 400). */
export class LayoutError extends Error {
  override name = 'LayoutError'
}

/** Adds a node (active) or updates a known one's address, capacity, zone or rack; the next version. */
export function withNode(layout: ClusterLayout, change: NodeChange): ClusterLayout {
  for (const [what, name] of [
    ['zone', change.zone],
    ['rack', change.rack],
  ] as const) {
    const p = name === undefined ? undefined : domainNameProblem(what, name)
    if (p) throw new LayoutError(p)
  }
  if (change.capacity !== undefined && !isCount(change.capacity))
    throw new LayoutError(`capacity must be a whole number of bytes, got ${change.capacity}`)
  const known = layout.nodes.find((n) => n.id === change.id)
  if (known?.state === 'removed') throw new LayoutError(`node ${change.id} was removed: ids are never reused`)
  const address = change.address ?? known?.address ?? change.id
  if (!/^https:\/\/[^/\s]+\/?$/.test(address))
    throw new LayoutError(`node address must be an https URL (https://host:port), got ${JSON.stringify(address)}`)
  const node: LayoutNode = {
    id: change.id,
    address,
    capacity: change.capacity ?? known?.capacity ?? DEFAULT_CAPACITY,
    zone: change.zone ?? known?.zone ?? change.id,
    state: known?.state ?? 'active',
  }
  const rack = change.rack ?? known?.rack
  if (rack !== undefined) node.rack = rack
  const nodes = known ? layout.nodes.map((n) => (n.id === change.id ? node : n)) : [...layout.nodes, node]
  return { v: 1, version: layout.version + 1, nodes }
}

/** The next version with node `id` in `state`; throws LayoutError for an unknown or removed node. */
export function withNodeState(layout: ClusterLayout, id: string, state: NodeState): ClusterLayout {
  const known = layout.nodes.find((n) => n.id === id)
  if (!known) throw new LayoutError(`no node ${id} in layout version ${layout.version}`)
  if (known.state === 'removed') throw new LayoutError(`node ${id} was removed`)
  return { v: 1, version: layout.version + 1, nodes: layout.nodes.map((n) => (n.id === id ? { ...n, state } : n)) }
}

/** Nodes that may hold shards (active and draining: both are read). */
export const liveNodes = (layout: ClusterLayout): LayoutNode[] => layout.nodes.filter((n) => n.state !== 'removed')
