/**
 * A small pool of worker threads (hash-worker.mjs) that hash request bodies off the request thread:
 * the Platform port's offloadDigest. Uses node:worker_threads, which Node, Deno and Bun all provide.
 */
import { Worker } from 'node:worker_threads'
import type { AsyncDigest, OffloadAlgorithm } from '../util/platform.ts'

export interface HashPoolOptions {
  /** Worker threads; 0 makes a pool that takes no jobs. */
  size: number
  /** Bytes copied into one message to a worker. */
  batchBytes?: number
  /** Per job: bytes handed to the worker and not yet hashed before update() asks the caller to wait. */
  maxInFlightBytes?: number
  /** Longest wait for a worker's answer before the job fails and that worker is replaced. */
  replyTimeoutMs?: number
  /** The worker script (tests point it at a faulty one). */
  workerUrl?: URL
}

export interface HashPool {
  readonly size: number
  /** A job on the least busy worker; undefined once closed or when size is 0. */
  digest(algorithms: readonly OffloadAlgorithm[]): AsyncDigest | undefined
  /** Fails open jobs and terminates the workers; resolves when they are gone (bounded). */
  close(): Promise<void>
}

// Tunables. One message per batch keeps postMessage overhead small against hashing the batch
// (~1 ms of MD5 per 512 KiB); a few batches in flight let the request thread keep reading while the
// worker hashes, and bound the copies per request (a 5 GiB body never holds more than this).
const BATCH_BYTES = 512 * 1024
const MAX_IN_FLIGHT_BYTES = 2 * 1024 * 1024
/** Generous: a busy worker clears a full queue of many requests in well under a second. */
const REPLY_TIMEOUT_MS = 30_000
const TERMINATE_TIMEOUT_MS = 5_000
/** Spare batch buffers kept for reuse across jobs. */
const MAX_FREE_BUFFERS = 16

const WORKER_URL = new URL('./hash-worker.mjs', import.meta.url)

type Message =
  | { t: 'buf'; id: number; buf: ArrayBuffer }
  | { t: 'done'; id: number; digests: Uint8Array[] }
  | { t: 'fail'; id: number; message: string }

interface Waiter<T> {
  resolve(value: T): void
  reject(e: Error): void
  timer: ReturnType<typeof setTimeout>
}

/** A wait that rejects after `ms`: `onTimeout` runs then and must reject it (through fail()). */
function boundedWait<T>(ms: number, onTimeout: () => void): { promise: Promise<T>; waiter: Waiter<T> } {
  let waiter!: Waiter<T>
  const promise = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(onTimeout, ms)
    // A pending wait must not keep a process alive on its own; the busy worker is ref'd instead.
    ;(timer as { unref?: () => void }).unref?.()
    waiter = { resolve, reject, timer }
  })
  return { promise, waiter }
}

class Slot {
  worker: Worker | undefined
  readonly jobs = new Map<number, Job>()
  constructor(private readonly pool: Pool) {}

  ensureWorker(): Worker {
    if (this.worker) return this.worker
    const w = new Worker(this.pool.workerUrl)
    let cause: Error | undefined
    w.on('message', (m: Message) => this.onMessage(m))
    w.on('error', (e: Error) => {
      cause = e
    })
    w.on('messageerror', (e: Error) => {
      cause = e
    })
    w.on('exit', (code: number) => {
      if (this.worker === w)
        this.kill(new Error(`hash worker exited (code ${code})${cause ? `: ${cause.message}` : ''}`))
    })
    w.unref()
    this.worker = w
    return w
  }

  post(message: unknown, transfer: ArrayBuffer[] = []): void {
    this.worker?.postMessage(message, transfer)
  }

  add(job: Job): void {
    if (this.jobs.size === 0) this.worker?.ref()
    this.jobs.set(job.id, job)
  }

  remove(job: Job): void {
    if (!this.jobs.delete(job.id)) return
    if (this.jobs.size === 0) this.worker?.unref()
  }

  /** Fails every job on this worker and terminates it; the next job starts a fresh one. */
  kill(error: Error): Promise<void> {
    const w = this.worker
    this.worker = undefined
    for (const job of [...this.jobs.values()]) job.fail(error)
    this.jobs.clear()
    if (!w) return Promise.resolve()
    return Promise.race([
      w.terminate().then(
        () => {},
        () => {},
      ),
      new Promise<void>((r) => {
        ;(setTimeout(r, TERMINATE_TIMEOUT_MS) as { unref?: () => void }).unref?.()
      }),
    ])
  }

  private onMessage(m: Message): void {
    const job = this.jobs.get(m.id)
    if (m.t === 'buf') {
      this.pool.giveBack(m.buf)
      job?.bufferBack(m.buf.byteLength)
    } else if (m.t === 'done') {
      job?.finish(m.digests)
    } else if (m.t === 'fail') {
      job?.fail(new Error(`hash worker: ${m.message}`))
    }
  }
}

class Job implements AsyncDigest {
  private batch: Uint8Array | undefined
  private filled = 0
  private inFlight = 0
  private waiter: Waiter<void> | undefined
  private finisher: Waiter<Uint8Array[]> | undefined
  private error: Error | undefined
  private state: 'open' | 'ending' | 'closed' = 'open'

  constructor(
    private readonly pool: Pool,
    private readonly slot: Slot,
    readonly id: number,
    algorithms: readonly OffloadAlgorithm[],
  ) {
    slot.add(this)
    slot.post({ t: 'begin', id, algorithms: [...algorithms] })
  }

