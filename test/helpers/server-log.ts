/** For suites only (it registers a vitest hook); bench scripts import server.ts, never this. */
import { afterEach } from 'vitest'
import type { TestServer } from './server.ts'

/**
 * Prints the tail of a test server's stderr after each failed test of the calling suite: a 500
 * or a refused page in a suite run is then explained by the server's own log line (its
 * "request failed" entry), not only by the client's status code.
 */
export function printServerLogOnFailure(current: () => TestServer | undefined, tailChars = 8_000): void {
  afterEach((ctx) => {
    if (ctx.task.result?.state !== 'fail') return
    const log = current()?.stderr() ?? ''
    if (log) console.error(`server stderr (last ${tailChars} characters):\n${log.slice(-tailChars)}`)
  })
}
