/**
 * Request bodies as the payload mode says: literal SHA-256 (verified while streaming), unsigned, or
 * aws-chunked (chunk signatures, trailers). Uses Web Streams, Platform, sigv4.ts constants, s3/errors.
 */
import { S3Error } from '../errors.ts'
import { fromUtf8, timingSafeEqual, toHex } from '../../util/bytes.ts'
import type { Hasher, Platform } from '../../util/platform.ts'
import { EMPTY_SHA256, sha256Hex, signHex } from './sigv4.ts'
import type { Authenticated, PayloadMode } from './sigv4.ts'

export interface DecodedBody {
  /** The object bytes (chunk framing removed). Errors with an S3Error on any violation. */
  stream: ReadableStream<Uint8Array>
  /** x-amz-decoded-content-length for aws-chunked, else Content-Length; undefined if unknown */
  length: number | undefined
  /** Trailing headers (lower-case names), complete once `stream` has closed; {} when none */
  trailers(): Record<string, string>
}

/** A chunk-size line is `hex;chunk-signature=<64 hex>`, about 90 bytes: anything near this is garbage. */
export const MAX_CHUNK_LINE_BYTES = 4096
/** All trailing headers together; S3 sends one checksum and one signature, far below this. */
export const MAX_TRAILER_BYTES = 16 * 1024

const CR = 0x0d
const LF = 0x0a
const TRAILER_SIGNATURE = 'x-amz-trailer-signature'

const emptyStream = (): ReadableStream<Uint8Array> => new ReadableStream({ start: (c) => c.close() })

function parseLength(value: string | null, name: string): number | undefined {
  if (value === null) return undefined
  if (!/^\d{1,16}$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) {
    throw new S3Error('InvalidArgument', `${name} must be a non-negative integer.`, {
      ArgumentName: name,
      ArgumentValue: value,
    })
  }
  return Number(value)
}

const incomplete = (expected: number, got: number) =>
  new S3Error('IncompleteBody', `The request body ended after ${got} of ${expected} bytes.`)

export function decodePayload(
  body: ReadableStream<Uint8Array> | null,
  auth: Authenticated,
  headers: Headers,
  platform: Platform,
): DecodedBody {
  const mode = auth.payload
  const source = body ?? emptyStream()
  if (mode.kind === 'sha256' || mode.kind === 'unsigned') {
    const length = parseLength(headers.get('content-length'), 'Content-Length')
    return { stream: plainBody(source, mode, length, platform), length, trailers: () => ({}) }
  }
  const length = parseLength(headers.get('x-amz-decoded-content-length'), 'x-amz-decoded-content-length')
  if (length === undefined)
    throw new S3Error(
      'MissingContentLength',
      'You must provide the x-amz-decoded-content-length header with aws-chunked payloads.',
    )
  const decoder = new ChunkedDecoder(mode, length, platform)
  const stream = pullThrough(
    source,
    (chunk, out) => decoder.push(chunk, out),
    () => decoder.finish(),
  )
  return { stream, length, trailers: () => decoder.trailers }
}

/** Where a step puts the bytes it passes on. */
interface Out {
  enqueue(chunk: Uint8Array): void
}

/**
 * `source` through a synchronous `step` per chunk, as a pull stream: each pull reads the source
 * until the step has passed something on. A TransformStream behind `pipeThrough` costs a pipe
 * loop, a writer's write and a transform promise for every chunk, and a request body comes in
 * chunks of 16 KiB at most (docs/architecture.md §8, "Big PUTs: the request thread's per-chunk
 * work"). What the step or `end` throws errors the stream and cancels `source`; an error of
 * `source` errors it unchanged; cancelling it cancels `source`.
 */
function pullThrough(
  source: ReadableStream<Uint8Array>,
  step: (chunk: Uint8Array, out: Out) => void,
  end: () => void,
): ReadableStream<Uint8Array> {
  const reader = source.getReader()
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let passed = 0
        const out: Out = {
          enqueue(chunk) {
            passed++
            controller.enqueue(chunk)
          },
        }
        // Bounded by the source: every turn consumes one of its chunks.
        for (;;) {
          const { done, value } = await reader.read()
          try {
            if (done) {
              end()
              controller.close()
              return
            }
            step(value, out)
          } catch (e) {
            reader.cancel(e).catch(() => {})
            throw e
          }
          if (passed > 0) return
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  )
}

