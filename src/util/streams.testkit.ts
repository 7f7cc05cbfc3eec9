/**
 * Stream helpers for tests only: a transport that cuts a body differently from the writer (a
 * node answer arriving in TLS-record pieces, say) is simulated by re-cutting a stream.
 */
import type { ByteStream } from './streams.ts'

/**
 * Re-cuts a stream into chunks of exactly `size` bytes (the last may be shorter). An input
 * chunk that lines up is passed as a view; only pieces that straddle a boundary are copied.
 */
export function rechunk(source: ByteStream, size: number): ByteStream {
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`rechunk size must be a positive integer, got ${size}`)
  const reader = source.getReader()
  let pending: Uint8Array | undefined // unread tail of the last input chunk
  let buf: Uint8Array | undefined // partial output being filled
  let fill = 0
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          if (!pending || pending.length === 0) {
            const { done, value } = await reader.read()
            if (done) {
              if (buf && fill > 0) controller.enqueue(buf.subarray(0, fill))
              buf = undefined
              return controller.close()
            }
            pending = value
            continue
          }
          if (!buf && pending.length >= size) {
            controller.enqueue(pending.subarray(0, size))
            pending = pending.subarray(size)
            return
          }
          buf ??= new Uint8Array(size)
          const n = Math.min(size - fill, pending.length)
          buf.set(pending.subarray(0, n), fill)
          fill += n
          pending = pending.subarray(n)
          if (fill === size) {
            controller.enqueue(buf)
            buf = undefined
            fill = 0
            return
          }
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  )
}
