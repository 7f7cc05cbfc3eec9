/**
 * Moving one shard of a stored write to another store (the rebalance mover's data step,
 * docs/architecture.md §14): the shard file is streamed from where the layout says it is to the
 * target (the target's put is atomic and fsynced before the rename), then read back whole on the
 * target and checked as the healer checks (header, every block's bound checksum, trailer,
 * length). A source that is down, missing or corrupt — or a copy that does not verify — is
 * rebuilt on the target from the stripe's other shards instead. Nothing here changes what any
 * layout names: the caller switches the recorded location afterwards, in the metadata.
 */
import { erasureLayout, geometryOf, offsetsOf, type EngineContext } from './erasure-common.ts'
import { checkShard, heal } from './healer.ts'
import type { DataLayout, ErasureLayout } from './object-storage.ts'
import { abortable } from '../util/streams.ts'
import { shardFileLength, shardName } from './shard-format.ts'

export interface ShardCopy {
  /** Bytes of the shard file now on the target. */
  bytes: number
  /** copied: streamed from its source; rebuilt: decoded from the other shards (source down or bad). */
  how: 'copied' | 'rebuilt'
}

/** `layout` with shard `index` on `target`: the layout the caller records once the copy is in place. */
export function withShardOn(dataLayout: DataLayout, index: number, target: string): ErasureLayout {
  const layout = erasureLayout(dataLayout)
  return { ...layout, stores: layout.stores.map((s, i) => (i === index ? target : s)) }
}

/**
 * Puts a verified copy of shard `index` of `layout` on store `target`; throws when none could be
 * made. `stopping` aborting ends the streamed copy at once (the target's put then keeps nothing)
 * and throws its reason instead of rebuilding; a check or rebuild already running goes on.
 */
export async function copyShard(
  ctx: EngineContext,
  dataLayout: DataLayout,
  index: number,
  target: string,
  stopping?: AbortSignal,
): Promise<ShardCopy> {
  stopping?.throwIfAborted()
  const layout = erasureLayout(dataLayout)
  const to = ctx.stores.get(target)
  if (!to) throw new Error(`store ${target} is not configured`)
  if (layout.stores.includes(target)) throw new Error(`${layout.id} already has a shard on ${target}`)
  const moved = withShardOn(layout, index, target)
  const name = shardName(layout.id, index)
  const bytes = shardFileLength(geometryOf(layout), offsetsOf(layout, ctx.checksumFor(layout.checksum)))
  const from = ctx.stores.get(layout.stores[index]!)
  let copied = false
  if (from) {
    try {
      await to.put(name, abortable(from.get(name, 0, bytes), stopping))
      // A rotten or truncated source fails this check on the copy, and is rebuilt below instead.
      copied = (await checkShard(ctx, moved, index)).check.state === 'ok'
    } catch {
      copied = false
    }
  }
  if (copied) return { bytes, how: 'copied' }
  // A stop that cut the copy short is no reason to rebuild: the caller's round ends here.
  stopping?.throwIfAborted()
  // The source is down, missing or corrupt (or the copy did not verify): decode it from the
  // others onto the target, and write nothing else — other bad shards are the healer's, which
  // claims the write first (the row may be gone and GC removing the write meanwhile).
  const result = await heal(ctx, moved, index)
  const check = await checkShard(ctx, moved, index)
  if (check.check.state !== 'ok' || result.pending.includes(index)) {
    await to.delete(name).catch(() => {})
    throw new Error(`could not copy ${name} to ${target}: ${check.check.detail ?? check.check.state}`)
  }
  return { bytes, how: 'rebuilt' }
}
