/**
 * Parsing and time checks of SigV4 query-string (presigned URL) authentication.
 * Pure: produces SignatureParts for sigv4.ts to verify; uses header-auth.ts helpers and s3/errors.
 */
import { S3Error } from '../errors.ts'
import {
  ALGORITHM,
  formatAmzDate,
  parseAmzDate,
  parseCredential,
  parseSignature,
  parseSignedHeaders,
} from './header-auth.ts'
import type { SignatureParts } from './header-auth.ts'

/** A week, S3's ceiling for X-Amz-Expires. */
export const MAX_PRESIGNED_EXPIRES_SECONDS = 604_800

/** The query parameter excluded from the canonical query (it carries the signature itself). */
export const SIGNATURE_PARAM = 'X-Amz-Signature'

const CODE = 'AuthorizationQueryParametersError'
const REQUIRED = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Signature',
  'X-Amz-Date',
  'X-Amz-SignedHeaders',
  'X-Amz-Expires',
]

export function hasQueryAuth(params: URLSearchParams): boolean {
  return params.has('X-Amz-Algorithm') || params.has('X-Amz-Credential') || params.has('X-Amz-Signature')
}

/**
 * Reads the X-Amz-* parameters and refuses expired or not-yet-valid URLs. `maxSkewMs` bounds how
 * far in the future X-Amz-Date may be (a URL signed by a client whose clock runs ahead).
 */
export function parsePresigned(
  params: URLSearchParams,
  headers: Headers,
  now: Date,
  maxSkewMs: number,
): SignatureParts {
  const values = new Map<string, string>()
  for (const name of REQUIRED) {
    const all = params.getAll(name)
    if (all.length !== 1) {
      throw new S3Error(
        CODE,
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      )
    }
    values.set(name, all[0]!)
  }
  const get = (name: string) => values.get(name)!
  if (get('X-Amz-Algorithm') !== ALGORITHM) {
    throw new S3Error(CODE, `X-Amz-Algorithm only supports "${ALGORITHM}"`)
  }
  const cred = parseCredential(get('X-Amz-Credential'), CODE, 'Error parsing the X-Amz-Credential parameter')
  const amzDate = get('X-Amz-Date')
  const time = parseAmzDate(amzDate)
  if (!time) throw new S3Error(CODE, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
  const expiresText = get('X-Amz-Expires')
  // S3 refuses an expiry outside 0..604800 with 403 (as conformance runs against AWS expect),
  // and an expiry of 0 as already expired, below.
  const outOfRange = (message: string) => new S3Error(CODE, message, { 'X-Amz-Expires': expiresText }, {}, 403)
  if (/^-\d+$/.test(expiresText)) throw outOfRange('X-Amz-Expires must be non-negative')
  if (!/^\d+$/.test(expiresText)) throw new S3Error(CODE, 'X-Amz-Expires should be a number')
  const expires = Number(expiresText)
  if (expires > MAX_PRESIGNED_EXPIRES_SECONDS) {
    throw outOfRange(
      `X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than ${MAX_PRESIGNED_EXPIRES_SECONDS} seconds`,
    )
  }
  const serverTime = formatAmzDate(now)
  if (time.getTime() - now.getTime() > maxSkewMs) {
    throw new S3Error('AccessDenied', 'Request is not valid yet', { 'X-Amz-Date': amzDate, ServerTime: serverTime })
  }
  if (expires === 0 || now.getTime() > time.getTime() + expires * 1000) {
    throw new S3Error('AccessDenied', 'Request has expired', {
      'X-Amz-Expires': expiresText,
      Expires: formatAmzDate(new Date(time.getTime() + expires * 1000)),
      ServerTime: serverTime,
    })
  }
  const prefix = 'Error parsing the X-Amz-SignedHeaders parameter'
  return {
    presigned: true,
    accessKeyId: cred.accessKeyId,
    scopeDate: cred.date,
    region: cred.region,
    service: cred.service,
    signedHeaders: parseSignedHeaders(get('X-Amz-SignedHeaders'), CODE, prefix),
    signature: parseSignature(get(SIGNATURE_PARAM), CODE, 'Error parsing the X-Amz-Signature parameter'),
    amzDate,
    time,
    // Presigned URLs cannot carry a body hash unless the signer put one in the query (or a header).
    payloadHash: (
      params.get('X-Amz-Content-Sha256') ??
      headers.get('x-amz-content-sha256') ??
      'UNSIGNED-PAYLOAD'
    ).trim(),
  }
}
