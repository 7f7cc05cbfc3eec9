/**
 * Stripes cut out of a body's own pieces, without joining them: a stripe is a list of views of
 * the pieces (one that straddles a stripe's or a block's edge is cut into two views), and each
 * data block goes to its shard as those views. Joining them into a fresh 1 MiB stripe per stripe
 * was a copy of every byte and most of the write path's garbage (docs/architecture.md §8, "Big
 * PUTs: a stripe made of the body's pieces"). Web APIs only.
 */
import type { ErasureCodec } from './codec.ts'

type PieceReader = ReadableStreamDefaultReader<Uint8Array | readonly Uint8Array[]>

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
 * The k data blocks of a full stripe (k × blockSize bytes), each as the views of the stripe's
 * pieces that make it up, in order.
 */
export function blockPieces(stripe: PieceStripe, k: number, blockSize: number): Uint8Array[][] {
  const blocks: Uint8Array[][] = []
  let block: Uint8Array[] = []
  let fill = 0
  for (let p of stripe.pieces) {
    while (p.length > 0) {
      const n = Math.min(blockSize - fill, p.length)
      block.push(n === p.length ? p : p.subarray(0, n))
      fill += n
      p = p.subarray(n)
      if (fill === blockSize) {
        blocks.push(block)
        block = []
        fill = 0
      }
    }
  }
  if (blocks.length !== k || fill !== 0)
    throw new RangeError(`blockPieces: a stripe of ${stripe.length} bytes is not ${k} blocks of ${blockSize}`)
  return blocks
}

/** A codec that can lend a workspace in its own memory (codec-simd.ts' SimdCodec). */
interface Workspace {
  shardViews(count: number, len: number): Uint8Array[]
}
const hasWorkspace = (codec: ErasureCodec): codec is ErasureCodec & Workspace =>
  typeof (codec as Partial<Workspace>).shardViews === 'function'

/**
 * Each block as one buffer of `len` bytes for the codec and the block checksum: a block of one
 * piece as it is; else its pieces copied into the codec's workspace, as the SIMD codec copies a
 * JS buffer into its memory before encoding anyway, or, for another codec, joined into a fresh
 * buffer. Workspace views are valid only until the codec's next call: use them synchronously.
 */
export function contiguousBlocks(codec: ErasureCodec, blocks: Uint8Array[][], len: number): Uint8Array[] {
  let workspace: Uint8Array[] | undefined
  return blocks.map((pieces, i) => {
    if (pieces.length === 1) return pieces[0]!
    workspace ??= hasWorkspace(codec) ? codec.shardViews(blocks.length, len) : undefined
    const out = workspace?.[i] ?? new Uint8Array(len)
    let at = 0
    for (const p of pieces) {
      out.set(p, at)
      at += p.length
    }
    return out
  })
}
