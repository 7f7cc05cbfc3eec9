/**
 * Failed console sign-ins, counted per access key and per client address: after `limit`
 * failures within `windowMs` the identifier is refused until its window ends, before any
 * secret is looked at. Memory is bounded: at most `maxEntries` identifiers are tracked, the
 * oldest dropped first (an attacker flooding with fresh identifiers only evicts its own).
 * Per gateway and in memory; the sign-in also counts every failure in the shared metadata
 * (src/service/console-sign-in-limit.ts), so N gateways give one budget. This one still holds
 * when that table is full, and costs nothing to ask.
 */
export interface RateLimitOptions {
  limit: number
  windowMs: number
  maxEntries: number
}

export const SIGN_IN_LIMITS: RateLimitOptions = { limit: 5, windowMs: 15 * 60 * 1000, maxEntries: 10_000 }

interface Entry {
  failures: number
  /** When the window that began at the first failure ends (epoch ms). */
  resetAt: number
}

export class FailureLimiter {
  readonly #entries = new Map<string, Entry>()
  readonly #o: RateLimitOptions
  constructor(o: RateLimitOptions = SIGN_IN_LIMITS) {
    this.#o = o
  }

  /** Milliseconds until `id` may try again; 0 when it may try now. */
  retryAfter(id: string, now = Date.now()): number {
    const e = this.#entries.get(id)
    if (!e) return 0
    if (e.resetAt <= now) {
      this.#entries.delete(id)
      return 0
    }
    return e.failures >= this.#o.limit ? e.resetAt - now : 0
  }

  fail(id: string, now = Date.now()): void {
    const e = this.#entries.get(id)
    if (e && e.resetAt > now) {
      e.failures++
      return
    }
    if (e) this.#entries.delete(id)
    while (this.#entries.size >= this.#o.maxEntries) {
      const oldest = this.#entries.keys().next().value
      if (oldest === undefined) break
      this.#entries.delete(oldest)
    }
    this.#entries.set(id, { failures: 1, resetAt: now + this.#o.windowMs })
  }

  /** A successful sign-in clears its key's count (never the address's: one good account must not reset it). */
  clear(id: string): void {
    this.#entries.delete(id)
  }

  get size(): number {
    return this.#entries.size
  }
}

/** Access keys are short; a longer one is refused unread, and never kept whole in the limiter. */
export const MAX_ACCESS_KEY_LENGTH = 128

/**
 * The identifiers one sign-in attempt counts against: the client address and the access key,
 * the key cut to MAX_ACCESS_KEY_LENGTH so the limiter's memory stays bounded per entry too.
 */
export function attemptIds(accessKeyId: string, address: string): { key: string; address: string } {
  return { key: `key:${accessKeyId.slice(0, MAX_ACCESS_KEY_LENGTH)}`, address: `ip:${address}` }
}
