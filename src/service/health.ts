/**
 * The service's health as /_coffer/health and /_coffer/metrics report it: stores up or down,
 * whether writes can reach their quorum, the heal backlog and the durability counters.
 */
import * as meta from '../meta/index.ts'
import type { DurabilityStats, ServiceContext } from './context.ts'

export interface Health {
  /** 'ok' while enough stores are up for a write to reach its quorum. */
  status: 'ok' | 'degraded'
  /** `k+m`, e.g. `4+2`. */
  ec: string
  stores: { id: string; up: boolean }[]
  healBacklog: number
  stats: DurabilityStats
}

export async function health(ctx: ServiceContext): Promise<Health> {
  const stores = await Promise.all(
    ctx.stores.map(async (s) => ({ id: s.id, up: await s.healthy().catch(() => false) })),
  )
  const { k, m } = ctx.ec
  const up = stores.filter((s) => s.up).length
  return {
    status: up >= k + (k === m ? 1 : 0) ? 'ok' : 'degraded',
    ec: `${k}+${m}`,
    stores,
    healBacklog: await meta.healBacklog(ctx.db),
    stats: { ...ctx.stats },
  }
}
