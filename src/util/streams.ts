/**
 * Small Web Streams helpers shared by every layer: build, concatenate, observe and drain
 * byte streams. Web APIs only. Wrappers pull on demand and re-throw a source's error unchanged.
 */
import { concatBytes } from './bytes.ts'

export type ByteStream = ReadableStream<Uint8Array>
/**
 * A byte stream whose chunks may also be batches of pieces, in order: a producer that has several
 * pieces at once hands them on in one read, unjoined (encryptPieces to the stripe writer). Every
 * ByteStream is one.
 */
export type PieceStream = ReadableStream<Uint8Array | readonly Uint8Array[]>

/** Thrown by readAll when a body exceeds the caller's limit. */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`body exceeds the ${limit}-byte limit for this request`)
  }
}

/** A stream of `bytes`, in pieces of at most `chunkSize` (views, not copies). */
export function streamFromBytes(bytes: Uint8Array, chunkSize = bytes.length || 1): ByteStream {
  let pos = 0
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (pos >= bytes.length) return controller.close()
        const end = Math.min(bytes.length, pos + chunkSize)
        controller.enqueue(bytes.subarray(pos, end))
        pos = end
        if (pos >= bytes.length) controller.close()
      },
    },
    { highWaterMark: 0 },
  )
}

/** Reads a small body whole; cancels the stream and throws BodyTooLarge once over `limit`. */
export async function readAll(stream: ByteStream, limit: number): Promise<Uint8Array> {
  const reader = stream.getReader()
  const parts: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.length
    if (total > limit) {
      const err = new BodyTooLarge(limit)
      await reader.cancel(err).catch(() => {})
      throw err
    }
    parts.push(value)
  }
  return parts.length === 1 ? parts[0]! : concatBytes(parts)
}

/**
 * The sources one after another, each opened only when the previous one ends (so a range over
 * many shards holds one file at a time). Cancelling cancels the current source.
 */
export function concatStreams(sources: readonly (() => ByteStream)[]): ByteStream {
  let index = 0
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          if (!reader) {
            if (index >= sources.length) return controller.close()
            reader = sources[index++]!().getReader()
          }
          const { done, value } = await reader.read()
          if (!done) return controller.enqueue(value)
          reader = undefined
        }
      },
      async cancel(reason) {
        await reader?.cancel(reason)
      },
    },
    { highWaterMark: 0 },
  )
}

/**
 * Passes `source` through unchanged, showing each chunk to `onChunk` first (count bytes, feed a
 * hash). If `onChunk` throws, the source is cancelled with that error and the stream errors.
 */
export function tap(source: ByteStream, onChunk: (chunk: Uint8Array) => void): ByteStream {
  const reader = source.getReader()
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read()
        if (done) return controller.close()
        try {
          onChunk(value)
        } catch (err) {
          await reader.cancel(err).catch(() => {})
          throw err
        }
        controller.enqueue(value)
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  )
}

/**
 * Passes `source` through until `signal` aborts; then the stream errors at once with the
 * signal's reason (a read waiting on the source included) and the source is cancelled. For a
 * background copy that a stopping service must not wait out. Without a signal, `source` itself.
 */
export function abortable(source: ByteStream, signal: AbortSignal | undefined): ByteStream {
  if (!signal) return source
  const reader = source.getReader()
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined
  let ended = false
  const onAbort = () => {
    if (ended) return
    ended = true
    controller?.error(signal.reason)
    reader.cancel(signal.reason).catch(() => {})
  }
  const end = () => {
    ended = true
    signal.removeEventListener('abort', onAbort)
  }
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c
        if (signal.aborted) onAbort()
        else signal.addEventListener('abort', onAbort, { once: true })
      },
      async pull(controller) {
        let read: ReadableStreamReadResult<Uint8Array>
        try {
          read = await reader.read()
        } catch (e) {
          if (ended) return // aborted meanwhile: the stream has its error already
          end()
          throw e
        }
        if (ended) return
        if (read.done) {
          end()
          return controller.close()
        }
        controller.enqueue(read.value)
      },
      cancel(reason) {
        end()
        return reader.cancel(reason)
      },
    },
    { highWaterMark: 0 },
  )
}

/**
 * Reads the first chunk before anyone commits to a response, so a source that cannot start
 * (too few shards, say) fails as an error status instead of a cut-off 200. `mapError` turns
 * errors, at the start or later, into the caller's own.
 */
export async function primeStream(
  source: ByteStream,
  mapError: (e: unknown) => unknown = (e) => e,
): Promise<ByteStream> {
  const reader = source.getReader()
  let first: ReadableStreamReadResult<Uint8Array>
  try {
    first = await reader.read()
  } catch (e) {
    throw mapError(e)
  }
  let pending: Uint8Array | undefined = first.done ? undefined : first.value
  const done = first.done
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (pending) {
          controller.enqueue(pending)
          pending = undefined
          return
        }
        if (done) return controller.close()
        try {
          const r = await reader.read()
          if (r.done) controller.close()
          else controller.enqueue(r.value)
        } catch (e) {
          controller.error(mapError(e))
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  )
}
