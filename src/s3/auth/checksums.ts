/**
 * What a request asks to be checksummed (x-amz-checksum-*, x-amz-sdk-checksum-algorithm, x-amz-trailer)
 * and a tap that computes MD5 plus that checksum, here or on a worker, and verifies them. Uses util, s3/errors.
 */
import { S3Error } from '../errors.ts'
import { fromBase64, toBase64 } from '../../util/bytes.ts'
import { CHECKSUM_ALGORITHMS, CHECKSUM_LENGTHS, createChecksum } from '../../util/checksums.ts'
import type { ChecksumAlgorithm } from '../../util/checksums.ts'
import type { AsyncDigest, OffloadAlgorithm, Platform } from '../../util/platform.ts'

export interface ChecksumRequest {
  algorithm: ChecksumAlgorithm
  /** base64 value from an x-amz-checksum-<alg> header, when sent as a header */
  expected?: string
  /** true when the value will come as a trailer (x-amz-trailer: x-amz-checksum-<alg>) */
  trailer: boolean
}

const headerName = (a: ChecksumAlgorithm) => `x-amz-checksum-${a.toLowerCase()}`

function algorithmOf(name: string): ChecksumAlgorithm | undefined {
  return CHECKSUM_ALGORITHMS.find((a) => headerName(a) === name.toLowerCase())
}

/** A base64 value that decodes to exactly the algorithm's digest length. */
function isValidValue(algorithm: ChecksumAlgorithm, value: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return false
  return fromBase64(value)?.length === CHECKSUM_LENGTHS[algorithm]
}

/** x-amz-checksum-* headers that carry settings, not a checksum value. */
const NOT_VALUES = new Set(['x-amz-checksum-type', 'x-amz-checksum-algorithm', 'x-amz-checksum-mode'])
const MULTIPLE = 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.'

/** Reads x-amz-checksum-*, x-amz-sdk-checksum-algorithm, x-amz-trailer. Conflicts/unknown algorithms → S3Error InvalidRequest. */
export function parseChecksumRequest(headers: Headers): ChecksumRequest | undefined {
  const found: ChecksumRequest[] = []
  headers.forEach((value, name) => {
    if (!name.startsWith('x-amz-checksum-') || NOT_VALUES.has(name)) return
    const algorithm = algorithmOf(name)
    if (!algorithm)
      throw new S3Error(
        'InvalidRequest',
        `The checksum header ${name} names an unknown algorithm; use one of ${CHECKSUM_ALGORITHMS.join(', ')}.`,
      )
    const expected = value.trim()
    if (!isValidValue(algorithm, expected)) throw new S3Error('InvalidRequest', `Value for ${name} header is invalid.`)
    found.push({ algorithm, expected, trailer: false })
  })
  const trailerHeader = headers.get('x-amz-trailer')
  if (trailerHeader !== null) {
    for (const raw of trailerHeader.split(',')) {
      const name = raw.trim().toLowerCase()
      if (!name.startsWith('x-amz-checksum-')) continue
      const algorithm = algorithmOf(name)
      if (!algorithm)
        throw new S3Error('InvalidRequest', `The value specified in the x-amz-trailer header is not supported: ${name}`)
      found.push({ algorithm, trailer: true })
    }
  }
  if (found.length > 1) throw new S3Error('InvalidRequest', MULTIPLE)

  const sdkHeader = headers.get('x-amz-sdk-checksum-algorithm')
  if (sdkHeader === null) return found[0]
  const sdk = CHECKSUM_ALGORITHMS.find((a) => a === sdkHeader.trim().toUpperCase())
  if (!sdk) throw new S3Error('InvalidRequest', 'Value for x-amz-sdk-checksum-algorithm header is invalid.')
  const explicit = found[0]
  if (explicit && explicit.algorithm !== sdk) {
    throw new S3Error(
      'InvalidRequest',
      `Value for x-amz-sdk-checksum-algorithm header is invalid: ${sdk} does not match the ${headerName(explicit.algorithm)} checksum sent.`,
    )
  }
  // The algorithm alone asks S3 to compute and store that checksum without checking a value.
  return explicit ?? { algorithm: sdk, trailer: false }
}

export interface DigestResult {
  md5: Uint8Array
  checksum?: { algorithm: ChecksumAlgorithm; value: string /* base64 */ }
}

/** Content-MD5 must be base64 of 16 bytes; checked before any body byte is read. */
function parseContentMd5(value: string): Uint8Array {
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(value.trim()) ? fromBase64(value.trim()) : undefined
  if (bytes?.length !== 16) throw new S3Error('InvalidDigest')
  return bytes
}

/**
 * Bodies at least this long hash on a worker thread when the platform offers one (offloadDigest);
 * smaller ones hash here. Measured with digestTap alone (Node 20, 2 cores): handing a body to the
 * worker adds one message round trip (~60 µs) to its latency and spares the request thread its
 * hashing; from 128 KiB the thread time saved is over three times that added latency, below it
 * the two are of a size, and small PUTs are bound by fsync anyway.
 */
