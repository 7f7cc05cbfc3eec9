/**
 * Keeping k+m healthy shards: the healer drains the heal queue (degraded writes and reads, and
 * what the scrubber finds), the scrubber walks every object — a cheap stat of each shard, and a
 * full checksum pass within a byte budget — and orphan collection removes shards of crashed writes.
 */
import * as meta from '../meta/index.ts'
import { type DataLayout, type HealResult, parseDataLayout, QuorumError } from '../storage/index.ts'
import type { DurabilityStats, ServiceContext } from './context.ts'
import { checkInline, type InlineRef, layoutsOf, parseStoredData } from './stored-data.ts'
import { recordedLayout } from './rebalance/garbage.ts'

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

/** Per service: the heal pass running now, so a full pass never works beside the background healer. */
const healing = new WeakMap<ServiceContext, Promise<unknown>>()

/** Runs `work` once no other heal pass of this service is running. */
async function exclusive<T>(ctx: ServiceContext, work: () => Promise<T>): Promise<T> {
  const before = healing.get(ctx) ?? Promise.resolve()
  const run = before.catch(() => {}).then(work)
  healing.set(ctx, run)
  try {
    return await run
  } finally {
    if (healing.get(ctx) === run) healing.delete(ctx)
  }
}

/** How long a taken entry stays leased: an unfinished heal (a store still down) is retried a few healer ticks later. */
const leaseMs = (ctx: ServiceContext) => Math.max(1000, 3 * ctx.tuning.healIntervalMs)

/** Heals up to `limit` due queued layouts; returns how many were finished. */
export function healRound(ctx: ServiceContext, limit = 16): Promise<number> {
  return exclusive(ctx, async () => {
    const entries = await meta.takeHeal(ctx.db, limit, leaseMs(ctx))
    return (await healEntries(ctx, entries)).finished
  })
}

export interface HealPass {
  /** Queue entries taken (each once). */
  taken: number
  /** Entries finished and removed from the queue. */
  finished: number
}

/**
 * Takes every entry of the heal queue once, leased or not (an entry another attempt left leased,
 * say while a store was down, is due now: an operator asked), and heals it. Entries queued while
 * it runs are taken too. What cannot finish (a store still down, data lost) stays queued.
 */
export function healAll(ctx: ServiceContext, batch = 64): Promise<HealPass> {
  return exclusive(ctx, async () => {
    const pass: HealPass = { taken: 0, finished: 0 }
    let after = 0
    // Bounded: ids only grow, and each round starts past the last id taken.
    for (let round = 0; round < 1_000_000; round++) {
      const entries = await meta.takeHeal(ctx.db, batch, leaseMs(ctx), Date.now(), after)
      if (entries.length === 0) break
      after = entries.at(-1)!.id
      pass.taken += entries.length
      pass.finished += (await healEntries(ctx, entries)).finished
    }
    return pass
  })
}

