/**
 * Receiving an object body: size limits, then a tap that computes the ETag (MD5) and the requested
 * checksum (on a worker thread for big bodies) while bytes stream to storage, verified at the end.
 */
import type { Digests } from '../../service/index.ts'
import { toHex } from '../../util/bytes.ts'
import type { ChecksumAlgorithm } from '../../util/checksums.ts'
import { digestTap, parseChecksumRequest, type ChecksumRequest } from '../auth/checksums.ts'
import type { OpContext } from '../context.ts'
import { S3Error } from '../errors.ts'

/** S3's largest single PUT (and largest part). */
export const MAX_PUT_BYTES = 5 * 1024 ** 3

export interface ReceivedBody {
  stream: ReadableStream<Uint8Array>
  length: number
  digests(): Digests
}

/**
 * `required` names the algorithm an upload was created with: computed even if the client sent
 * no checksum, and a different algorithm is refused.
 */
export function receiveBody(op: OpContext, required?: ChecksumAlgorithm): ReceivedBody {
  const decoded = op.body()
  if (decoded.length === undefined) throw new S3Error('MissingContentLength')
  if (decoded.length > MAX_PUT_BYTES) {
    throw new S3Error('EntityTooLarge', undefined, {
      ProposedSize: String(decoded.length),
      MaxSizeAllowed: String(MAX_PUT_BYTES),
    })
  }
  let checksum: ChecksumRequest | undefined = parseChecksumRequest(op.headers)
  if (required) {
    if (checksum && checksum.algorithm !== required) {
      throw new S3Error(
        'InvalidRequest',
        `Checksum Type mismatch occurred, expected checksum Type: ${required.toLowerCase()}, actual checksum Type: ${checksum.algorithm.toLowerCase()}`,
      )
    }
    checksum ??= { algorithm: required, trailer: false }
  }
  const contentMd5 = op.headers.get('content-md5') ?? undefined
  // The length lets the tap hash a big body on a worker thread (Platform.offloadDigest).
  const tap = digestTap(
    decoded.stream,
    { contentMd5, checksum, trailers: () => decoded.trailers(), length: decoded.length },
    op.platform,
  )
  return {
    stream: tap.stream,
    length: decoded.length,
    digests() {
      const r = tap.result()
      return {
        etag: `"${toHex(r.md5)}"`,
        checksum: r.checksum
          ? { algorithm: r.checksum.algorithm, type: 'FULL_OBJECT', value: r.checksum.value }
          : undefined,
      }
    },
  }
}

/** Response headers announcing a stored checksum. */
export function checksumHeaders(
  c: { algorithm: string; type: string; value: string } | null | undefined,
): Record<string, string> {
  if (!c) return {}
  return { [`x-amz-checksum-${c.algorithm.toLowerCase()}`]: c.value, 'x-amz-checksum-type': c.type }
}