export const OFFLOAD_MIN_BYTES = 128 * 1024

/**
 * Passes bytes through while computing MD5 (always: the ETag) and the requested checksum.
 * At end of stream verifies Content-MD5 and the checksum (header value, or the trailer from
 * `trailers()`), and ERRORS the stream on mismatch so the storage writer aborts. A malformed
 * Content-MD5 throws InvalidDigest at once. `result()` is valid after the stream closed normally.
 * With `length` ≥ OFFLOAD_MIN_BYTES and a platform that can, the hashing runs on a worker thread;
 * the stream then closes only once the worker's digests are in and verified.
 */
export function digestTap(
  source: ReadableStream<Uint8Array>,
  opts: { contentMd5?: string; checksum?: ChecksumRequest; trailers?: () => Record<string, string>; length?: number },
  platform: Platform,
): { stream: ReadableStream<Uint8Array>; result(): DigestResult } {
  const expectedMd5 = opts.contentMd5 === undefined ? undefined : parseContentMd5(opts.contentMd5)
  const request = opts.checksum
  let result: DigestResult | undefined

  /** Verifies the final digests; throws the S3 error the client must see. */
  const finish = (digest: Uint8Array, checksumDigest: Uint8Array | undefined) => {
    if (expectedMd5 && toBase64(digest) !== toBase64(expectedMd5)) throw new S3Error('BadDigest')
    const done: DigestResult = { md5: digest }
    if (request && checksumDigest) {
      const value = toBase64(checksumDigest)
      const expected = request.trailer ? trailerValue(request.algorithm, opts.trailers) : request.expected
      if (expected !== undefined && expected !== value) {
        throw new S3Error('BadDigest', `The ${request.algorithm} you specified did not match the calculated checksum.`)
      }
      done.checksum = { algorithm: request.algorithm, value }
    }
    result = done
  }

  const algorithms: OffloadAlgorithm[] = request ? ['md5', request.algorithm] : ['md5']
  const job =
    opts.length !== undefined && opts.length >= OFFLOAD_MIN_BYTES ? platform.offloadDigest?.(algorithms) : undefined
  const stream = job
    ? offloadedTap(source, job, (d) => finish(d[0]!, d[1]))
    : syncTap(source, platform, request, finish)
  return {
    stream,
    result() {
      if (!result) throw new Error('digestTap: result() called before the stream closed')
      return result
    },
  }
}

function syncTap(
  source: ReadableStream<Uint8Array>,
  platform: Platform,
  request: ChecksumRequest | undefined,
  finish: (md5: Uint8Array, checksum: Uint8Array | undefined) => void,
): ReadableStream<Uint8Array> {
  const md5 = platform.createHasher('md5')
  const checksum = request ? createChecksum(request.algorithm, platform) : undefined
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, out) {
        md5.update(chunk)
        checksum?.update(chunk)
        out.enqueue(chunk)
      },
      flush() {
        finish(md5.digest(), checksum?.digest())
      },
    }),
  )
}

/**
 * The worker-thread variant: each chunk is handed to the job (a copy) and passed on at once; the
 * next read waits only when the job says too many bytes are in flight. Whatever ends the body
 * early (source error, downstream cancel, worker failure) aborts the job, so nothing lingers.
 */
function offloadedTap(
  source: ReadableStream<Uint8Array>,
  job: AsyncDigest,
  finish: (digests: Uint8Array[]) => void,
): ReadableStream<Uint8Array> {
  const reader = source.getReader()
  const fail = (e: unknown): never => {
    job.abort()
    reader.cancel(e).catch(() => {})
    throw e
  }
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let next: ReadableStreamReadResult<Uint8Array>
        try {
          next = await reader.read()
        } catch (e) {
          job.abort()
          throw e
        }
        if (next.done) {
          // Verification happens before close(), so a mismatch errors the stream and nothing commits.
          finish(await job.digest().catch(fail))
          controller.close()
          return
        }
        let wait: Promise<void> | undefined
        try {
          wait = job.update(next.value)
        } catch (e) {
          fail(e)
        }
        controller.enqueue(next.value)
        if (wait) await wait.catch(fail)
      },
      cancel(reason) {
        job.abort()
        return reader.cancel(reason)
      },
    },
    { highWaterMark: 1 },
  )
}

function trailerValue(algorithm: ChecksumAlgorithm, trailers: (() => Record<string, string>) | undefined): string {
  const name = headerName(algorithm)
  const value = trailers?.()[name]
  if (value === undefined) {
    throw new S3Error('InvalidRequest', `The ${name} trailer was declared in x-amz-trailer but not sent.`)
  }
  if (!isValidValue(algorithm, value))
    throw new S3Error('InvalidRequest', `Value for ${name} trailing header is invalid.`)
  return value
}
