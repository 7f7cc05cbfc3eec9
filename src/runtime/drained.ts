/**
 * Waiting out backpressure on a Node writable (a shard request on the gateway, a shard answer on
 * a node) that is written chunk by chunk.
 */
import type { Writable } from 'node:stream'

/** Resolves when `out` can take more, or is closed (the caller then finds it destroyed). */
export function drained(out: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done)
      out.off('close', done)
      resolve()
    }
    out.on('drain', done)
    out.on('close', done)
  })
}
