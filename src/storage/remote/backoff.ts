/**
 * NodeBackoff: remembers that a storage node did not answer, so the gateway's requests to it fail
 * at once for a short while (reads go straight to parity) instead of each paying a connect failure
 * or a timeout; then one request at a time tries the node again. Pure logic, clock injected.
 */

/** Long enough to spare a burst of requests the failure, short enough that a restarted node is used again soon. */
export const DOWN_BACKOFF_MS = 3000

export class NodeBackoff {
  /** 0 while the node is believed up; else when the next try may go. */
  private downUntil = 0
  private failedAt = 0
  /** While a trial request is out, others still fail fast; the lease ends even if the trial is lost. */
  private trialUntil = 0
  private cause = ''

  constructor(
    /** 0 turns the back-off off: every request goes to the node. */
    private readonly backoffMs: number,
    /** How long a trial request may take before another one is let through (the request timeout). */
    private readonly trialMs: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isFinite(backoffMs) || backoffMs < 0)
      throw new RangeError(`downBackoffMs must be 0 or more, got ${backoffMs}`)
  }

  /** True while requests are refused without trying the node. */
  get down(): boolean {
    return this.downUntil !== 0 && this.now() < Math.max(this.downUntil, this.trialUntil)
  }

  /**
   * Undefined when a request may go to the node (after the back-off, the first caller becomes the
   * trial); otherwise why it must not, for the caller's error message.
   */
  refusal(): string | undefined {
    if (this.downUntil === 0) return undefined
    const t = this.now()
    if (t < this.downUntil || t < this.trialUntil) {
      return `not tried: the node did not answer ${t - this.failedAt} ms ago (${this.cause}); it is tried again every ${this.backoffMs} ms`
    }
    this.trialUntil = t + this.trialMs
    return undefined
  }

  /** The node answered (any HTTP status): it is reachable. */
  answered(): void {
    this.downUntil = 0
    this.trialUntil = 0
  }

  /** The node did not answer: no connection, a reset, or no progress within the timeout. */
  failed(cause: string): void {
    if (this.backoffMs === 0) return
    const t = this.now()
    this.failedAt = t
    this.downUntil = t + this.backoffMs
    this.trialUntil = 0
    this.cause = cause
  }
}
