/**
 * The client side of SigV4 header auth, built from the same canonicalisation the verifier uses:
 * for Coffer's own tools (the admin CLI), so they need no AWS SDK at run time.
 */
import type { Platform } from '../../util/platform.ts'
import { splitUrl } from '../endpoints.ts'
import {
  canonicalHeaders,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  credentialScope,
  deriveSigningKey,
  SERVICE,
  sha256Hex,
  signHex,
  stringToSign,
} from './sigv4.ts'

export interface SignInput {
  method: string
  url: string
  body?: string
  headers?: Record<string, string>
  accessKeyId: string
  secretAccessKey: string
  region: string
  now?: Date
  /** The x-amz-content-sha256 to sign instead of the body's hash: `UNSIGNED-PAYLOAD` for a streamed body. */
  payloadHash?: string
}

const amzDateOf = (now: Date): string =>
  now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')

/** Returns the request headers (lower-case) including `authorization`. */
export function signRequest(platform: Platform, input: SignInput): Record<string, string> {
  const now = input.now ?? new Date()
  const amzDate = amzDateOf(now)
  const date = amzDate.slice(0, 8)
  const { rawPath, rawQuery } = splitUrl(input.url)
  const host = new URL(input.url).host
  const payloadHash = input.payloadHash ?? sha256Hex(platform, input.body ?? '')
  const headers: Record<string, string> = {
    ...Object.fromEntries(Object.entries(input.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    host,
    'x-amz-date': amzDate,
    'x-amz-content-sha256': payloadHash,
  }
  const signed = Object.keys(headers).sort()
  const canonical = canonicalRequest({
    method: input.method,
    uri: canonicalUri(rawPath),
    query: canonicalQuery(rawQuery),
    headers: canonicalHeaders(signed, (n) => headers[n] ?? null),
    signedHeaders: signed,
    payloadHash,
  })
  const scope = credentialScope(date, input.region, SERVICE)
  const key = deriveSigningKey(platform, input.secretAccessKey, date, input.region, SERVICE)
  const signature = signHex(platform, key, stringToSign(platform, amzDate, scope, canonical))
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${input.accessKeyId}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`
  delete headers.host
  return headers
}

export interface PresignInput {
  method: string
  /** `https://host/bucket/key` with the path already URI-encoded as it will be sent; no query. */
  url: string
  accessKeyId: string
  secretAccessKey: string
  region: string
  expiresSeconds: number
  now?: Date
}

/**
 * A presigned URL (query-string SigV4, only `host` signed, UNSIGNED-PAYLOAD): what the console
 * hands out as a share link, verified by the same code as any SDK's presigned URL.
 */
export function presignUrl(platform: Platform, input: PresignInput): string {
  const now = input.now ?? new Date()
  const amzDate = amzDateOf(now)
  const date = amzDate.slice(0, 8)
  const scope = credentialScope(date, input.region, SERVICE)
  const { rawPath } = splitUrl(input.url)
  const host = new URL(input.url).host
  const params = new URLSearchParams({
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${input.accessKeyId}/${scope}`,
    'X-Amz-Date': amzDate,
    'X-Amz-Expires': String(input.expiresSeconds),
    'X-Amz-SignedHeaders': 'host',
  })
  // URLSearchParams writes '/' as %2F, which is SigV4's canonical query encoding too.
  const rawQuery = params.toString()
  const canonical = canonicalRequest({
    method: input.method,
    uri: canonicalUri(rawPath),
    query: canonicalQuery(rawQuery),
    headers: canonicalHeaders(['host'], (n) => (n === 'host' ? host : null)),
    signedHeaders: ['host'],
    payloadHash: 'UNSIGNED-PAYLOAD',
  })
  const key = deriveSigningKey(platform, input.secretAccessKey, date, input.region, SERVICE)
  const signature = signHex(platform, key, stringToSign(platform, amzDate, scope, canonical))
  return `${input.url}?${rawQuery}&X-Amz-Signature=${signature}`
}
