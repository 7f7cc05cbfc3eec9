/**
 * Reused read buffers for the GET path. Every fresh ArrayBuffer adds to V8's external-memory
 * pressure, and on a big GET that pressure, not the heap, set off a full mark-compact every
 * ≈ 0.3 s (docs/architecture.md §8, "Garbage collection drives GET CPU"): a shard read buffer
 * that goes back to a pool once its bytes are consumed is one fresh buffer per byte fewer.
 *
 * The lifetime rule is counting, and it is one-sided on purpose. A buffer is leased with the
 * number of views of it its producer will hand on (`holders`); each consumer calls
 * `releaseBytes(view)` once, when no code will read that view again. The buffer returns to its
 * pool only when every holder has released. A holder that never releases — an error, a cancel,
 * a consumer that knows nothing of pools — only costs the reuse: the buffer is then garbage like
 * any other. What must never happen is a release too many (a view released twice, or more views
 * handed on than `holders`): the buffer would be leased again while a reader still holds it.
 */

interface Lease {
  readonly pool: BytePool
  holders: number
}

/** Leased buffers by their memory: releaseBytes finds the lease from any view of it. */
const leases = new WeakMap<ArrayBufferLike, Lease>()

export class BytePool {
  private readonly free = new Map<number, Uint8Array[]>()
  private freeBytes = 0

  /**
   * Keeps at most `maxFreeBytes` of released buffers for reuse; the rest are left to the GC.
   * `written`: the pool's buffers are released by the store that writes them (`releaseWritten`,
   * after the write), never by `releaseBytes`, and a store releases no other pool's: a producer
   * may hand a store a buffer leased for readers (a shard copy's), which its readers release.
   */
  constructor(
    readonly maxFreeBytes: number,
    readonly written = false,
  ) {}

  /** A buffer of exactly `size` bytes (contents undefined) for `holders` views to be handed on. */
  lease(size: number, holders: number): Uint8Array {
    if (!Number.isSafeInteger(holders) || holders < 1) throw new RangeError(`holders must be ≥ 1, got ${holders}`)
    let buf = this.free.get(size)?.pop()
    if (buf) this.freeBytes -= size
    else buf = new Uint8Array(size)
    leases.set(buf.buffer, { pool: this, holders })
    return buf
  }

  /** Bytes held for reuse (for tests and metrics). */
  get idleBytes(): number {
    return this.freeBytes
  }

  /** @internal releaseBytes' last step: the buffer has no holder left. */
  keep(buf: Uint8Array): void {
    if (this.freeBytes + buf.length > this.maxFreeBytes) return
    const list = this.free.get(buf.length)
    if (list) list.push(buf)
    else this.free.set(buf.length, [buf])
    this.freeBytes += buf.length
  }
}

/**
 * The caller is done with `view` (see the rule above). A view of memory no pool leased is
 * ignored, so a consumer may release whatever it was given.
 */
export function releaseBytes(view: Uint8Array): void {
  const lease = leases.get(view.buffer)
  if (lease && !lease.pool.written) release(view, lease)
}

/**
 * A store has written `view` and will not read it again: the write side's releaseBytes, for
 * pools made with `written` (any other view is ignored).
 */
export function releaseWritten(view: Uint8Array): void {
  const lease = leases.get(view.buffer)
  if (lease?.pool.written) release(view, lease)
}

function release(view: Uint8Array, lease: Lease): void {
  lease.holders--
  if (lease.holders > 0) return
  leases.delete(view.buffer)
  lease.pool.keep(new Uint8Array(view.buffer))
}
