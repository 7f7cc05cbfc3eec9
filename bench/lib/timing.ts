/**
 * Timing loops: a CPU micro-benchmark runner (warm-up, then batches until a minimum time) and a
 * bounded concurrent load runner (N workers, stop at a count or a deadline) with per-op latencies.
 */
import { mbPerSec, perSec } from './stats.ts'

export interface MicroOptions {
  /** Bytes processed by one call (for MB/s). */
  bytesPerOp: number
  /** Measure for at least this long (ms). */
  minMs: number
  /** Run (untimed) for about this long first, so the JIT and caches settle. */
  warmupMs?: number
  /** Hard stop on iterations, whatever the time (keeps a slow path bounded). */
  maxOps?: number
}

export interface MicroResult {
  ops: number
  ms: number
  mbps: number
  opsPerSec: number
}

/**
 * Calls `fn` in doubling batches until minMs have passed. Batching keeps performance.now() out of
 * the inner loop for fast operations; `fn` may be async (awaited one at a time).
 */
export async function micro(fn: () => unknown, opts: MicroOptions): Promise<MicroResult> {
  const maxOps = opts.maxOps ?? 1e7
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const r = fn()
      if (r instanceof Promise) await r
    }
  }
  const warmEnd = performance.now() + (opts.warmupMs ?? 100)
  let batch = 1
  do {
    await run(batch)
    batch = Math.min(batch * 2, 1024)
  } while (performance.now() < warmEnd)

  let ops = 0
  batch = 1
  const start = performance.now()
  let elapsed = 0
  while (elapsed < opts.minMs && ops < maxOps) {
    await run(batch)
    ops += batch
    elapsed = performance.now() - start
    // Grow batches while they are short, so timer reads stay negligible.
    if (elapsed < opts.minMs / 4) batch = Math.min(batch * 2, 4096)
  }
  return { ops, ms: elapsed, mbps: mbPerSec(ops * opts.bytesPerOp, elapsed), opsPerSec: perSec(ops, elapsed) }
}

export interface LoadOptions {
  concurrency: number
  /** Stop issuing new operations after this many. */
  maxOps: number
  /** Stop issuing new operations after this long (ms); running ones finish. */
  maxMs: number
  /** At least this many operations, even past maxMs (so a slow target still gets a sample). */
  minOps?: number
}

export interface LoadResult {
  ops: number
  errors: number
  firstError?: string
  bytes: number
  ms: number
  /** Per-operation latency in ms, successful operations only. */
  latencies: number[]
  mbps: number
  opsPerSec: number
}

/**
 * Runs `op(i)` from `concurrency` workers until maxOps or maxMs; `op` resolves with the bytes it
 * moved. Errors are counted (and the first kept), never retried: a retry would hide them.
 */
export async function load(op: (i: number) => Promise<number>, opts: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = []
  let next = 0
  let bytes = 0
  let errors = 0
  let firstError: string | undefined
  const minOps = Math.min(opts.minOps ?? 1, opts.maxOps)
  const start = performance.now()
  const more = () => next < opts.maxOps && (next < minOps || performance.now() - start < opts.maxMs)
  const worker = async () => {
    while (more()) {
      const i = next++
      const t = performance.now()
      try {
        // Not `bytes += await op(i)`: that reads `bytes` before the await and loses the other
        // workers' additions made meanwhile.
        const moved = await op(i)
        bytes += moved
        latencies.push(performance.now() - t)
      } catch (e) {
        errors++
        firstError ??= e instanceof Error ? `${e.name}: ${e.message}` : String(e)
        // A target that fails fast must not spin: give up after a burst of errors.
        if (errors >= 20 && errors > latencies.length) break
      }
    }
  }
  await Promise.all(Array.from({ length: opts.concurrency }, worker))
  const ms = performance.now() - start
  const ops = latencies.length
  return { ops, errors, firstError, bytes, ms, latencies, mbps: mbPerSec(bytes, ms), opsPerSec: perSec(ops, ms) }
}
