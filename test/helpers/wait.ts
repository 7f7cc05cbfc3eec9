/** Bounded polling for tests and their helpers (server.ts and shards.ts use it; it imports neither). */

/**
 * Polls `probe` every `intervalMs` until it returns true, or fails after `timeoutMs` with the last
 * thing it returned instead (a description of what is still missing) or threw.
 */
export async function waitFor(
  what: string,
  probe: () => Promise<true | string | false>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const r = await probe()
      if (r === true) return
      last = r
    } catch (e) {
      last = e instanceof Error ? e.message : e
    }
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${String(last)}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