/** Counts (truncation → IncompleteBody) and, for a literal x-amz-content-sha256, hashes. */
function plainBody(
  source: ReadableStream<Uint8Array>,
  mode: PayloadMode,
  length: number | undefined,
  platform: Platform,
): ReadableStream<Uint8Array> {
  const hasher = mode.kind === 'sha256' ? platform.createHasher('sha256') : undefined
  let seen = 0
  return pullThrough(
    source,
    (chunk, out) => {
      seen += chunk.length
      if (length !== undefined && seen > length)
        throw new S3Error('IncompleteBody', 'The request body is longer than its Content-Length.')
      hasher?.update(chunk)
      out.enqueue(chunk)
    },
    () => {
      if (length !== undefined && seen !== length) throw incomplete(length, seen)
      if (hasher && mode.kind === 'sha256') {
        const computed = toHex(hasher.digest())
        if (computed !== mode.hex) {
          throw new S3Error('XAmzContentSHA256Mismatch', undefined, {
            ClientComputedContentSHA256: mode.hex,
            S3ComputedContentSHA256: computed,
          })
        }
      }
    },
  )
}

type Streaming = Extract<PayloadMode, { kind: 'streaming-signed' | 'streaming-unsigned-trailer' }>

/**
 * Incremental aws-chunked parser: `hex-size[;chunk-signature=sig]\r\n data \r\n` … a zero-size chunk,
 * then trailer lines and an empty line. Input may be split anywhere; data leaves as subarrays of the
 * input (no copies). A chunk's bytes go downstream before its signature is checked (holding a chunk
 * would buffer up to its size); a bad signature errors the stream, so nothing gets committed.
 */
class ChunkedDecoder {
  readonly trailers: Record<string, string> = {}
  private state: 'line' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'done' = 'line'
  private readonly line = new Uint8Array(MAX_CHUNK_LINE_BYTES)
  private lineLength = 0
  private remaining = 0
  private decoded = 0
  private readonly signed: Extract<PayloadMode, { kind: 'streaming-signed' }> | undefined
  private readonly withTrailer: boolean
  private previousSignature = ''
  private chunkSignature = ''
  private chunkHash: Hasher | undefined
  private trailerBytes = 0
  private trailerLines = 0
  private canonicalTrailer = ''
  private trailerSignature: string | undefined
  private skippedBlank = false

  constructor(
    mode: Streaming,
    private readonly length: number,
    private readonly platform: Platform,
  ) {
    this.signed = mode.kind === 'streaming-signed' ? mode : undefined
    this.withTrailer = mode.kind === 'streaming-unsigned-trailer' || (mode.kind === 'streaming-signed' && mode.trailer)
    if (this.signed) this.previousSignature = this.signed.seedSignature
  }

  push(chunk: Uint8Array, out: Out): void {
    let i = 0
    while (i < chunk.length) {
      switch (this.state) {
        case 'data': {
          const piece = chunk.subarray(i, i + Math.min(this.remaining, chunk.length - i))
          this.chunkHash?.update(piece)
          out.enqueue(piece)
          i += piece.length
          this.remaining -= piece.length
          if (this.remaining === 0) {
            this.verifyChunk()
            this.state = 'data-cr'
          }
          break
        }
        case 'data-cr':
        case 'data-lf':
          if (chunk[i++] !== (this.state === 'data-cr' ? CR : LF)) throw malformed('chunk data is not followed by CRLF')
          this.state = this.state === 'data-cr' ? 'data-lf' : 'line'
          break
        case 'line':
        case 'trailer':
          i = this.readLine(chunk, i)
          break
        case 'done':
          throw malformed('unexpected bytes after the end of the aws-chunked body')
      }
    }
  }

  /** Called when the input ended: anything short of a complete body is IncompleteBody. */
  finish(): void {
    if (this.state === 'trailer' && this.lineLength === 0) this.endTrailers()
    if (this.state !== 'done') throw incomplete(this.length, this.decoded)
  }

  private readLine(chunk: Uint8Array, start: number): number {
    const lf = chunk.indexOf(LF, start)
    const end = lf < 0 ? chunk.length : lf
    const count = end - start
    if (this.state === 'trailer') {
      this.trailerBytes += count + (lf < 0 ? 0 : 1)
      if (this.trailerBytes > MAX_TRAILER_BYTES) throw malformed(`trailing headers exceed ${MAX_TRAILER_BYTES} bytes`)
    }
    if (this.lineLength + count > this.line.length)
      throw malformed(`a chunk line exceeds ${MAX_CHUNK_LINE_BYTES} bytes`)
    this.line.set(chunk.subarray(start, end), this.lineLength)
    this.lineLength += count
    if (lf < 0) return chunk.length
    if (this.lineLength === 0 || this.line[this.lineLength - 1] !== CR)
      throw malformed('line is not terminated by CRLF')
    const text = fromUtf8(this.line.subarray(0, this.lineLength - 1))
    this.lineLength = 0
    if (this.state === 'line') this.chunkHeader(text)
    else this.trailerLine(text)
    return lf + 1
  }

