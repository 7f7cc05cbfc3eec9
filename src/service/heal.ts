/**
 * Keeping k+m healthy shards: the healer drains the heal queue (degraded writes and reads, and
 * what the scrubber finds), the scrubber walks every object — a cheap stat of each shard, and a
 * full checksum pass within a byte budget — and orphan collection removes shards of crashed writes.
 */
import * as meta from '../meta/index.ts'
import { type DataLayout, parseDataLayout, QuorumError } from '../storage/index.ts'
import type { DurabilityStats, ServiceContext } from './context.ts'
import { layoutsOf, parseStoredData } from './stored-data.ts'

/** A heal that keeps failing (its data lost for good, or a store down for days) is dropped after this many tries. */
const MAX_HEAL_ATTEMPTS = 200
/** Heals run this many at a time: each reads whole shards from several stores. */
const HEAL_CONCURRENCY = 4

export const emptyStats = (): DurabilityStats => ({
  degradedReads: 0,
  degradedWrites: 0,
  shardsRebuilt: 0,
  corruptShardsFound: 0,
  missingShardsFound: 0,
  orphansRemoved: 0,
  healFailures: 0,
  scrubPasses: 0,
})

/** Heals up to `limit` queued layouts; returns how many were finished. */
export async function healRound(ctx: ServiceContext, limit = 16): Promise<number> {
  // An unfinished heal (a store still down) is retried a few healer ticks later.
  const entries = await meta.takeHeal(ctx.db, limit, Math.max(1000, 3 * ctx.tuning.healIntervalMs))
  const done: number[] = []
  let next = 0
  const worker = async () => {
    for (let entry = entries[next++]; entry; entry = entries[next++]) await healOne(entry)
  }
  const healOne = async (entry: meta.HealEntry) => {
    let id = '(malformed layout)'
    try {
      const layout = parseDataLayout(entry.layout)
      id = layout.id
      const result = await ctx.storage.heal(layout)
      ctx.stats.shardsRebuilt += result.rebuilt.length
      for (const c of result.checks) {
        if (c.state === 'corrupt') ctx.stats.corruptShardsFound++
        if (c.state === 'missing') ctx.stats.missingShardsFound++
      }
      if (result.pending.length === 0) done.push(entry.id)
    } catch (e) {
      ctx.stats.healFailures++
      const lost = e instanceof QuorumError
      if (entry.attempts >= MAX_HEAL_ATTEMPTS) {
        ctx.logger.log('error', 'giving up healing', {
          layout: id,
          attempts: entry.attempts,
          lost,
          error: String(e),
        })
        done.push(entry.id)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(HEAL_CONCURRENCY, entries.length) }, worker))
  if (done.length > 0) await meta.doneHeal(ctx.db, done)
  return done.length
}

export interface ScrubState {
  cursor?: meta.LayoutCursor
}

/**
 * Scrubs the next `batch` objects: stats every shard (finds emptied drives and lost nodes) and
 * reads whole objects while `deepBytes` lasts (finds bitrot). Wraps around at the end.
 */
export async function scrubRound(
  ctx: ServiceContext,
  state: ScrubState,
  batch: number,
  deepBytes: number,
): Promise<number> {
  const rows = await meta.objectLayoutsAfter(ctx.db, state.cursor, batch)
  if (rows.length < batch) ctx.stats.scrubPasses++
  state.cursor = rows.length < batch ? undefined : { bucket: rows.at(-1)!.bucket, key: rows.at(-1)!.key }
  let budget = deepBytes
  const toHeal: DataLayout[] = []
  for (const row of rows) {
    for (const layout of layoutsOf(parseStoredData(row.layout, `object ${row.bucket}/${row.key}`))) {
      const deep = budget >= layout.size
      if (deep) budget -= layout.size
      const checks = deep ? await ctx.storage.verifyShards(layout) : await ctx.storage.probeShards(layout)
      if (checks.some((c) => c.state === 'missing' || c.state === 'corrupt')) toHeal.push(layout)
    }
  }
  if (toHeal.length > 0) await meta.enqueueHeal(ctx.db, toHeal, 'scrub')
  return rows.length
}

/** Removes the shards of writes whose intent is older than `graceMs` and that nothing references. */
export async function collectOrphans(ctx: ServiceContext, graceMs: number, now = Date.now()): Promise<number> {
  const ids = await meta.staleIntents(ctx.db, new Date(now - graceMs), 100)
  const settled: string[] = []
  for (const id of ids) {
    try {
      if (!(await meta.isReferenced(ctx.db, id))) {
        await ctx.storage.removeById(id)
        ctx.stats.orphansRemoved++
      }
      settled.push(id)
    } catch {
      // A store is down: try again next round.
    }
  }
  if (settled.length > 0) await meta.clearIntents(ctx.db, settled)
  return settled.length
}
