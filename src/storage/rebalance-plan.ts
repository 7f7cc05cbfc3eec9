/**
 * Which shards of one stored write the rebalance mover moves, and where (docs/architecture.md
 * §14). The target is the placement the write would get under the layout in use now — the same
 * weighted rendezvous hashing of its write id that new writes use (domain-placement.ts) — so a
 * drained node (never a candidate) is emptied, and after `node add` only the writes whose
 * placement now names the new node move, about the node's share of the data, each to a set of
 * stores that keeps the zone rules new writes keep. Pure.
 */

export interface ShardMove {
  index: number
  from: string
  to: string
}

/**
 * Moves that take `stores` (where each shard is, by index) to `desired` (the placement now):
 * every shard on a store outside `desired` goes to a desired store that holds none of this write's
 * shards yet, in placement order. Shards already on a desired store stay, whatever their index:
 * any store may hold any shard. With fewer desired stores than misplaced shards (too few
 * candidates with room), the rest stay where they are.
 */
export function planMoves(stores: readonly string[], desired: readonly string[]): ShardMove[] {
  const want = new Set(desired)
  const held = new Set(stores)
  const free = desired.filter((s) => !held.has(s))
  const moves: ShardMove[] = []
  stores.forEach((from, index) => {
    if (want.has(from)) return
    const to = free.shift()
    if (to !== undefined) moves.push({ index, from, to })
  })
  return moves
}