  private chunkHeader(text: string): void {
    const semi = text.indexOf(';')
    const sizeText = semi < 0 ? text : text.slice(0, semi)
    if (!/^[0-9a-fA-F]{1,15}$/.test(sizeText)) throw malformed(`invalid chunk size "${sizeText.slice(0, 32)}"`)
    const size = parseInt(sizeText, 16)
    if (this.signed) {
      const m = /^;chunk-signature=([0-9a-f]{64})$/.exec(semi < 0 ? '' : text.slice(semi))
      if (!m)
        throw new S3Error('SignatureDoesNotMatch', 'A chunk of a signed aws-chunked body has no valid chunk-signature.')
      this.chunkSignature = m[1]!
    }
    if (this.decoded + size > this.length) {
      throw new S3Error(
        'IncompleteBody',
        `The aws-chunked body holds more than x-amz-decoded-content-length (${this.length}) bytes.`,
      )
    }
    this.decoded += size
    if (size === 0) {
      if (this.decoded !== this.length) throw incomplete(this.length, this.decoded)
      this.verifyChunk()
      this.state = 'trailer'
    } else {
      this.remaining = size
      this.chunkHash = this.signed ? this.platform.createHasher('sha256') : undefined
      this.state = 'data'
    }
  }

  private verifyChunk(): void {
    const s = this.signed
    if (!s) return
    const hash = this.chunkHash ? toHex(this.chunkHash.digest()) : EMPTY_SHA256
    this.chunkHash = undefined
    const sts = `AWS4-HMAC-SHA256-PAYLOAD\n${s.amzDate}\n${s.scope}\n${this.previousSignature}\n${EMPTY_SHA256}\n${hash}`
    if (!timingSafeEqual(signHex(this.platform, s.signingKey, sts), this.chunkSignature)) {
      throw new S3Error(
        'SignatureDoesNotMatch',
        'The chunk signature we calculated does not match the chunk-signature you provided.',
        {
          StringToSign: sts,
          SignatureProvided: this.chunkSignature,
        },
      )
    }
    this.previousSignature = this.chunkSignature
  }

  private trailerLine(text: string): void {
    if (text === '') {
      // Some encoders end the zero-size chunk with its own CRLF before the trailers (AWS's own
      // trailer example does); one blank line before any trailer is that, not the end.
      if (this.withTrailer && this.trailerLines === 0 && this.trailerSignature === undefined && !this.skippedBlank) {
        this.skippedBlank = true
        return
      }
      this.endTrailers()
      return
    }
    if (!this.withTrailer) throw malformed('trailing headers are only allowed with a -TRAILER payload mode')
    const colon = text.indexOf(':')
    if (colon <= 0) throw malformed('a trailing header has no name')
    const name = text.slice(0, colon).trim().toLowerCase()
    const value = text.slice(colon + 1).trim()
    if (name === TRAILER_SIGNATURE) {
      this.trailerSignature = value
      return
    }
    if (this.trailerSignature !== undefined) throw malformed('x-amz-trailer-signature must be the last trailing header')
    this.trailers[name] = value
    this.trailerLines++
    // The client signs its trailer lines with LF endings instead of CRLF.
    this.canonicalTrailer += `${text}\n`
  }

  private endTrailers(): void {
    const s = this.signed
    if (s?.trailer) {
      const sig = this.trailerSignature ?? ''
      const sts = `AWS4-HMAC-SHA256-TRAILER\n${s.amzDate}\n${s.scope}\n${this.previousSignature}\n${sha256Hex(this.platform, this.canonicalTrailer)}`
      if (!/^[0-9a-f]{64}$/.test(sig) || !timingSafeEqual(signHex(this.platform, s.signingKey, sts), sig)) {
        throw new S3Error(
          'SignatureDoesNotMatch',
          'The trailer signature we calculated does not match the x-amz-trailer-signature you provided.',
          {
            StringToSign: sts,
            SignatureProvided: sig,
          },
        )
      }
    }
    this.state = 'done'
  }
}

function malformed(reason: string): S3Error {
  return new S3Error('InvalidRequest', `Malformed aws-chunked body: ${reason}.`)
}
