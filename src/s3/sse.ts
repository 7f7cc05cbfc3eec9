/**
 * Server-side encryption headers: SSE-S3 (`x-amz-server-side-encryption: AES256`), SSE-KMS
 * (`aws:kms` with `-aws-kms-key-id`, `-context`, `-bucket-key-enabled`) and SSE-C
 * (`x-amz-server-side-encryption-customer-*`), in and out, with S3's own codes and wording for
 * every malformed header set. Uses the service's customerKey check and context validation.
 */
import {
  canonicalEncryptionContext,
  type CustomerKey,
  customerKey,
  EncryptionContextError,
  isServiceError,
  type KmsInfo,
  type SseKind,
  type SseRequest,
} from '../service/index.ts'
import { fromBase64 } from '../util/bytes.ts'
import type { Platform } from '../util/platform.ts'
import { S3Error } from './errors.ts'

export const SSE_HEADER = 'x-amz-server-side-encryption'
const KMS_KEY_ID_HEADER = 'x-amz-server-side-encryption-aws-kms-key-id'
const KMS_CONTEXT_HEADER = 'x-amz-server-side-encryption-context'
const BUCKET_KEY_HEADER = 'x-amz-server-side-encryption-bucket-key-enabled'
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

/** S3's wording for an encryption context that is not base64 of a JSON string map. */
const CONTEXT_MESSAGE =
  "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map"

/**
 * `x-amz-server-side-encryption` on a write, with its KMS headers: AES256 (SSE-S3), aws:kms or
 * aws:kms:dsse (SSE-KMS; the key id names an id, alias or ARN, the namespace default key when
 * absent; the context is validated and kept in canonical form). Undefined when none is sent.
 */
export function readSseRequest(h: Headers, sseC: SseCKey | undefined): SseRequest | undefined {
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
  if (value === null) return undefined
  if (sseC)
    throw new S3Error(
      'InvalidArgument',
      'Server Side Encryption with Customer provided keys cannot be combined with x-amz-server-side-encryption.',
      { ArgumentName: SSE_HEADER, ArgumentValue: value },
    )
  if (value === 'AES256') return { algorithm: 'AES256' }
  if (value === 'aws:kms' || value === 'aws:kms:dsse') {
    const out: SseRequest = { algorithm: value }
    const keyId = h.get(KMS_KEY_ID_HEADER)
    if (keyId !== null) {
      if (keyId.trim() === '')
        throw new S3Error('InvalidArgument', 'KMS key id must not be empty.', { ArgumentName: KMS_KEY_ID_HEADER })
      out.kmsKeyId = keyId.trim()
    }
    const context = h.get(KMS_CONTEXT_HEADER)
    if (context !== null) {
      try {
        out.context = canonicalEncryptionContext(context.trim())
      } catch (e) {
        if (!(e instanceof EncryptionContextError)) throw e
        throw new S3Error('InvalidArgument', CONTEXT_MESSAGE, { ArgumentName: KMS_CONTEXT_HEADER })
      }
    }
    if (h.get(BUCKET_KEY_HEADER)?.toLowerCase() === 'true') out.bucketKeyEnabled = true
    return out
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

/**
 * Response headers telling how an object is stored: SSE-S3, SSE-KMS (algorithm, key ARN, Bucket
 * Key, and on writes the context), or SSE-C with the request's key MD5 echoed.
 */
export function encryptionHeaders(
  sse: SseKind | undefined,
  sseC?: SseCKey,
  kms?: KmsInfo,
  opts: { context?: boolean } = {},
): Record<string, string> {
  if (sse === 'sse-kms' && kms) {
    const out: Record<string, string> = { [SSE_HEADER]: kms.algorithm, [KMS_KEY_ID_HEADER]: kms.keyArn }
    if (kms.bucketKeyEnabled) out[BUCKET_KEY_HEADER] = 'true'
    if (opts.context && kms.context) out[KMS_CONTEXT_HEADER] = kms.context
    return out
  }
  if (sse === 'sse-c') {
    const out: Record<string, string> = { [`${customer(false)}algorithm`]: SSE_C_ALGORITHM }
    if (sseC) out[`${customer(false)}key-md5`] = sseC.keyMd5B64
    return out
  }
  return sse === 'sse-s3' ? { [SSE_HEADER]: 'AES256' } : {}
}
