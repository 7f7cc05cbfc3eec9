/**
 * The ForegroundLoad port (src/service/context.ts) for a gateway: requests counted as the app is
 * called, and how late a 20 ms timer runs (the request thread held by other work). A timer, not
 * node:perf_hooks' monitorEventLoopDelay, so Node, Bun and Deno measure alike.
 */
import type { ForegroundLoad } from '../service/index.ts'

const TICK_MS = 20

export interface LoadSignal extends ForegroundLoad {
  /** Call as each request starts. */
  started(): void
  close(): void
}

export function createLoadSignal(): LoadSignal {
  let requests = 0
  let worst = 0
  let expected = performance.now() + TICK_MS
  const timer = setInterval(() => {
    const now = performance.now()
    worst = Math.max(worst, now - expected)
    expected = now + TICK_MS
  }, TICK_MS)
  // Never keeps a process alive by itself (Node, Bun; Deno's timers have no unref here).
  ;(timer as { unref?: () => void }).unref?.()
  return {
    started: () => {
      requests++
    },
    requests: () => requests,
    loopDelayMs: () => {
      // A tick still waiting counts too: the thread may be held right now.
      const d = Math.max(worst, performance.now() - expected)
      worst = 0
      return Math.max(0, d)
    },
    close: () => clearInterval(timer),
  }
}
