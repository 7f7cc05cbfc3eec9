/**
 * Server-side encryption headers: SSE-S3 (`x-amz-server-side-encryption: AES256`, D@RE of the
 * namespace) and SSE-C (`x-amz-server-side-encryption-customer-*`), in and out. Pure over Headers.
 */
import { parseSseC, recordOf, SSE_C_ALGORITHM, SseCError, type SseCKey } from '../service/encryption.ts'
import type { Platform } from '../util/platform.ts'
import type { OpContext } from './context.ts'
import { S3Error } from './errors.ts'

export const SSE_HEADER = 'x-amz-server-side-encryption'
const customer = (copySource: boolean) => `x-amz-${copySource ? 'copy-source-' : ''}server-side-encryption-customer-`

/** The SSE-C key of a request (or of its copy source), validated as S3 does; undefined when none. */
export function readSseC(
  h: Headers,
  platform: Pick<Platform, 'createHasher'>,
  copySource = false,
): SseCKey | undefined {
  const base = customer(copySource)
  try {
    return parseSseC(
      { algorithm: h.get(`${base}algorithm`), keyB64: h.get(`${base}key`), keyMd5B64: h.get(`${base}key-md5`) },
      platform,
    )
  } catch (e) {
    if (!(e instanceof SseCError)) throw e
    const details: Record<string, string> = {
      ArgumentName: copySource ? e.argumentName.replace('x-amz-', 'x-amz-copy-source-') : e.argumentName,
    }
    if (e.argumentValue !== undefined) details.ArgumentValue = e.argumentValue
    throw new S3Error(e.code, e.message, details)
  }
}

/**
 * `x-amz-server-side-encryption` on a write: AES256 (SSE-S3) is what D@RE provides; KMS is not
 * offered. Returns true when SSE-S3 was asked for (the bucket's namespace must then have D@RE).
 */
export function readSseRequest(h: Headers, sseC: SseCKey | undefined): boolean {
  const value = h.get(SSE_HEADER)
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

/** Refuses an SSE-S3 request for a bucket whose namespace stores data in clear. */
export async function requireBucketEncryption(ctx: OpContext, bucket = ctx.bucket): Promise<void> {
  const enc = await ctx.service.buckets.bucketEncryption(ctx.actor, bucket)
  if (!enc.encrypted) {
    throw new S3Error(
      'InvalidRequest',
      `Server-side encryption is off in namespace ${enc.namespace}, which holds this bucket; the operator sets D@RE per namespace (coffer admin namespace create NAME --encryption on).`,
    )
  }
}

/** Response headers telling how an object is stored: SSE-S3, or SSE-C with the key's MD5 echoed. */
export function encryptionHeaders(encryption: unknown, sseC?: SseCKey): Record<string, string> {
  const record = recordOf(encryption)
  if (!record) return {}
  if (record.mode === 'sse-c') {
    const out: Record<string, string> = { [`${customer(false)}algorithm`]: SSE_C_ALGORITHM }
    if (sseC) out[`${customer(false)}key-md5`] = sseC.keyMd5B64
    return out
  }
  return { [SSE_HEADER]: 'AES256' }
}