  update(chunk: Uint8Array): Promise<void> | undefined {
    if (this.error) return Promise.reject(this.error)
    if (this.state !== 'open') throw new Error('hash job: update() after digest() or abort()')
    for (let off = 0; off < chunk.length; ) {
      this.batch ??= this.pool.takeBuffer()
      const batch = this.batch
      const n = Math.min(chunk.length - off, batch.length - this.filled)
      batch.set(chunk.subarray(off, off + n), this.filled)
      this.filled += n
      off += n
      if (this.filled === batch.length) this.send()
    }
    if (this.inFlight < this.pool.maxInFlightBytes) return undefined
    const { promise, waiter } = boundedWait<void>(this.pool.replyTimeoutMs, () => this.timedOut())
    this.waiter = waiter
    return promise
  }

  digest(): Promise<Uint8Array[]> {
    if (this.error) return Promise.reject(this.error)
    if (this.state !== 'open') throw new Error('hash job: digest() called twice or after abort()')
    if (this.filled > 0) this.send()
    this.state = 'ending'
    this.slot.post({ t: 'end', id: this.id })
    const { promise, waiter } = boundedWait<Uint8Array[]>(this.pool.replyTimeoutMs, () => this.timedOut())
    this.finisher = waiter
    return promise
  }

  abort(): void {
    if (this.state === 'closed') return
    this.slot.post({ t: 'abort', id: this.id })
    // A wait still pending (the body was cancelled mid-wait) ends now, and its timer with it.
    this.fail(new Error('hash job aborted'))
  }

  bufferBack(bytes: number): void {
    this.inFlight -= bytes
    if (this.waiter && this.inFlight < this.pool.maxInFlightBytes) {
      const w = this.waiter
      this.waiter = undefined
      clearTimeout(w.timer)
      w.resolve()
    }
  }

  finish(digests: Uint8Array[]): void {
    const f = this.finisher
    this.finisher = undefined
    this.close()
    if (f) {
      clearTimeout(f.timer)
      f.resolve(digests)
    }
  }

  fail(error: Error): void {
    if (this.state === 'closed') return
    this.error = error
    for (const w of [this.waiter, this.finisher]) {
      if (!w) continue
      clearTimeout(w.timer)
      w.reject(error)
    }
    this.waiter = this.finisher = undefined
    this.close()
  }

  private send(): void {
    const batch = this.batch!
    // Counted before the transfer: it detaches the buffer, whose length then reads 0.
    this.inFlight += batch.byteLength
    this.slot.post({ t: 'data', id: this.id, buf: batch.buffer, len: this.filled }, [batch.buffer as ArrayBuffer])
    this.batch = undefined
    this.filled = 0
  }

  private timedOut(): void {
    if (this.state === 'closed') return
    // A worker that stops answering is replaced: its other jobs fail too rather than wait forever.
    void this.slot.kill(new Error(`hash worker did not answer within ${this.pool.replyTimeoutMs} ms`))
  }

  private close(): void {
    this.state = 'closed'
    if (this.batch) this.pool.giveBack(this.batch.buffer as ArrayBuffer)
    this.batch = undefined
    this.slot.remove(this)
  }
}

class Pool implements HashPool {
  readonly slots: Slot[]
  readonly batchBytes: number
  readonly maxInFlightBytes: number
  readonly replyTimeoutMs: number
  readonly workerUrl: URL
  private readonly free: ArrayBuffer[] = []
  private nextId = 1
  private closed = false

  constructor(o: HashPoolOptions) {
    if (!Number.isInteger(o.size) || o.size < 0)
      throw new RangeError(`hash pool size must be a whole number ≥ 0, got ${o.size}`)
    this.batchBytes = positive('batchBytes', o.batchBytes ?? BATCH_BYTES)
    // NaN here would make update() never wait (a comparison with NaN is false): unbounded memory.
    this.maxInFlightBytes = positive('maxInFlightBytes', o.maxInFlightBytes ?? MAX_IN_FLIGHT_BYTES)
    this.replyTimeoutMs = positive('replyTimeoutMs', o.replyTimeoutMs ?? REPLY_TIMEOUT_MS)
    this.workerUrl = o.workerUrl ?? WORKER_URL
    this.slots = Array.from({ length: o.size }, () => new Slot(this))
    // Started now so the first big PUT does not pay the worker's start-up.
    for (const s of this.slots) s.ensureWorker()
  }

  get size(): number {
    return this.slots.length
  }

  digest(algorithms: readonly OffloadAlgorithm[]): AsyncDigest | undefined {
    if (this.closed || this.slots.length === 0) return undefined
    // One job stays on one worker (its bytes must be hashed in order); jobs spread by load.
    let slot = this.slots[0]!
    for (const s of this.slots) if (s.jobs.size < slot.jobs.size) slot = s
    slot.ensureWorker()
    return new Job(this, slot, this.nextId++, algorithms)
  }

  takeBuffer(): Uint8Array {
    return new Uint8Array(this.free.pop() ?? new ArrayBuffer(this.batchBytes))
  }

  giveBack(buf: ArrayBuffer): void {
    if (buf.byteLength === this.batchBytes && this.free.length < MAX_FREE_BUFFERS) this.free.push(buf)
  }

  async close(): Promise<void> {
    this.closed = true
    await Promise.all(this.slots.map((s) => s.kill(new Error('hash pool closed'))))
    this.free.length = 0
  }
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`hash pool ${name} must be a number above 0, got ${v}`)
  return v
}

export function createHashPool(options: HashPoolOptions): HashPool {
  return new Pool(options)
}
