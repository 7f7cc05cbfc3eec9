/**
 * The shard-PUT body framing: payload ‖ trailer, where the trailer carries the payload length and
 * an HMAC over the payload's SHA-256 (protocol.ts). Pull-based Web streams; Platform port only.
 */
import { toHex, utf8 } from '../../util/bytes.ts'
import { bytesEqual, type AuthPlatform } from './auth.ts'
import { TRAILER_LENGTH, TRAILER_MAC_LENGTH, TRAILER_MAGIC } from './protocol.ts'

/** The body did not match its trailer (tampered, truncated or signed with another key): refuse, 403. */
export class BodyAuthError extends Error {
  constructor(reason: string) {
    super(`shard body refused: ${reason}`)
    this.name = 'BodyAuthError'
  }
}

/** The request body itself failed (client gone, connection cut): nothing to answer. */
export class BodyStreamError extends Error {
  constructor(override readonly cause: unknown) {
    super(`shard body stream failed: ${cause instanceof Error ? cause.message : String(cause)}`)
    this.name = 'BodyStreamError'
  }
}

const MAGIC = utf8(TRAILER_MAGIC)

export function trailerMac(
  platform: AuthPlatform,
  key: Uint8Array,
  signature: string,
  length: number,
  payloadSha256Hex: string,
): Uint8Array {
  return platform.hmacSha256(key, `${TRAILER_MAGIC}\n${signature}\n${length}\n${payloadSha256Hex}`)
}

export function encodeTrailer(length: number, mac: Uint8Array): Uint8Array {
  if (mac.length !== TRAILER_MAC_LENGTH) throw new TypeError(`trailer mac must be ${TRAILER_MAC_LENGTH} bytes`)
  const out = new Uint8Array(TRAILER_LENGTH)
  out.set(MAGIC, 0)
  new DataView(out.buffer).setBigUint64(4, BigInt(length))
  out.set(mac, 12)
  return out
}

export function decodeTrailer(t: Uint8Array): { length: number; mac: Uint8Array } | undefined {
  if (t.length !== TRAILER_LENGTH || !bytesEqual(t.subarray(0, 4), MAGIC)) return undefined
  const length = new DataView(t.buffer, t.byteOffset, t.byteLength).getBigUint64(4)
  if (length > BigInt(Number.MAX_SAFE_INTEGER)) return undefined
  return { length: Number(length), mac: t.slice(12) }
}

export interface FramedBody {
  stream: ReadableStream<Uint8Array>
  /** Cancels the source if it is still being read (the request failed before taking it all). */
  abort(reason: unknown): void
}

/**
 * Client side: passes `body` through, hashing it, then appends the trailer. `hooks.waiting` runs
 * when the transport asks for more (the wait is on the producer), `hooks.sent` once a chunk is
 * handed over (the wait is on the transport), `hooks.sourceError` with the body's own error.
 */
export function frameBody(
  platform: AuthPlatform,
  key: Uint8Array,
  signature: string,
  body: ReadableStream<Uint8Array>,
  hooks: { waiting?: () => void; sent?: () => void; sourceError?: (e: unknown) => void } = {},
): FramedBody {
  const reader = body.getReader()
  const hash = platform.createHasher('sha256')
  let length = 0
  let finished = false
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        hooks.waiting?.()
        let r: ReadableStreamReadResult<Uint8Array>
        try {
          r = await reader.read()
        } catch (e) {
          finished = true
          hooks.sourceError?.(e)
          throw e
        }
        if (r.done) {
          finished = true
          const mac = trailerMac(platform, key, signature, length, toHex(hash.digest()))
          controller.enqueue(encodeTrailer(length, mac))
          controller.close()
        } else {
          hash.update(r.value)
          length += r.value.length
          controller.enqueue(r.value)
        }
        hooks.sent?.()
      },
      cancel(reason) {
        finished = true
        return reader.cancel(reason)
      },
    },
    { highWaterMark: 0 },
  )
  return {
    stream,
    abort(reason) {
      if (finished) return
      finished = true
      reader.cancel(reason).catch(() => {})
    },
  }
}

/**
 * Node side: yields the payload without its trailer and, at the end, checks the trailer; on a
 * mismatch the stream errors with BodyAuthError, so the store discards the temp file instead of
 * renaming it. The last TRAILER_LENGTH bytes seen are always held back until the next chunk.
 */
export function unframeBody(
  platform: AuthPlatform,
  key: Uint8Array,
  signature: string,
  body: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  const hash = platform.createHasher('sha256')
  let length = 0
  let tail = new Uint8Array(0)
  const emit = (controller: ReadableStreamDefaultController<Uint8Array>, part: Uint8Array) => {
    if (part.length === 0) return
    hash.update(part)
    length += part.length
    controller.enqueue(part)
  }
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          let r: ReadableStreamReadResult<Uint8Array>
          try {
            r = await reader.read()
          } catch (e) {
            controller.error(new BodyStreamError(e))
            return
          }
          if (r.done) {
            const t = decodeTrailer(tail)
            if (!t)
              return controller.error(
                new BodyAuthError(
                  `no trailer (body of ${length + tail.length} bytes does not end with ${TRAILER_MAGIC})`,
                ),
              )
            if (t.length !== length)
              return controller.error(new BodyAuthError(`trailer says ${t.length} bytes, body had ${length}`))
            const mac = trailerMac(platform, key, signature, length, toHex(hash.digest()))
            if (!bytesEqual(mac, t.mac)) return controller.error(new BodyAuthError('trailer MAC mismatch'))
            return controller.close()
          }
          const c = r.value
          const total = tail.length + c.length
          if (total <= TRAILER_LENGTH) {
            const next = new Uint8Array(total)
            next.set(tail)
            next.set(c, tail.length)
            tail = next
            continue
          }
          const out = total - TRAILER_LENGTH
          const fromTail = Math.min(tail.length, out)
          emit(controller, tail.subarray(0, fromTail))
          emit(controller, c.subarray(0, out - fromTail))
          // Copy the held bytes: they are tiny, and the source may reuse its buffers.
          const next = new Uint8Array(TRAILER_LENGTH)
          next.set(tail.subarray(fromTail))
          next.set(c.subarray(out - fromTail), tail.length - fromTail)
          tail = next
          return
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  )
}
