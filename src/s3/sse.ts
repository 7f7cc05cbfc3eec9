/**
 * Server-side encryption headers: SSE-S3 (`x-amz-server-side-encryption: AES256`, D@RE of the
 * namespace) and SSE-C (`x-amz-server-side-encryption-customer-*`), in and out, with S3's own
 * codes and wording for every malformed header set. Uses the service's customerKey check.
 */
import { bucketEncryption, type CustomerKey, customerKey, isServiceError, type SseKind } from '../service/index.ts'
import { fromBase64 } from '../util/bytes.ts'
import type { Platform } from '../util/platform.ts'
import type { OpContext } from './context.ts'
import { S3Error } from './errors.ts'

export const SSE_HEADER = 'x-amz-server-side-encryption'
const KMS_KEY_ID_HEADER = 'x-amz-server-side-encryption-aws-kms-key-id'
const KMS_CONTEXT_HEADER = 'x-amz-server-side-encryption-context'
export const SSE_C_ALGORITHM = 'AES256'
const customer = (copySource: boolean) => `x-amz-${copySource ? 'copy-source-' : ''}server-side-encryption-customer-`

/** S3's own wording for each SSE-C failure (as AWS, MinIO and moto return them). */
export const SSE_C_MESSAGES = {
  missingAlgorithm:
    'Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.',
  missingKey:
    'Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.',
  missingKeyMd5:
    'Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.',
  badAlgorithm: 'The Encryption request you specified is not valid. Supported value: AES256.',
  badKey: 'The secret key was invalid for the specified algorithm.',
  md5Mismatch: 'The calculated MD5 hash of the key did not match the hash that was provided.',
} as const

/** A customer key from the request, with its MD5 as the client sent it (echoed in responses). */
export interface SseCKey extends CustomerKey {
  keyMd5B64: string
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * The SSE-C key of a request (or of its copy source), validated in S3's order: undefined when
 * none of the three headers is sent, an S3Error (400) when any is missing or wrong.
 */
export function readSseC(
  h: Headers,
  platform: Pick<Platform, 'createHasher'>,
  copySource = false,
): SseCKey | undefined {
  const base = customer(copySource)
  const algorithm = h.get(`${base}algorithm`)
  const keyB64 = h.get(`${base}key`)
  const keyMd5B64 = h.get(`${base}key-md5`)
  if (!algorithm && !keyB64 && !keyMd5B64) return undefined
  // S3 names the plain header in ArgumentName, with copy-source- for the source's headers.
  const fail = (code: 'InvalidArgument' | 'InvalidEncryptionAlgorithmError', message: string, value?: string) => {
    const details: Record<string, string> = {
      ArgumentName: copySource ? 'x-amz-copy-source-server-side-encryption' : SSE_HEADER,
    }
    if (value !== undefined) details.ArgumentValue = value
    return new S3Error(code, message, details)
  }
  if (!algorithm) throw fail('InvalidArgument', SSE_C_MESSAGES.missingAlgorithm)
  if (!keyB64) throw fail('InvalidArgument', SSE_C_MESSAGES.missingKey)
  if (algorithm !== SSE_C_ALGORITHM)
    throw fail('InvalidEncryptionAlgorithmError', SSE_C_MESSAGES.badAlgorithm, algorithm)
  const key = BASE64.test(keyB64) ? fromBase64(keyB64) : undefined
  if (!key) throw fail('InvalidArgument', SSE_C_MESSAGES.badKey)
  // An MD5 that is not base64 can only mismatch: an empty digest never matches.
  const md5 = keyMd5B64 ? ((BASE64.test(keyMd5B64) ? fromBase64(keyMd5B64) : undefined) ?? new Uint8Array()) : undefined
  try {
    return { ...customerKey(key, md5, platform), keyMd5B64: keyMd5B64! }
  } catch (e) {
    if (!isServiceError(e) || e.code !== 'InvalidCustomerKey') throw e
    const problem = e.details.problem
    if (problem === 'length') throw fail('InvalidArgument', SSE_C_MESSAGES.badKey)
    if (problem === 'digest-missing') throw fail('InvalidArgument', SSE_C_MESSAGES.missingKeyMd5)
    throw fail('InvalidArgument', SSE_C_MESSAGES.md5Mismatch)
  }
}

/**
 * `x-amz-server-side-encryption` on a write: AES256 (SSE-S3) is what D@RE provides; KMS is not
 * offered. Returns true when SSE-S3 was asked for (the bucket's namespace must then have D@RE).
 */
export function readSseRequest(h: Headers, sseC: SseCKey | undefined): boolean {
  const value = h.get(SSE_HEADER)
  // A KMS key id (or context) means nothing without aws:kms: S3 answers 400 InvalidArgument.
  for (const name of [KMS_KEY_ID_HEADER, KMS_CONTEXT_HEADER]) {
    if (h.has(name) && !value?.startsWith('aws:kms'))
      throw new S3Error(
        'InvalidArgument',
        'Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms',
        { ArgumentName: name, ArgumentValue: h.get(name)! },
      )
  }
  if (value === null) return false
  if (sseC)
    throw new S3Error(
      'InvalidArgument',
      'Server Side Encryption with Customer provided keys cannot be combined with x-amz-server-side-encryption.',
      { ArgumentName: SSE_HEADER, ArgumentValue: value },
    )
  if (value === 'AES256') return true
  if (value.startsWith('aws:kms')) {
    throw new S3Error(
      'InvalidArgument',
      'Coffer does not offer KMS keys: use AES256 (SSE-S3, managed by the service) or SSE-C.',
      { ArgumentName: SSE_HEADER, ArgumentValue: value },
    )
  }
  throw new S3Error('InvalidArgument', 'The encryption method specified is not supported.', {
    ArgumentName: SSE_HEADER,
    ArgumentValue: value,
  })
}

/**
 * GET and HEAD take no `x-amz-server-side-encryption` (only the SSE-C headers): S3 answers the
 * header with 400 InvalidArgument whatever the object's encryption.
 */
export function refuseSseOnRead(h: Headers): void {
  const value = h.get(SSE_HEADER)
  if (value !== null)
    throw new S3Error('InvalidArgument', 'x-amz-server-side-encryption header is not supported for this operation.', {
      ArgumentName: SSE_HEADER,
      ArgumentValue: value,
    })
}

/** Refuses an SSE-S3 request for a bucket whose namespace stores data in clear. */
export async function requireBucketEncryption(
  op: Pick<OpContext, 'service' | 'actor' | 'bucket'>,
  bucket = op.bucket,
): Promise<void> {
  const enc = await bucketEncryption(op.service, op.actor, bucket)
  if (!enc.encrypted) {
    throw new S3Error(
      'InvalidRequest',
      `Server-side encryption is off in namespace ${enc.namespace}, which holds this bucket; the operator sets D@RE per namespace (coffer admin namespace create NAME --encryption on).`,
    )
  }
}

/** Response headers telling how an object is stored: SSE-S3, or SSE-C with the request's key MD5 echoed. */
export function encryptionHeaders(sse: SseKind | undefined, sseC?: SseCKey): Record<string, string> {
  if (sse === 'sse-c') {
    const out: Record<string, string> = { [`${customer(false)}algorithm`]: SSE_C_ALGORITHM }
    if (sseC) out[`${customer(false)}key-md5`] = sseC.keyMd5B64
    return out
  }
  return sse === 'sse-s3' ? { [SSE_HEADER]: 'AES256' } : {}
}
