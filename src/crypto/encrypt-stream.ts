/**
 * Plaintext stream → D@RE ciphertext stream (package-format.ts). Pull-driven: holds the current
 * input chunks (at most one package beyond what it seals, because the final flag is only known
 * at end of input) and one output chunk being filled.
 */
import type { Aead, AeadKey } from './aead.ts'
import { ByteQueue } from './byte-queue.ts'
import { derivePackageKey, PACKAGE_PAYLOAD, type PackageParams, packageContext } from './package-format.ts'

/**
 * Ciphertext leaves in chunks of this many bytes (the last one shorter): the stripe size of the
 * default geometry (4 × 256 KiB blocks). encryptStream copies the sealed pieces into such chunks,
 * so one stream hop carries a stripe's worth (a hop per piece cost more than the copy,
 * docs/architecture.md §8, "Big PUTs"). encryptPieces hands its pieces on in smaller batches
 * (PIECE_BATCH, see there).
 */
export const CIPHER_CHUNK = 1024 * 1024
/** encryptPieces' batches: at least a block of the default geometry (see there). */
export const PIECE_BATCH = 256 * 1024

export interface PackageOptions extends PackageParams {
  aead: Aead
  /** Bytes per output chunk (the last one shorter), or per batch at least; default CIPHER_CHUNK (encryptPieces: PIECE_BATCH). */
  outputChunk?: number
}

/**
 * Fills fixed-size chunks from pieces of any size: each byte is copied once, into the chunk it
 * leaves in.
 */
class ChunkFiller {
  readonly ready: Uint8Array[] = []
  private buf: Uint8Array | undefined
  private fill = 0

  constructor(private readonly size: number) {}

  add(piece: Uint8Array): void {
    let at = 0
    while (at < piece.length) {
      this.buf ??= new Uint8Array(this.size)
      const n = Math.min(this.size - this.fill, piece.length - at)
      this.buf.set(piece.subarray(at, at + n), this.fill)
      this.fill += n
      at += n
      if (this.fill === this.size) {
        this.ready.push(this.buf)
        this.buf = undefined
        this.fill = 0
      }
    }
  }

  /** Moves the partly filled chunk to `ready`: a copy of its bytes when it is mostly empty (small objects). */
  flush(): void {
    if (!this.buf || this.fill === 0) return
    this.ready.push(this.fill * 2 < this.size ? this.buf.slice(0, this.fill) : this.buf.subarray(0, this.fill))
    this.buf = undefined
    this.fill = 0
  }
}

/**
 * Gathers pieces, uncopied, into batches of at least `size` bytes. The pieces are the sealer's
 * own fresh output (and views of nothing that is reused), so a consumer may keep them.
 */
class PieceBatcher {
  readonly ready: Uint8Array[][] = []
  private batch: Uint8Array[] = []
  private bytes = 0

  constructor(private readonly size: number) {}

  add(piece: Uint8Array): void {
    if (piece.length === 0) return
    this.batch.push(piece)
    this.bytes += piece.length
    if (this.bytes >= this.size) this.flush()
  }

  flush(): void {
    if (this.bytes === 0) return
    this.ready.push(this.batch)
    this.batch = []
    this.bytes = 0
  }
}

/** Where sealed pieces go, and the chunks made of them that are ready to leave. */
interface Output<T> {
  readonly ready: T[]
  add(piece: Uint8Array): void
  flush(): void
}

/**
 * Encrypts `source` into packages. Errors of `source` propagate unchanged (the storage layer
 * relies on the error's identity); cancelling the result cancels `source`.
 * Throws synchronously (RangeError) on a malformed key, prefix, object id, part number or chunk size.
 */
export function encryptStream(source: ReadableStream<Uint8Array>, options: PackageOptions): ReadableStream<Uint8Array> {
  return sealingStream(source, options, (size) => new ChunkFiller(size))
}

/**
 * As encryptStream, but the ciphertext leaves as batches of the sealed pieces themselves (in
 * order, each batch at least `outputChunk` bytes but the last): no copy into output chunks. For
 * the stripe writer (src/storage/stripe-pieces.ts), which copies them into pooled blocks as they
 * come. Its default batch is PIECE_BATCH, not CIPHER_CHUNK: a piece that waited for a 1 MiB batch
 * lived long enough, with eight uploads at once, to be promoted out of V8's young generation and
 * left to a full collection (docs/architecture.md §8, "Six-node PUTs: data blocks filled from the
 * pool"); a batch per package cost 1 MiB PUTs more hops than it saved.
 */
export function encryptPieces(
  source: ReadableStream<Uint8Array>,
  options: PackageOptions,
): ReadableStream<Uint8Array[]> {
  return sealingStream(source, { outputChunk: PIECE_BATCH, ...options }, (size) => new PieceBatcher(size))
}

function sealingStream<T>(
  source: ReadableStream<Uint8Array>,
  options: PackageOptions,
  output: (size: number) => Output<T>,
): ReadableStream<T> {
  const ctx = packageContext(options) // validates before anything is read
  const chunk = options.outputChunk ?? CIPHER_CHUNK
  if (!Number.isSafeInteger(chunk) || chunk <= 0)
    throw new RangeError(`outputChunk must be a positive integer, got ${chunk}`)
  const { aead } = options
  const reader = source.getReader()
  const queue = new ByteQueue()
  const out = output(chunk)
  let key: AeadKey | undefined
  let index = 0
  let ended = false

  /** Seals the next `n` queued bytes as one package into `out`. */
  const sealNext = async (n: number, final: boolean): Promise<void> => {
    ctx.at(index++, final)
    if (aead.sealPieces) {
      // Views of the network chunks in, pieces out: no join on either side.
      for (const piece of aead.sealPieces(key!, ctx.nonce, ctx.aad, queue.takePieces(n))) out.add(piece)
    } else {
      out.add(await aead.seal(key!, ctx.nonce, ctx.aad, queue.take(n)))
    }
  }

  return new ReadableStream<T>(
    {
      async start() {
        try {
          key = await aead.importKey(
            await derivePackageKey(options.key, options.partNumber, options.objectId, aead.hmacSha256),
          )
        } catch (err) {
          await reader.cancel(err).catch(() => {})
          throw err
        }
      },
      async pull(controller) {
        for (;;) {
          try {
            // Strictly more than one package queued: the oldest cannot be the last, so seal it now.
            while (queue.length > PACKAGE_PAYLOAD && out.ready.length === 0) await sealNext(PACKAGE_PAYLOAD, false)
            if (ended) {
              while (queue.length > PACKAGE_PAYLOAD) await sealNext(PACKAGE_PAYLOAD, false)
              await sealNext(queue.length, true)
              out.flush()
            }
          } catch (err) {
            await reader.cancel(err).catch(() => {})
            throw err
          }
          if (out.ready.length > 0 || ended) {
            for (const c of out.ready.splice(0)) controller.enqueue(c)
            if (ended) controller.close()
            return
          }
          const { done, value } = await reader.read() // a source error rejects here, unchanged
          if (done) ended = true
          else queue.push(value)
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  )
}
