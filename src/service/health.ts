/**
 * The service's health as /_coffer/health and /_coffer/metrics report it: stores up or down and
 * their free space, whether writes can go on (quorum, room), the heal backlog and the counters.
 */
import * as meta from '../meta/index.ts'
import type { DurabilityStats, ServiceContext } from './context.ts'
import { spaceHealth, type StoreSpace } from './space.ts'

export interface Health {
  /**
   * 'ok' while writes can reach their quorum and find room; 'degraded' when too few stores are up;
   * 'full' when too few stores (or not the metadata) have room above --min-free: reads and deletes
   * still work, writes get 507 InsufficientStorage. `problems` says why.
   */
  status: 'ok' | 'degraded' | 'full'
  /** `k+m`, e.g. `4+2`. */
  ec: string
  stores: ({ id: string; up: boolean } & Partial<StoreSpace>)[]
  /** The metadata's filesystem, when the metadata is a local file. */
  metadata?: StoreSpace
  /** One line per cause: stores down, filesystems full (which drives, how much is free). */
  problems: string[]
  healBacklog: number
  stats: DurabilityStats
}

export async function health(ctx: ServiceContext): Promise<Health> {
  const [ups, space] = await Promise.all([
    Promise.all(ctx.stores.map((s) => s.healthy().catch(() => false))),
    spaceHealth(ctx),
  ])
  const stores = ctx.stores.map((s, i) => ({ id: s.id, up: ups[i]!, ...space.stores.get(s.id) }))
  const { k, m } = ctx.ec
  const quorum = stores.filter((s) => s.up).length >= k + (k === m ? 1 : 0)
  const down = stores.filter((s) => !s.up).map((s) => s.id)
  const problems = [...(down.length ? [`stores down: ${down.join(', ')}`] : []), ...space.problems]
  return {
    status: !quorum ? 'degraded' : !space.writable ? 'full' : 'ok',
    ec: `${k}+${m}`,
    stores,
    ...(space.metadata ? { metadata: space.metadata } : {}),
    problems,
    healBacklog: await meta.healBacklog(ctx.db),
    stats: { ...ctx.stats },
  }
}