/** Heals taken entries, HEAL_CONCURRENCY at a time; finished ones (and hopeless ones) leave the queue. */
async function healEntries(ctx: ServiceContext, entries: readonly meta.HealEntry[]): Promise<{ finished: number }> {
  const done: number[] = []
  let finished = 0
  let next = 0
  const worker = async () => {
    for (let entry = entries[next++]; entry; entry = entries[next++]) await healOne(entry)
  }
  const healOne = async (entry: meta.HealEntry) => {
    let id = '(malformed layout)'
    try {
      const queued = parseDataLayout(entry.layout)
      id = queued.id
      // Where the shards are now: the rebalance mover may have moved some since it was queued.
      const layout = (await recordedLayout(ctx, id)) ?? queued
      const owner = await ownerOf(ctx, id)
      if (owner === 'none') {
        // Deleted or overwritten since it was queued: its data is GC's (or orphan collection's) to
        // remove, and a shard rebuilt now would belong to nobody.
        done.push(entry.id)
        finished++
        return
      }
      // A degraded write queued before its row commits: heal it once the row is there (or once
      // orphan collection has removed it, when the write fails). The lease brings it back.
      if (owner === 'intent') return
      const result = await healClaimed(ctx, layout)
      ctx.stats.shardsRebuilt += result.rebuilt.length
      for (const c of result.checks) {
        if (c.state === 'corrupt') ctx.stats.corruptShardsFound++
        if (c.state === 'missing') ctx.stats.missingShardsFound++
      }
      if (result.pending.length === 0 || result.orphaned) {
        done.push(entry.id)
        finished++
      }
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
  return { finished }
}

/** Who keeps a write's data: a committed row (object or part), an unsettled write intent, or nobody. */
async function ownerOf(ctx: ServiceContext, id: string): Promise<'row' | 'intent' | 'none'> {
  if (await meta.isReferenced(ctx.db, id)) return 'row'
  return (await meta.hasIntent(ctx.db, id)) ? 'intent' : 'none'
}

/**
 * Heals the data of a write a row referenced a moment ago, without ever leaving a shard nobody
 * will collect. The row may be deleted (or replaced) while the heal runs, and GC may remove the
 * write's shards before the heal writes its rebuilt ones (GC's grace only delays that): the
 * rebuilt file would then belong to nobody. So:
 * 1. before writing, the heal claims the write id with a fresh write intent (claimIntent): if the
 *    process dies before step 2, orphan collection looks at the id after its grace and removes
 *    the shards unless a row references them (and it clears only intents it judged stale, so it
 *    cannot drop a claim renewed under it);
 * 2. after the rebuilt shards are in place, it looks again: a row still referencing the id then
 *    will, when deleted later, queue GC for the id, and that removal comes after our files landed,
 *    so they are collected; no row: the data is garbage, and the heal removes it itself.
 * Checking only before writing would race with GC; checking only after would leak when the
 * process dies in between; a claim GC had to wait for would need a lease that outlives every heal.
 * With shards still pending (a store down or late), the claim stays for orphan collection: a
 * late file may still land.
 */
async function healClaimed(ctx: ServiceContext, layout: DataLayout): Promise<HealResult & { orphaned: boolean }> {
  await meta.claimIntent(ctx.db, layout.id)
  const result = await ctx.storage.heal(layout)
  if (!(await meta.isReferenced(ctx.db, layout.id))) {
    await ctx.storage.remove(layout)
    await meta.clearIntents(ctx.db, [layout.id])
    return { ...result, orphaned: true }
  }
  if (result.pending.length === 0) await meta.clearIntents(ctx.db, [layout.id])
  return { ...result, orphaned: false }
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
  const last = rows.at(-1)
  state.cursor = rows.length < batch || !last ? undefined : { bucket: last.bucket, key: last.key, ord: last.ord }
  let budget = deepBytes
  const toHeal: DataLayout[] = []
  for (const row of rows) {
    if (row.layout === null) continue // a delete marker: no data
    const what = `object ${row.bucket}/${row.key}`
    const data = parseStoredData(row.layout, what)
    for (const seg of data.segments) {
      if (!seg.inline || budget < seg.inline.length) continue
      budget -= seg.inline.length
      await scrubInline(ctx, row, seg.inline, what)
    }
    for (const layout of layoutsOf(data)) {
      const deep = budget >= layout.size
      if (deep) budget -= layout.size
      const checks = deep ? await ctx.storage.verifyShards(layout) : await ctx.storage.probeShards(layout)
      if (checks.some((c) => c.state === 'missing' || c.state === 'corrupt')) toHeal.push(layout)
    }
  }
  if (toHeal.length > 0) await meta.enqueueHeal(ctx.db, toHeal, 'scrub')
  return rows.length
}

/**
 * Checks the inline bytes (§2 step 8) of version `at`, whose row was read a moment ago: they have
 * no redundancy to heal from, so damage is reported only. Bytes that fail are judged against the
 * row as it is now: the version overwritten or deleted meanwhile (and its bytes collected) is no
 * damage (the soak saw that false alarm).
 */
export async function scrubInline(
  ctx: ServiceContext,
  at: meta.LayoutCursor,
  ref: InlineRef,
  what: string,
): Promise<void> {
  try {
    checkInline(ctx.platform, ref, (await meta.getInline(ctx.db, [ref.id])).get(ref.id), what)
    return
  } catch (e) {
    const now = await meta.objectLayoutAt(ctx.db, at)
    const stillNamed = now !== undefined && parseStoredData(now, what).segments.some((seg) => seg.inline?.id === ref.id)
    if (!stillNamed) return
    ctx.stats.corruptShardsFound++
    ctx.logger.log('error', 'scrub: the bytes of an inline object are damaged; restore it from a backup', {
      error: String(e),
    })
  }
}

/** Removes the shards of writes whose intent is older than `graceMs` and that nothing references. */
export async function collectOrphans(ctx: ServiceContext, graceMs: number, now = Date.now()): Promise<number> {
  const before = new Date(now - graceMs)
  const ids = await meta.staleIntents(ctx.db, before, 100)
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
  // Only intents still as old as judged: one a heal renewed meanwhile (its claim) stays.
  if (settled.length > 0) await meta.clearStaleIntents(ctx.db, settled, before)
  return settled.length
}
