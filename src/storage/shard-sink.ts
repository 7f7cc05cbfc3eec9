/**
 * One outgoing shard: a bounded Web stream handed to ShardStore.put, with backpressure the
 * producer awaits (bounded in time) and a failure latch. Shared by the stripe writer and healer.
 */
import { isStoreFull, type ShardStore } from './shard-store.ts'

export class ShardSink {
  private controller!: ReadableStreamDefaultController<Uint8Array>
  private wake: (() => void) | undefined
  /** Set once: why this shard will not be stored. */
  failure: unknown
  /** Settles when the store has (or has not) made the shard durable; never rejects. */
  readonly done: Promise<boolean>

  constructor(
    readonly index: number,
    readonly store: ShardStore,
    readonly name: string,
    /** Bytes the store may have queued but not yet taken; the producer waits beyond this. */
    queueBytes: number,
  ) {
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.controller = c
        },
        pull: () => {
          this.wakeUp()
        },
        cancel: (reason) => {
          this.fail(reason ?? new Error(`store ${store.id} cancelled shard ${name}`))
        },
      },
      { highWaterMark: queueBytes, size: (chunk) => chunk.byteLength },
    )
    let put: Promise<void>
    try {
      put = store.put(name, stream)
    } catch (err) {
      put = Promise.reject(err)
    }
    this.done = put.then(
      () => this.failure === undefined,
      (err) => {
        this.fail(err)
        // The store's own verdict that it is full beats whatever cancelled the stream first.
        if (isStoreFull(err)) this.failure = err
        return false
      },
    )
  }

  get failed(): boolean {
    return this.failure !== undefined
  }

  push(chunk: Uint8Array): void {
    if (this.failed) return
    try {
      this.controller.enqueue(chunk)
    } catch (err) {
      this.fail(err)
    }
  }

  /** Resolves once the queue has room (or the shard failed); a store that takes nothing for `timeoutMs` is failed. */
  async ready(timeoutMs: number): Promise<void> {
    if (this.failed || (this.controller.desiredSize ?? 0) > 0) return
    let timer: ReturnType<typeof setTimeout> | undefined
    await new Promise<void>((resolve) => {
      this.wake = resolve
      timer = setTimeout(() => {
        this.fail(new Error(`store ${this.store.id} took no data for shard ${this.name} within ${timeoutMs} ms`))
      }, timeoutMs)
    })
    clearTimeout(timer)
  }

  close(): void {
    if (this.failed) return
    try {
      this.controller.close()
    } catch (err) {
      this.fail(err)
    }
  }

  /** Errors the stream, so the store discards its temp file; first reason wins. */
  fail(reason: unknown): void {
    if (this.failed) return
    this.failure = reason ?? new Error('shard failed')
    try {
      this.controller.error(reason)
    } catch {
      // already closed or errored
    }
    this.wakeUp()
  }

  private wakeUp(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }
}
