/**
 * D@RE ciphertext → plaintext for any byte range: opens exactly the covering packages (ranges.ts),
 * authenticates each before emitting a byte of it, and slices to the requested range.
 */
import { releaseBytes } from '../util/byte-pool.ts'
import type { AeadKey } from './aead.ts'
import { ByteQueue } from './byte-queue.ts'
import type { PackageOptions } from './encrypt-stream.ts'
import {
  derivePackageKey,
  PACKAGE_SIZE,
  PACKAGE_TAG,
  packageContext,
  packageCount,
  packagePayloadLength,
} from './package-format.ts'
import { planRange } from './ranges.ts'

/** The ciphertext failed authentication: tampered, truncated, extended, misplaced, or the wrong key. */
export class DecryptError extends Error {
  override readonly name = 'DecryptError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/**
 * Opens ciphertext bytes [cipherStart, cipherEnd) of the stored payload. `checked` false: storage
 * may skip its own block checksums, since every package is authenticated here anyway; a package
 * that then fails is read again with `checked` true (storage's checks find a damaged block and
 * read around it) before it counts as a failure.
 */
export type OpenCipher = (cipherStart: number, cipherEnd: number, checked: boolean) => ReadableStream<Uint8Array>

/**
 * Streams plaintext bytes [plainStart, plainEnd) of an object of `plainSize` bytes (from trusted
 * metadata). Storage errors propagate unchanged; authentication failures error with DecryptError.
 * Throws synchronously (RangeError) on a range outside the object or malformed parameters.
 */
export function decryptRange(
  openCipher: OpenCipher,
  plainSize: number,
  plainStart: number,
  plainEnd: number,
  options: PackageOptions,
): ReadableStream<Uint8Array> {
  const plan = planRange(plainSize, plainStart, plainEnd)
  const ctx = packageContext(options)
  const lastIndex = packageCount(plainSize) - 1
  const where = `object ${JSON.stringify(options.objectId)} part ${options.partNumber}`
  if (plan.take === 0) return new ReadableStream({ start: (c) => c.close() })

  const { aead } = options
  let queue = new ByteQueue({ trackSpent: true })
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
  /** Storage checks its block checksums: from the start, no; after a package failed, yes. */
  let checked = false
  let key: AeadKey | undefined
  let index = plan.firstPackage
  let skip = plan.skip
  let remaining = plan.take

  const fail = async (err: DecryptError): Promise<never> => {
    await reader?.cancel(err).catch(() => {})
    throw err
  }

  /**
   * Authenticates package `index` (already queued) and returns its wanted slice, in pieces: a
   * package that straddles two storage chunks is opened from views of both (Aead.openPieces)
   * rather than joined into a fresh copy first, which on a GET was a quarter of all packages.
   * Undefined: it failed while storage's checks were off, and the ciphertext from it on is being
   * read again with them on (the queue is empty; read on).
   */
  const openNext = async (): Promise<Uint8Array[] | undefined> => {
    const sealedLength = packagePayloadLength(plainSize, index) + PACKAGE_TAG
    ctx.at(index, index === lastIndex)
    let plain: Uint8Array[]
    try {
      plain = aead.openPieces
        ? await aead.openPieces(key!, ctx.nonce, ctx.aad, queue.takePieces(sealedLength))
        : [await aead.open(key!, ctx.nonce, ctx.aad, queue.take(sealedLength))]
    } catch (cause) {
      if (!checked) {
        // Bitrot or a misplaced block that storage did not check for: read from this package on
        // again with storage's checks, which fall back to parity for a bad block (and queue the
        // object for healing). Views still queued are dropped, not released: the GC takes them.
        checked = true
        await reader?.cancel(cause).catch(() => {})
        queue = new ByteQueue({ trackSpent: true })
        reader = openCipher(index * PACKAGE_SIZE, plan.cipherEnd, true).getReader()
        return undefined
      }
      return fail(
        new DecryptError(
          `${where}: package ${index} failed authentication (tampered, misplaced, truncated data, or the wrong key)`,
          { cause },
        ),
      )
    }
    index++
    // The package is open and its plaintext is in fresh buffers: the ciphertext chunks it used
    // up are read by no one any more, so pooled read buffers can go back (src/util/byte-pool.ts).
    for (const chunk of queue.takeSpent()) releaseBytes(chunk)
    const out: Uint8Array[] = []
    for (const p of plain) {
      if (remaining === 0) break
      if (skip >= p.length) {
        skip -= p.length
        continue
      }
      const piece = p.subarray(skip, Math.min(p.length, skip + remaining))
      skip = 0
      remaining -= piece.length
      out.push(piece)
    }
    skip = 0
    return out
  }

  return new ReadableStream<Uint8Array>(
    {
      async start() {
        key = await aead.importKey(
          await derivePackageKey(options.key, options.partNumber, options.objectId, aead.hmacSha256),
        )
      },
      async pull(controller) {
        reader ??= openCipher(plan.cipherStart, plan.cipherEnd, checked).getReader()
        for (;;) {
          const need = packagePayloadLength(plainSize, index) + PACKAGE_TAG
          if (queue.length >= need) {
            // Open every package already queued and hand each on as it is: joining them would
            // allocate and copy every byte once more, and on a GET each large allocation adds to
            // V8's external-memory pressure, which is what triggers most of its full GCs.
            let emitted = false
            while (remaining > 0 && queue.length >= packagePayloadLength(plainSize, index) + PACKAGE_TAG) {
              const pieces = await openNext()
              if (!pieces) break // read again with checks: the queue is empty
              for (const piece of pieces) controller.enqueue(piece)
              emitted = true
            }
            // Nothing handed on yet (a re-read began): read on, as a pull must enqueue or end.
            if (!emitted && remaining > 0) continue
            if (remaining === 0) {
              // Everything emitted was authenticated; now make sure the range held nothing more.
              const extra = queue.length > 0 || !(await reader.read()).done
              if (extra) return fail(new DecryptError(`${where}: ciphertext longer than its recorded size`))
              controller.close()
            }
            return
          }
          const { done, value } = await reader.read() // storage errors reject here, unchanged
          if (done) return fail(new DecryptError(`${where}: ciphertext ends inside package ${index} (truncated)`))
          queue.push(value)
        }
      },
      cancel: (reason) => reader?.cancel(reason),
    },
    { highWaterMark: 0 },
  )
}
