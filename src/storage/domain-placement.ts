/**
 * Failure-domain-aware placement: which nodes take the k+m shards of a write. Weighted rendezvous
 * hashing at every level (zone, rack, node), so the answer is a pure function of the write id and
 * the candidate nodes — every gateway computes the same one and a simulation can replay it — and
 * adding a node moves only the writes it now wins. Pure; no I/O.
 *
 * Rules (docs/architecture.md §2 step 5):
 * - with at least k+m zones, each shard of a write is in a different zone;
 * - otherwise no zone gets more than ceil((k+m) / zones) shards, and never more than m while the
 *   zones' node counts allow it, so losing a whole zone leaves k shards;
 * - within a zone, shards go to distinct racks first; never two shards on one node;
 * - zones, racks and nodes win in proportion to their capacity.
 */
import { utf8 } from '../util/bytes.ts'
import { fmix64, fnv1a64, type Hash64 } from './placement.ts'

/** A node that may take a shard of this write (the caller left out draining, removed and full ones). */
export interface Candidate {
  id: string
  capacity: number
  zone: string
  rack?: string
}

const SEPARATOR = 0xff
const TWO_21 = 2 ** 21
const TWO_53 = 2 ** 53

interface Scored {
  /** capacity / -ln(u), u ∈ (0, 1) from the hash: the weighted-rendezvous score. */
  score: number
  h: Hash64
  name: string
}

/**
 * The hash is the one `rank` uses (hash(key ‖ 0xff ‖ name)), and for equal weights the score is
 * increasing in it, ties broken as `rank` does: a layout of equal-capacity nodes, each its own
 * zone (what `--nodes` bootstraps), places exactly as `rank` did before layouts existed.
 */
function scorer(key: string): (name: string, weight: number) => Scored {
  const prefix = fnv1a64(new Uint8Array([SEPARATOR]), fnv1a64(utf8(key)))
  return (name, weight) => {
    const h = fmix64(fnv1a64(utf8(name), prefix))
    const u = ((h.hi >>> 0) * TWO_21 + (h.lo >>> 11) + 0.5) / TWO_53
    return { score: weight / -Math.log(u), h, name }
  }
}

const byScore = (a: Scored, b: Scored): number =>
  b.score - a.score || b.h.hi - a.h.hi || b.h.lo - a.h.lo || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

/** Orders the nodes of one zone: racks by score, then round-robin over them, each rack's nodes by score. */
function zoneOrder(nodes: Candidate[], score: ReturnType<typeof scorer>): Candidate[] {
  const racks = new Map<string, Candidate[]>()
  // A node without a rack is a rack of its own.
  for (const n of nodes) {
    const r = n.rack === undefined ? `node:${n.id}` : `rack:${n.rack}`
    racks.set(r, [...(racks.get(r) ?? []), n])
  }
  if (racks.size === nodes.length) return orderNodes(nodes, score)
  const ranked = [...racks.entries()]
    .map(([name, members]) => ({ s: score(name, sum(members)), members: orderNodes(members, score) }))
    .sort((a, b) => byScore(a.s, b.s))
  const out: Candidate[] = []
  for (let round = 0; out.length < nodes.length; round++)
    for (const r of ranked) if (round < r.members.length) out.push(r.members[round]!)
  return out
}

function orderNodes(nodes: Candidate[], score: ReturnType<typeof scorer>): Candidate[] {
  const byId = new Map(nodes.map((n) => [n.id, n]))
  return nodes
    .map((n) => score(n.id, n.capacity))
    .sort(byScore)
    .map((s) => byId.get(s.name)!)
}

const sum = (nodes: Candidate[]): number => nodes.reduce((t, n) => t + n.capacity, 0)

/**
 * The ids of the nodes that take shards 0…n-1 of the write `key` (fewer than n when there are
 * not n candidates with capacity). Deterministic: same key and candidates, same answer.
 */
export function placeShardsInDomains(key: string, candidates: readonly Candidate[], n: number): string[] {
  const score = scorer(key)
  const zones = new Map<string, Candidate[]>()
  for (const c of candidates) {
    if (!(c.capacity > 0)) continue
    zones.set(c.zone, [...(zones.get(c.zone) ?? []), c])
  }
  const ranked = [...zones.entries()]
    .map(([zone, nodes]) => ({ s: score(zone, sum(nodes)), nodes: zoneOrder(nodes, score), taken: 0 }))
    .sort((a, b) => byScore(a.s, b.s))
  const total = ranked.reduce((t, z) => t + z.nodes.length, 0)
  const want = Math.min(n, total)
  const out: string[] = []
  // Rounds over the zones in score order, each taking its next node while under the cap; the cap
  // starts at the even share and rises only when the zones' node counts leave no other way.
  let cap = Math.ceil(want / Math.max(1, ranked.length))
  while (out.length < want) {
    let took = false
    for (const z of ranked) {
      if (out.length >= want) break
      if (z.taken < cap && z.taken < z.nodes.length) {
        out.push(z.nodes[z.taken]!.id)
        z.taken++
        took = true
      }
    }
    if (!took) cap++
  }
  return out
}

/**
 * The fewest shards of one write that some zone must take over these candidates (the largest
 * zone share placement reaches): a zone loss is survived by every write when it is at most m.
 */
export function worstZoneShare(candidates: readonly Candidate[], n: number): number {
  const sizes = new Map<string, number>()
  for (const c of candidates) if (c.capacity > 0) sizes.set(c.zone, (sizes.get(c.zone) ?? 0) + 1)
  const counts = [...sizes.values()]
  const total = counts.reduce((t, x) => t + x, 0)
  const want = Math.min(n, total)
  for (let cap = 1; ; cap++) if (counts.reduce((t, x) => t + Math.min(x, cap), 0) >= want) return cap
}
