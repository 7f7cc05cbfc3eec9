/**
 * Reads one shard's blocks stripe after stripe through ShardStore.get, checking each block's
 * checksum, with a bounded wait per block. Shared by the stripe reader and the healer.
 */
import type { BytePool } from '../util/byte-pool.ts'
import { concatStreams } from '../util/streams.ts'
import type { BlockChecksum } from './block-checksum.ts'
import { withTimeout } from './erasure-common.ts'
import { blockLength, type StripeGeometry } from './geometry.ts'
import { blockOffset, spanLength, type ShardOffsets } from './shard-format.ts'
import { ShardNotFound, type ShardStore } from './shard-store.ts'

export type BlockFault = 'missing' | 'corrupt' | 'timeout' | 'unavailable'

/** Why a shard's block could not be used; the reader then turns to parity. */
export class BlockError extends Error {
  constructor(
    readonly fault: BlockFault,
    readonly shard: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/**
 * Accumulates a byte stream and hands out exact-length pieces (views when one chunk suffices).
 * A piece joined from several chunks goes into a buffer of `pool` when one is given, leased for
 * the one view its caller hands on: a remote shard's blocks arrive as 16 KiB TLS records, and a
 * fresh 256 KiB buffer per block was garbage the GC had to chase (docs/architecture.md §8).
 */
export class ExactReader {
  private parts: Uint8Array[] = []
  private have = 0
  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly pool?: BytePool,
  ) {}

  async read(n: number): Promise<Uint8Array | undefined> {
    while (this.have < n) {
      const { done, value } = await this.reader.read()
      if (done) return undefined
      if (value.length === 0) continue
      this.parts.push(value)
      this.have += value.length
    }
    const first = this.parts[0]
    if (first && first.length >= n) {
      const out = first.subarray(0, n)
      if (first.length === n) this.parts.shift()
      else this.parts[0] = first.subarray(n)
      this.have -= n
      return out
    }
    const out = this.pool ? this.pool.lease(n, 1) : new Uint8Array(n)
    let off = 0
    while (off < n) {
      const p = this.parts[0]!
      const take = Math.min(p.length, n - off)
      out.set(p.subarray(0, take), off)
      off += take
      if (take === p.length) this.parts.shift()
      else this.parts[0] = p.subarray(take)
    }
    this.have -= n
    return out
  }

  cancel(reason?: unknown): void {
    this.parts = []
    this.have = 0
    this.reader.cancel(reason).catch(() => {})
  }
}

export interface CursorTarget {
  index: number
  name: string
  /** Undefined when the layout's store is no longer configured. */
  store: ShardStore | undefined
  storeId: string
  /** Stripe → the seed its block checksum starts from (shard-format.ts `blockSeeds`). */
  seed: (stripe: number) => number
  /**
   * The exact header the file must start with, checked before its first block is used; for
   * shards whose block checksums are not bound to their identity (format v1). Bound checksums
   * (v2) make this unnecessary: a block from any other shard fails its own check.
   */
  header?: Uint8Array
}

/**
 * One shard's block reader over stripes [.., lastStripe]. Opening is lazy; a read of the stripe
 * after the previous one continues the same stream, any other stripe reopens at that stripe.
 */
export class BlockCursor {
  private input: ExactReader | undefined
  private next = -1
  /** Set by dispose(): the read this cursor served is over, so no stream is opened again. */
  private disposed = false
  /** 'unchecked' until the expected header has been compared (v1 only), then 'ok' or 'wrong'. */
  private header: 'unchecked' | 'ok' | 'wrong'

  constructor(
    readonly target: CursorTarget,
    private readonly g: StripeGeometry,
    private readonly o: ShardOffsets,
    private readonly checksum: BlockChecksum,
    private readonly lastStripe: number,
    private readonly timeoutMs: number,
    /** Where blocks that arrive in pieces are joined (ExactReader); each block is one view of its buffer. */
    private readonly pool?: BytePool,
    /**
     * false: blocks are handed on without their checksum checked (ReadOptions.verify in
     * object-storage.ts: the caller authenticates every byte itself and asks again with checks).
     */
    private readonly verify = true,
  ) {
    this.header = target.header ? 'unchecked' : 'ok'
  }

