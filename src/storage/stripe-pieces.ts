/**
 * How the stripe writer reads a body: PooledBlocks copies its pieces, as they arrive, into
 * block-sized buffers from the write pool, and StripeCutter groups what it reads into stripes
 * (views of the pieces, cut only at a stripe's edge), so a full stripe is k whole pooled blocks.
 * Before, stripes were cut from the body's own pieces, uncopied (and before that joined into a
 * fresh 1 MiB buffer per stripe, docs/architecture.md §8, "Big PUTs"); but a piece then lived until
 * its whole stripe had been written, and such long-lived fresh buffers set off V8's full
 * collections (§8, "Six-node PUTs: data blocks filled from the pool"). Web APIs only.
 */
import { type BytePool, releaseWritten } from '../util/byte-pool.ts'

/** What StripeCutter reads: a body's reader, or PooledBlocks over one. */
export interface PieceReader {
  read(): Promise<ReadableStreamReadResult<Uint8Array | readonly Uint8Array[]>>
}

export interface PieceStripe {
  /** The stripe's bytes in order: views of the body's pieces, none empty. */
  pieces: Uint8Array[]
  length: number
}

/** Reads a body of pieces (or batches of them) as stripes of `size` bytes, the last one shorter. */
export class StripeCutter {
  /** Pieces read but not yet cut into a stripe, from `at` on. */
  private queue: Uint8Array[] = []
  private at = 0

  constructor(
    private readonly reader: PieceReader,
    private readonly size: number,
  ) {}

  /** The next stripe; undefined once the body has ended. The body's own error rejects unchanged. */
  async next(): Promise<PieceStripe | undefined> {
    const pieces: Uint8Array[] = []
    let length = 0
    for (;;) {
      while (this.at < this.queue.length) {
        const p = this.queue[this.at]!
        const room = this.size - length
        if (p.length <= room) {
          if (p.length > 0) pieces.push(p)
          length += p.length
          this.at++
        } else {
          pieces.push(p.subarray(0, room))
          this.queue[this.at] = p.subarray(room)
          length += room
        }
        if (length === this.size) return { pieces, length }
      }
      const { done, value } = await this.reader.read()
      if (done) return length > 0 ? { pieces, length } : undefined
      // A copy of a batch's array (not its bytes): the cutter rewrites entries it cuts.
      this.queue = isBatch(value) ? value.slice() : [value]
      this.at = 0
    }
  }
}

const isBatch = (v: Uint8Array | readonly Uint8Array[]): v is readonly Uint8Array[] => Array.isArray(v)

/**
 * A body's pieces copied, as they are read, into blocks of `blockSize` bytes leased from `pool`
 * (each for one holder: the store that writes it gives it back, releaseWritten). Each read
 * answers the blocks it filled, so a full stripe is k whole blocks and reaches the codec and the
 * stores as they are. A short last block is copied out and its pooled buffer given back (a 1 MiB
 * object's ciphertext ends in a few hundred bytes of tags past its stripe).
 *
 * Why copy: a piece is a fresh buffer (a TLS record's body, a sealed package). Cut into stripes
 * uncopied, it lived until its whole stripe had arrived and been written, which with eight
 * uploads at once outlasted V8's young generation: the pieces were promoted and left to full
 * mark-compacts, ≈ 35 per GiB. Copied at once, they die in the next scavenge. A node's shard
 * needed its blocks joined anyway; a drive, which writes pieces with writev, pays one copy more.
 * The producer may also reuse a piece once the next read has begun.
 */
export class PooledBlocks implements PieceReader {
  private block: Uint8Array | undefined
  private fill = 0
  private ended = false

  constructor(
    private readonly reader: PieceReader,
    private readonly blockSize: number,
    private readonly pool: BytePool,
  ) {}

  async read(): Promise<ReadableStreamReadResult<Uint8Array[]>> {
    const filled: Uint8Array[] = []
    while (filled.length === 0 && !this.ended) {
      const { done, value } = await this.reader.read() // the body's own error propagates unchanged
      if (done) {
        this.ended = true
        if (this.block) filled.push(this.lastBlock(this.block))
        this.block = undefined
        break
      }
      for (const piece of isBatch(value) ? value : [value]) this.copy(piece, filled)
    }
    return filled.length > 0 ? { done: false, value: filled } : { done: true, value: undefined }
  }

  /** The short last block as a buffer of its own; the pooled one goes back at once. */
  private lastBlock(block: Uint8Array): Uint8Array {
    const last = block.slice(0, this.fill)
    releaseWritten(block)
    return last
  }

  private copy(piece: Uint8Array, filled: Uint8Array[]): void {
    let at = 0
    while (at < piece.length) {
      this.block ??= this.pool.lease(this.blockSize, 1)
      const n = Math.min(this.blockSize - this.fill, piece.length - at)
      this.block.set(n === piece.length ? piece : piece.subarray(at, at + n), this.fill)
      this.fill += n
      at += n
      if (this.fill === this.blockSize) {
        filled.push(this.block)
        this.block = undefined
        this.fill = 0
      }
    }
  }
}
