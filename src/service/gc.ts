/**
 * Garbage collection of stored data that no metadata row points at any more (overwritten and
 * deleted objects, replaced and unused parts, aborted uploads). Entries wait a grace period so
 * that reads already streaming the old data finish first.
 *
 * It must keep up with the write rate, or sustained overwrites fill the disk: a pass takes due
 * entries in batches, removes up to GC_PARALLEL layouts at once, and goes on while due work is
 * left — bounded per pass (GC_MAX_BATCHES_PER_PASS) and yielding between batches, so requests
 * and other background work still run; the scheduler starts the next pass at once when a pass
 * stopped at its bound (src/service/background.ts). docs/architecture.md §9.
 */
import * as meta from '../meta/index.ts'
import { type DataLayout, isDataLayout, parseDataLayout } from '../storage/index.ts'
import type { ServiceContext } from './context.ts'
import { collectOrphans } from './heal.ts'
import { inlineIdsOf, layoutsOf, parseStoredData } from './stored-data.ts'
import { collectShardGarbage, isShardGarbage } from './rebalance/garbage.ts'

/** Long enough for a slow client to finish streaming a large object it had already opened. */
export const GC_GRACE_MS = 10 * 60_000
/** Entries taken (and leased) per metadata round trip. */
export const GC_BATCH = 500
/** Layouts removed at once; each removal deletes its k+m shards in parallel. */
export const GC_PARALLEL = 8
/** A pass ends after this many batches (10,000 entries) even if more is due: bounded work. */
export const GC_MAX_BATCHES_PER_PASS = 20
/**
 * The first retry of a removal that failed (meta.retryGcLater): long enough for a node marked
 * down to be tried again (its backoff is 3 s) or to restart, short enough that its shards do not
 * outlive a node's blip by minutes. Later retries back off to GC_LEASE_MS.
 */
export const GC_RETRY_MIN_MS = 10_000

export interface GcOptions {
  batch?: number
  parallel?: number
  maxBatches?: number
}

export interface GcPass {
  /** Entries whose data was removed (and which left the queue). */
  removed: number
  /**
   * Entries that could not be removed now (a store down): re-leased for a retry after
   * GC_RETRY_MIN_MS, backing off up to GC_LEASE_MS while they keep failing.
   */
  failed: number
  /** The pass stopped at its bound with due work left: run the next one without waiting. */
  more: boolean
}

/**
 * The data an entry names: an object row's layout (all its segments) or a single storage layout
 * (a part, or data a failed write could not remove at once).
 */
export function garbageLayouts(entry: unknown): DataLayout[] {
  if (isDataLayout(entry)) return [entry]
  if (typeof entry === 'object' && entry !== null && 'segments' in entry)
    return layoutsOf(parseStoredData(entry, 'a gc_queue entry'))
  return [parseDataLayout(entry)]
}

/** The `inline_data` ids an entry names (an inline object's row went): deleted with the entry. */
export function garbageInlineIds(entry: unknown): string[] {
  if (typeof entry === 'object' && entry !== null && 'segments' in entry)
    return inlineIdsOf(parseStoredData(entry, 'a gc_queue entry'))
  return []
}

/** Runs `fn` over `items` with at most `width` at once. */
async function pooled<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker))
}

/** One bounded pass over the due entries; see the file comment. */
export async function collectGarbage(
  ctx: ServiceContext,
  now = Date.now(),
  graceMs = GC_GRACE_MS,
  o: GcOptions = {},
): Promise<GcPass> {
  const batch = o.batch ?? GC_BATCH
  const parallel = o.parallel ?? GC_PARALLEL
  const maxBatches = o.maxBatches ?? GC_MAX_BATCHES_PER_PASS
  const dueBefore = new Date(now - graceMs)
  const pass: GcPass = { removed: 0, failed: 0, more: false }
  for (let round = 0; round < maxBatches; round++) {
    if (round > 0) await yieldToOthers()
    const due = await meta.takeGc(ctx.db, batch, dueBefore, meta.GC_LEASE_MS, now)
    const done: number[] = []
    const failed: number[] = []
    const inline: string[] = []
    await pooled(due, parallel, async (entry) => {
      try {
        // One shard a move left behind (docs/architecture.md §14), not a whole write.
        if (isShardGarbage(entry.layout)) await collectShardGarbage(ctx, entry.layout)
        else for (const layout of garbageLayouts(entry.layout)) await ctx.storage.remove(layout)
        // An inline object's bytes go with its entry, in one transaction (doneGc).
        inline.push(...garbageInlineIds(entry.layout))
        done.push(entry.id)
      } catch {
        // The store may be down: the entry is retried soon, then less and less often (a
        // malformed one for good: nothing can tell which shards it meant).
        failed.push(entry.id)
      }
    })
    if (done.length > 0) await meta.doneGc(ctx.db, done, inline)
    // Unless this fails too: then the entries keep the whole lease, as if the pass had died.
    if (failed.length > 0)
      await meta.retryGcLater(ctx.db, failed, {
        now,
        leasedUntil: now + meta.GC_LEASE_MS,
        dueBefore,
        minMs: GC_RETRY_MIN_MS,
        maxMs: meta.GC_LEASE_MS,
      })
    pass.failed += failed.length
    pass.removed += done.length
    if (due.length < batch) return pass
  }
  pass.more = true
  return pass
}

/** collectOrphans settles at most this many intents per call. */
const ORPHAN_BATCH = 100

/**
 * Orphan collection, bounded like a GC pass: batches of stale intents while full ones come back
 * (a batch that settles fewer than it could means the rest is not due, or a store is down).
 */
export async function collectOrphansPass(
  ctx: ServiceContext,
  graceMs: number,
  maxBatches = GC_MAX_BATCHES_PER_PASS,
): Promise<{ settled: number; more: boolean }> {
  let settled = 0
  for (let round = 0; round < maxBatches; round++) {
    if (round > 0) await yieldToOthers()
    const n = await collectOrphans(ctx, graceMs)
    settled += n
    if (n < ORPHAN_BATCH) return { settled, more: false }
  }
  return { settled, more: true }
}

/** Lets queued requests and timers run between two batches of background work. */
export const yieldToOthers = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0))