  /** The verified block of stripe `s`; throws BlockError. */
  async read(s: number): Promise<Uint8Array> {
    const { index, store, storeId, name } = this.target
    if (!store) throw new BlockError('unavailable', index, `store ${storeId} of shard ${index} is not configured`)
    // A read launched after its owner ended (a cancelled GET whose pull was in flight) would open
    // a shard stream nobody cancels: over a node, a connection and its response held open.
    if (this.disposed) throw new BlockError('unavailable', index, `shard ${name} on ${storeId}: the read has ended`)
    if (this.header === 'wrong') throw this.wrongHeader()
    if (!this.input || this.next !== s) this.open(store, s)
    const len = blockLength(this.g, s)
    const input = this.input!
    this.next = s + 1
    let bytes: Uint8Array | undefined
    try {
      if (this.header === 'unchecked') await this.checkHeader(input)
      bytes = await withTimeout(
        input.read(len + this.o.checksumSize),
        this.timeoutMs,
        () => new BlockError('timeout', index, `shard ${name} on ${storeId}: no block within ${this.timeoutMs} ms`),
      )
    } catch (err) {
      this.close(err)
      if (err instanceof BlockError) throw err
      if (err instanceof ShardNotFound) throw new BlockError('missing', index, err.message, { cause: err })
      // A range past the end of the file means a truncated shard: damage, like a bad checksum.
      if (err instanceof RangeError) throw new BlockError('corrupt', index, err.message, { cause: err })
      throw new BlockError('unavailable', index, `shard ${name} on ${storeId}: ${(err as Error)?.message ?? err}`, {
        cause: err,
      })
    }
    if (!bytes) {
      this.close()
      throw new BlockError('corrupt', index, `shard ${name} on ${storeId} ended early at stripe ${s}`)
    }
    const block = bytes.subarray(0, len)
    if (this.verify && !this.checksum.check(block, bytes.subarray(len), this.target.seed(s))) {
      // The stream stays usable: the next block may well be fine (damage is judged per stripe).
      throw new BlockError('corrupt', index, `shard ${name} on ${storeId}: checksum mismatch at stripe ${s}`)
    }
    return block
  }

  /** Reads the header in front of the blocks (open put it there) and compares it byte for byte. */
  private async checkHeader(input: ExactReader): Promise<void> {
    const expected = this.target.header!
    const got = await withTimeout(
      input.read(expected.length),
      this.timeoutMs,
      () =>
        new BlockError(
          'timeout',
          this.target.index,
          `shard ${this.target.name} on ${this.target.storeId}: no header within ${this.timeoutMs} ms`,
        ),
    )
    // A short file is caught by the block read that follows (it ends early).
    if (!got) return
    for (let i = 0; i < expected.length; i++) {
      if (got[i] !== expected[i]) {
        this.header = 'wrong'
        throw this.wrongHeader()
      }
    }
    this.header = 'ok'
  }

  private wrongHeader(): BlockError {
    const { index, name, storeId } = this.target
    return new BlockError('corrupt', index, `shard ${name} on ${storeId}: its header names another shard`)
  }

  private open(store: ShardStore, s: number): void {
    this.close()
    const offset = blockOffset(this.g, this.o, s)
    const length = spanLength(this.g, this.o, s, this.lastStripe)
    const unit = this.g.blockSize + this.o.checksumSize
    const { name, header } = this.target
    let stream: ReadableStream<Uint8Array>
    try {
      stream =
        this.header === 'unchecked'
          ? // The header, then the blocks: one more request (v1 shards only), nothing read twice.
            concatStreams([() => store.get(name, 0, header!.length), () => store.get(name, offset, length, unit)])
          : store.get(name, offset, length, unit)
    } catch (err) {
      stream = new ReadableStream({ start: (c) => c.error(err) })
    }
    this.input = new ExactReader(stream.getReader(), this.pool)
  }

  close(reason?: unknown): void {
    this.input?.cancel(reason)
    this.input = undefined
    this.next = -1
  }

  /** Closes the stream for good: a later read throws instead of opening another. */
  dispose(reason?: unknown): void {
    this.disposed = true
    this.close(reason)
  }
}
