/**
 * Seeded randomness for the soak: one stream per actor (each worker, the fault scheduler), all
 * derived from the run's seed, so `--seed S` replays the same choices in the same order per actor.
 */

/** mulberry32: small, fast, and good enough to pick operations (not for keys or secrets). */
export class Rng {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** A uniform float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list')
    return items[Math.floor(this.next() * items.length)]!
  }

  /** One name by weight; names with weight 0 are never picked. */
  weighted<T extends string>(weights: Readonly<Partial<Record<T, number>>>): T {
    const entries = Object.entries(weights).filter(([, w]) => (w as number) > 0) as [T, number][]
    const total = entries.reduce((s, [, w]) => s + w, 0)
    if (total <= 0) throw new Error('no positive weight')
    let r = this.next() * total
    for (const [name, w] of entries) {
      r -= w
      if (r < 0) return name
    }
    return entries.at(-1)![0]
  }

  /** A derived, independent stream (for a sub-actor), reproducible from this one's seed. */
  fork(label: number): Rng {
    return new Rng(Math.imul(this.state ^ (label * 0x9e3779b1), 0x85ebca6b) ^ label)
  }
}

/** A fresh seed when none is given: printed at start and end so the run can be replayed. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31)
}

/** Deterministic bytes for (seed, label): the payload of an operation, so a replay writes the same bytes. */
export function payload(seed: number, label: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size)
  const r = new Rng(seed ^ Math.imul(label, 0x27d4eb2d))
  let i = 0
  for (; i + 4 <= size; i += 4) out.writeUInt32LE(Math.floor(r.next() * 4294967296), i)
  for (; i < size; i++) out[i] = Math.floor(r.next() * 256)
  return out
}
