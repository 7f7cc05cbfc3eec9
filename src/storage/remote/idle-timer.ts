/**
 * IdleTimer: the remote store's per-request timeout, which counts only while the node is the one
 * being waited for (not the gateway's own producer or consumer). Web APIs only.
 */

/**
 * An abort timer that counts only while the node is the one we are waiting for. Cheap per chunk:
 * run() stamps the time, and a single pending timeout re-arms itself for the remainder.
 */
export class IdleTimer {
  readonly controller = new AbortController()
  private last = 0
  private counting = false
  private timer: ReturnType<typeof setTimeout> | undefined
  /** Rejects with the abort reason; settled once, shared by every race. */
  private readonly aborted: Promise<never>

  constructor(
    private readonly ms: number,
    private readonly what: string,
  ) {
    this.aborted = new Promise<never>((_, reject) => {
      this.controller.signal.addEventListener('abort', () => reject(this.controller.signal.reason), { once: true })
    })
    this.aborted.catch(() => {}) // observed through race(); never an unhandled rejection
  }

  readonly run = () => {
    this.last = Date.now()
    this.counting = true
    this.timer ??= setTimeout(this.fire, this.ms)
  }

  readonly pause = () => {
    this.counting = false
  }

  /** Ends the timer for good (no timeout stays pending). */
  readonly stop = () => {
    this.counting = false
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private readonly fire = () => {
    this.timer = undefined
    if (!this.counting) return // run() re-arms
    const idle = Date.now() - this.last
    if (idle >= this.ms) this.controller.abort(new Error(`${this.what}: no progress within ${this.ms} ms`))
    else this.timer = setTimeout(this.fire, this.ms - idle)
  }

  get timedOut(): boolean {
    return this.controller.signal.aborted
  }

  /**
   * `p`, or the abort reason once aborted: a transport that ignores the signal cannot hang us.
   * Once per request only: each race leaves a reaction on `aborted` until the timer is dropped.
   */
  race<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.aborted])
  }
}
