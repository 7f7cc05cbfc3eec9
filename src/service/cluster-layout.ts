/**
 * The cluster layout as data (docs/architecture.md §14): the storage nodes, their capacity,
 * zone, rack and state live in the metadata as versioned rows; `--nodes` only bootstraps the
 * first version. Every gateway follows the newest version within LAYOUT_FOLLOW_MS and places new
 * writes over its active nodes; data layouts record where each write's shards went, so reads
 * never depend on the layout. Uses meta and storage.
 */
import * as meta from '../meta/index.ts'
import {
  bootstrapLayout,
  type Candidate,
  type ClusterLayout,
  isClusterLayout,
  LayoutError,
  type LayoutNode,
  liveNodes,
  type NodeChange,
  parseClusterLayout,
  parseDataLayout,
  withNode,
  withNodeState,
  worstZoneShare,
} from '../storage/index.ts'
import type { ClusterState, NodeDirectory, ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'
import { layoutsOf, parseStoredData } from './stored-data.ts'

/** A layout change made through another gateway is in use here within this. */
export const LAYOUT_FOLLOW_MS = 2_000
/** Attempts at a change when other gateways keep changing the layout meanwhile. */
const CHANGE_ATTEMPTS = 5

/**
 * Reads the newest layout, or records the bootstrap one (from the flags) when there is none; a
 * gateway that loses the race to record it takes the winner's. Then uses it.
 */
export async function loadClusterLayout(ctx: ServiceContext, directory: NodeDirectory): Promise<ClusterLayout> {
  let stored = await meta.latestClusterLayout(ctx.db)
  if (!stored) {
    const first = bootstrapLayout(directory.bootstrap)
    if (!(await meta.insertClusterLayout(ctx.db, first.version, first))) stored = await meta.latestClusterLayout(ctx.db)
    else stored = { version: first.version, layout: first, createdAt: new Date() }
  }
  const layout = parseClusterLayout(stored!.layout)
  const unknown = directory.bootstrap.filter((u) => !layout.nodes.some((n) => n.id === u || n.address === u))
  if (unknown.length > 0)
    ctx.logger.log('warn', '--nodes names nodes the cluster layout does not: the layout wins (coffer admin node add)', {
      nodes: unknown.join(','),
      version: layout.version,
    })
  ctx.cluster = { layout, directory }
  useLayout(ctx, layout)
  return layout
}

/** Puts `layout` in use: stores for every live node (kept where already open), placement over the active ones. */
function useLayout(ctx: ServiceContext, layout: ClusterLayout): void {
  const cluster = ctx.cluster!
  const open = new Map(ctx.stores.map((s) => [s.id, s]))
  const previous = new Map(cluster.layout.nodes.map((n) => [n.id, n]))
  const stores = liveNodes(layout).map((n) => {
    const had = open.get(n.id)
    return had && previous.get(n.id)?.address === n.address ? had : cluster.directory.storeFor(n)
  })
  ctx.stores = stores
  ctx.storage.reconfigure(stores, candidatesOf(layout))
  cluster.layout = layout
  // New nodes have no figures yet: the next write takes them first.
  ctx.space.at = 0
}

/** Active nodes with their failure domain and weight: where new writes may go. */
export function candidatesOf(layout: ClusterLayout): Candidate[] {
  return layout.nodes
    .filter((n) => n.state === 'active')
    .map((n) => ({ id: n.id, capacity: n.capacity, zone: n.zone, ...(n.rack === undefined ? {} : { rack: n.rack }) }))
}

/** Takes a newer layout from the metadata if another gateway recorded one (background, every LAYOUT_FOLLOW_MS). */
export async function followClusterLayout(ctx: ServiceContext): Promise<void> {
  if (!ctx.cluster) return
  const stored = await meta.latestClusterLayout(ctx.db)
  if (!stored || stored.version <= ctx.cluster.layout.version) return
  if (!isClusterLayout(stored.layout)) {
    ctx.logger.log('error', 'the newest cluster layout is malformed: keeping the one in use', {
      version: stored.version,
    })
    return
  }
  ctx.logger.log('info', 'cluster layout changed', { from: ctx.cluster.layout.version, to: stored.version })
  useLayout(ctx, stored.layout)
}

function clusterOf(ctx: ServiceContext): ClusterState {
  if (!ctx.cluster)
    throw new ServiceError(
      'InvalidRequest',
      'This gateway stores on local drives: the cluster layout is for storage nodes (--cluster, --nodes).',
    )
  return ctx.cluster
}

/** Applies `change` to the newest layout and records the result as the next version (retried on a race). */
async function changeLayout(ctx: ServiceContext, change: (l: ClusterLayout) => ClusterLayout): Promise<ClusterLayout> {
  clusterOf(ctx)
  for (let attempt = 0; attempt < CHANGE_ATTEMPTS; attempt++) {
    await followClusterLayout(ctx)
    let next: ClusterLayout
    try {
      next = change(ctx.cluster!.layout)
    } catch (e) {
      if (e instanceof LayoutError) throw new ServiceError('InvalidArgument', e.message)
      throw e
    }
    if (await meta.insertClusterLayout(ctx.db, next.version, next)) {
      useLayout(ctx, next)
      return next
    }
  }
  throw new ServiceError('Unavailable', 'The cluster layout kept changing under this change: try again.')
}

export interface LayoutView {
  version: number
  nodes: LayoutNode[]
  /** Zones with an active node. */
  zones: string[]
  /** The most shards of one write placement must put in one zone now (≤ m: a zone loss is survived). */
  worstZoneShare: number
  /** Whether every new write survives the loss of any one zone. */
  zoneLossSafe: boolean
}

export function showLayout(ctx: ServiceContext): LayoutView {
  const { layout } = clusterOf(ctx)
  const candidates = candidatesOf(layout)
  const worst = worstZoneShare(candidates, ctx.ec.k + ctx.ec.m)
  return {
    version: layout.version,
    nodes: layout.nodes,
    zones: [...new Set(candidates.map((c) => c.zone))].sort(),
    worstZoneShare: worst,
    zoneLossSafe: worst <= ctx.ec.m,
  }
}

/** `coffer admin node add`: a new node (active at once), or a known one's address, capacity, zone or rack. */
export async function addNode(ctx: ServiceContext, change: NodeChange): Promise<LayoutView> {
  await changeLayout(ctx, (l) => withNode(l, change))
  return showLayout(ctx)
}

/** `coffer admin node drain`: no new shards go to the node; it is still read. */
export async function drainNode(ctx: ServiceContext, id: string): Promise<LayoutView> {
  await changeLayout(ctx, (l) => withNodeState(l, id, 'draining'))
  return showLayout(ctx)
}

/** `coffer admin node undrain`: the node takes new shards again. */
export async function activateNode(ctx: ServiceContext, id: string): Promise<LayoutView> {
  await changeLayout(ctx, (l) => withNodeState(l, id, 'active'))
  return showLayout(ctx)
}

/**
 * `coffer admin node remove`: only a draining node that no object version or uploaded part keeps
 * a shard on (its data would be lost with it; reads and heals no longer reach a removed node).
 */
export async function removeNode(ctx: ServiceContext, id: string): Promise<LayoutView> {
  const node = clusterOf(ctx).layout.nodes.find((n) => n.id === id)
  if (!node || node.state === 'removed') throw new ServiceError('InvalidArgument', `No node ${id} in the layout.`)
  if (node.state !== 'draining')
    throw new ServiceError('NodeNotEmpty', `Node ${id} is ${node.state}: drain it first (coffer admin node drain).`)
  const held = await shardsOn(ctx, id)
  if (held > 0)
    throw new ServiceError(
      'NodeNotEmpty',
      `Node ${id} still holds shards of ${held} write(s): removing it would lose them. Wait until the drain has moved them.`,
    )
  await changeLayout(ctx, (l) => withNodeState(l, id, 'removed'))
  return showLayout(ctx)
}

/** How many stored writes (object versions' segments, uploaded parts) keep a shard on node `id`. */
export async function shardsOn(ctx: ServiceContext, id: string): Promise<number> {
  let held = 0
  const page = 500
  let cursor: meta.LayoutCursor | undefined
  for (;;) {
    const rows = await meta.objectLayoutsAfter(ctx.db, cursor, page)
    for (const row of rows) {
      if (row.layout === null) continue
      for (const l of layoutsOf(parseStoredData(row.layout, `object ${row.bucket}/${row.key}`)))
        if (l.stores.includes(id)) held++
    }
    const last = rows.at(-1)
    if (rows.length < page || !last) break
    cursor = { bucket: last.bucket, key: last.key, ord: last.ord }
  }
  for (const layout of await meta.allPartLayouts(ctx.db)) if (parseDataLayout(layout).stores.includes(id)) held++
  return held
}
