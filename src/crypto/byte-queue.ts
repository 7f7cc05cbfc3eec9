/**
 * A FIFO of byte chunks from which exact-size pieces are taken: how both package streams re-cut
 * arbitrary network/storage chunks into packages. Views when a piece lies in one chunk, else a copy.
 */

export class ByteQueue {
  private chunks: Uint8Array[] = []
  private head = 0 // read offset into chunks[0]
  length = 0
  /** Chunks every byte of which has been taken, kept for takeSpent when tracking is on. */
  private spent: Uint8Array[] | undefined

  /** `trackSpent`: remember fully taken chunks for takeSpent (the read path gives them back). */
  constructor(options: { trackSpent?: boolean } = {}) {
    if (options.trackSpent) this.spent = []
  }

  /**
   * The chunks whose every byte has been taken since the last call, each once. The pieces taken
   * from them are views: a caller gives them back only once it is done with those views.
   */
  takeSpent(): Uint8Array[] {
    const out = this.spent ?? []
    if (this.spent) this.spent = []
    return out
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.length += chunk.length
  }

  /** Removes and returns exactly `n` bytes (n ≤ length). */
  take(n: number): Uint8Array {
    if (n > this.length) throw new RangeError(`take(${n}) with only ${this.length} bytes queued`)
    this.length -= n
    const first = this.chunks[0]
    if (n === 0) return new Uint8Array(0)
    if (first && first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n)
      this.advance(first, n)
      return out
    }
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      const c = this.chunks[0]!
      const m = Math.min(n - filled, c.length - this.head)
      out.set(c.subarray(this.head, this.head + m), filled)
      filled += m
      this.advance(c, m)
    }
    return out
  }

  /** Removes exactly `n` bytes (n ≤ length) as views of the queued chunks: no copy. */
  takePieces(n: number): Uint8Array[] {
    if (n > this.length) throw new RangeError(`take(${n}) with only ${this.length} bytes queued`)
    this.length -= n
    const out: Uint8Array[] = []
    let left = n
    while (left > 0) {
      const c = this.chunks[0]!
      const m = Math.min(left, c.length - this.head)
      out.push(c.subarray(this.head, this.head + m))
      left -= m
      this.advance(c, m)
    }
    return out
  }

  private advance(chunk: Uint8Array, n: number): void {
    this.head += n
    if (this.head === chunk.length) {
      this.chunks.shift()
      this.head = 0
      this.spent?.push(chunk)
    }
  }
}
