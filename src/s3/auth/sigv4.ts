/**
 * AWS Signature Version 4 as S3 does it: canonical request, string to sign, key derivation, and
 * `authenticate`, which verifies header or presigned auth. Uses Platform (HMAC/SHA-256), util/bytes.
 */
import { S3Error } from '../errors.ts'
import { timingSafeEqual, toHex, utf8 } from '../../util/bytes.ts'
import { headerText } from '../header-text.ts'
import type { Platform } from '../../util/platform.ts'
import { ALGORITHM, SCOPE_TERMINAL, formatAmzDate, parseHeaderAuth } from './header-auth.ts'
import type { SignatureParts } from './header-auth.ts'
import { SIGNATURE_PARAM, hasQueryAuth, parsePresigned } from './presigned.ts'
import { hasV2Header, hasV2Query, verifyV2 } from './sigv2.ts'

export interface AuthRequest {
  method: string
  /** Raw request path exactly as received (percent-encoded, not decoded), e.g. '/bucket/my%20key' */
  rawPath: string
  /** Raw query string without '?', exactly as received ('' when none) */
  rawQuery: string
  headers: Headers
  /**
   * SigV2's CanonicalizedResource path: rawPath with `/bucket` in front when the bucket came from
   * the Host (virtual-hosted style). Defaults to rawPath.
   */
  v2ResourcePath?: string
}
export type SecretLookup = (accessKeyId: string) => Promise<string | undefined>
export interface AuthContext {
  region: string
  now: () => Date
  platform: Platform
  lookupSecret: SecretLookup
  /** Accept Signature Version 2 (`--sigv2`, default on); off, it is refused as AWS's V4-only regions do. */
  sigv2?: boolean
}
export type PayloadMode =
  | { kind: 'sha256'; hex: string }
  | { kind: 'unsigned' }
  | {
      kind: 'streaming-signed'
      trailer: boolean
      seedSignature: string
      signingKey: Uint8Array
      amzDate: string
      scope: string
    }
  | { kind: 'streaming-unsigned-trailer' }
export interface Authenticated {
  accessKeyId: string
  presigned: boolean
  payload: PayloadMode
  /** 2 for SigV2 (header or query); absent for SigV4. */
  signatureVersion?: 2
}

export const SERVICE = 's3'
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD'
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
/** S3 refuses requests whose time differs from the server's by more than 15 minutes. */
export const MAX_SKEW_MS = 15 * 60 * 1000

// ---- canonicalization (service-independent, tested against the AWS SigV4 suite) ----

const HEX = '0123456789ABCDEF'
const isHexDigit = (b: number) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
const hexValue = (b: number) => (b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x57)
const isUnreserved = (b: number) =>
  (b >= 0x41 && b <= 0x5a) ||
  (b >= 0x61 && b <= 0x7a) ||
  (b >= 0x30 && b <= 0x39) ||
  b === 0x2d ||
  b === 0x2e ||
  b === 0x5f ||
  b === 0x7e

/**
 * Percent-decodes at the byte level, so sequences that are not valid UTF-8 survive a round trip;
 * a '%' not followed by two hex digits stays literal. In queries '+' means a space (form encoding).
 */
export function percentDecode(s: string, plusIsSpace: boolean): Uint8Array {
  const bytes = utf8(s)
  let j = 0
  for (let i = 0; i < bytes.length; i++, j++) {
    const b = bytes[i]!
    if (b === 0x25 && i + 2 < bytes.length && isHexDigit(bytes[i + 1]!) && isHexDigit(bytes[i + 2]!)) {
      bytes[j] = (hexValue(bytes[i + 1]!) << 4) | hexValue(bytes[i + 2]!)
      i += 2
    } else {
      bytes[j] = plusIsSpace && b === 0x2b ? 0x20 : b
    }
  }
  return bytes.subarray(0, j)
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - . _ ~ as %XX (upper case). */
export function uriEncode(bytes: Uint8Array): string {
  let out = ''
  for (const b of bytes) out += isUnreserved(b) ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 15]}`
  return out
}

/**
 * S3's canonical URI: the path encoded once, never normalized ('//' and '.' segments stay).
 * Each segment is decoded and re-encoded so that clients which escape differently (`!*'()`, `+`,
 * lower-case hex) all land on the form the AWS SDKs sign.
 */
export function canonicalUri(rawPath: string): string {
  if (rawPath === '') return '/'
  return rawPath
    .split('/')
    .map((seg) => uriEncode(percentDecode(seg, false)))
    .join('/')
}

/** Sorted `key=value` pairs, each decoded then re-encoded; `omit` drops a parameter by name. */
export function canonicalQuery(rawQuery: string, omit?: string): string {
  const pairs: [string, string][] = []
  for (const part of rawQuery.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const key = uriEncode(percentDecode(eq < 0 ? part : part.slice(0, eq), true))
    if (key === omit) continue
    pairs.push([key, eq < 0 ? '' : uriEncode(percentDecode(part.slice(eq + 1), true))])
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
  return pairs.map(([k, v]) => `${k}=${v}`).join('&')
}

/**
 * `name:value\n` per signed header, values trimmed with inner runs of spaces collapsed. `get`
 * returns repeated headers joined with ',' (the Headers API joins with ', ', so a request that
 * repeats a signed header will not verify; no S3 client does that).
 */
export function canonicalHeaders(signedHeaders: readonly string[], get: (name: string) => string | null): string {
  let out = ''
  for (const name of signedHeaders) out += `${name}:${(get(name) ?? '').trim().replace(/ {2,}/g, ' ')}\n`
  return out
}

export interface CanonicalParts {
  method: string
  uri: string
  query: string
  headers: string
  signedHeaders: readonly string[]
  payloadHash: string
}

export function canonicalRequest(p: CanonicalParts): string {
  return `${p.method}\n${p.uri}\n${p.query}\n${p.headers}\n${p.signedHeaders.join(';')}\n${p.payloadHash}`
}

export const credentialScope = (date: string, region: string, service: string): string =>
  `${date}/${region}/${service}/${SCOPE_TERMINAL}`

export function sha256Hex(platform: Platform, data: Uint8Array | string): string {
  const h = platform.createHasher('sha256')
  h.update(typeof data === 'string' ? utf8(data) : data)
  return toHex(h.digest())
}

export function stringToSign(platform: Platform, amzDate: string, scope: string, canonical: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(platform, canonical)}`
}

export function deriveSigningKey(
  platform: Platform,
  secret: string,
  date: string,
  region: string,
  service: string,
): Uint8Array {
  const kDate = platform.hmacSha256(`AWS4${secret}`, date)
  const kRegion = platform.hmacSha256(kDate, region)
  const kService = platform.hmacSha256(kRegion, service)
  return platform.hmacSha256(kService, SCOPE_TERMINAL)
}

/**
 * Signing keys derived by the verifier, by access key and scope: a key is valid for one day,
 * region and service, so deriving it (four HMACs) once per client and day instead of per request
 * is what AWS's own SDKs do. The secret is kept beside it and compared, so a changed secret is
 * never verified against a stale key. Bounded; the oldest entry goes first.
 */
const SIGNING_KEYS_KEPT = 1024
const signingKeys = new Map<string, { secret: string; key: Uint8Array }>()

export function cachedSigningKey(
  platform: Platform,
  accessKeyId: string,
  secret: string,
  date: string,
  region: string,
  service: string,
): Uint8Array {
  const id = `${accessKeyId}/${date}/${region}/${service}`
  const hit = signingKeys.get(id)
  if (hit !== undefined && hit.secret === secret) return hit.key
  const key = deriveSigningKey(platform, secret, date, region, service)
  signingKeys.delete(id)
  signingKeys.set(id, { secret, key })
  if (signingKeys.size > SIGNING_KEYS_KEPT) signingKeys.delete(signingKeys.keys().next().value as string)
  return key
}

export const signHex = (platform: Platform, key: Uint8Array, data: string): string =>
  toHex(platform.hmacSha256(key, data))

// ---- verification ----

type PayloadKind =
  | 'sha256'
  | 'unsigned'
  | 'streaming-signed'
  | 'streaming-signed-trailer'
  | 'streaming-unsigned-trailer'

/** Classifies x-amz-content-sha256 before any crypto, so bad values fail fast with S3's codes. */
function payloadKind(value: string): PayloadKind {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return 'sha256'
  switch (value) {
    case UNSIGNED_PAYLOAD:
      return 'unsigned'
    case STREAMING_SIGNED:
      return 'streaming-signed'
    case STREAMING_SIGNED_TRAILER:
      return 'streaming-signed-trailer'
    case STREAMING_UNSIGNED_TRAILER:
      return 'streaming-unsigned-trailer'
  }
  if (value.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD')) {
    throw new S3Error(
      'NotImplemented',
      'SigV4a (ECDSA) streaming payloads are not supported; use STREAMING-AWS4-HMAC-SHA256-PAYLOAD.',
    )
  }
  throw new S3Error(
    'InvalidArgument',
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.',
    {
      ArgumentName: 'x-amz-content-sha256',
      ArgumentValue: value,
    },
  )
}

function checkScope(parts: SignatureParts, region: string): void {
  const code = parts.presigned ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed'
  const prefix = parts.presigned
    ? 'Error parsing the X-Amz-Credential parameter'
    : 'The authorization header is malformed'
  if (parts.region !== region) {
    throw new S3Error(code, `${prefix}; the region '${parts.region}' is wrong; expecting '${region}'`, {
      Region: region,
    })
  }
  if (parts.service !== SERVICE) {
    throw new S3Error(code, `${prefix}; incorrect service '${parts.service}'. This endpoint belongs to '${SERVICE}'.`)
  }
  if (parts.scopeDate !== parts.amzDate.slice(0, 8)) {
    throw new S3Error(
      code,
      `${prefix}; Invalid credential date "${parts.scopeDate}". This date is not the same as X-Amz-Date: "${parts.amzDate.slice(0, 8)}".`,
    )
  }
}

/**
 * An unsigned request: no Authorization header and no query-string signature (V4 or V2). S3
 * evaluates it as the anonymous principal (src/s3/authorize.ts) instead of refusing it outright.
 */
export function isAnonymous(headers: Headers, rawQuery: string): boolean {
  if (headers.get('authorization') !== null) return false
  const params = new URLSearchParams(rawQuery)
  return !hasQueryAuth(params) && !hasV2Query(params)
}

/** What an operation sees as the authentication of an unsigned request: no key, body unsigned. */
export const ANONYMOUS_AUTH: Authenticated = { accessKeyId: '', presigned: false, payload: { kind: 'unsigned' } }

const ONE_MECHANISM =
  'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified'
const V4_ONLY = 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.'

/**
 * Header auth or presigned query auth, SigV4 or (when `ctx.sigv2`) SigV2; both end in the same
 * Authenticated. Anonymous requests (neither) → S3Error AccessDenied.
 */
export async function authenticate(req: AuthRequest, ctx: AuthContext): Promise<Authenticated> {
  const authorization = req.headers.get('authorization')
  const params = new URLSearchParams(req.rawQuery)
  const now = ctx.now()
  const v2 = hasV2Header(authorization) || (authorization === null && hasV2Query(params))
  if (authorization !== null && (hasQueryAuth(params) || hasV2Query(params))) {
    throw new S3Error('InvalidArgument', ONE_MECHANISM, { ArgumentName: 'Authorization' })
  }
  if (v2 && hasQueryAuth(params)) throw new S3Error('InvalidArgument', ONE_MECHANISM, { ArgumentName: 'Signature' })
  if (v2) {
    if (!ctx.sigv2) throw new S3Error('InvalidRequest', V4_ONLY)
    const { accessKeyId, presigned } = await verifyV2(
      {
        method: req.method,
        resourcePath: req.v2ResourcePath ?? req.rawPath,
        rawQuery: req.rawQuery,
        headers: req.headers,
      },
      now,
      ctx.lookupSecret,
    )
    // SigV2 signs no body hash; a literal x-amz-content-sha256 (s3cmd sends one) is still checked.
    const sent = req.headers.get('x-amz-content-sha256')?.trim() ?? ''
    const payload: PayloadMode = /^[0-9a-fA-F]{64}$/.test(sent)
      ? { kind: 'sha256', hex: sent.toLowerCase() }
      : { kind: 'unsigned' }
    return { accessKeyId, presigned, payload, signatureVersion: 2 }
  }
  let parts: SignatureParts
  if (authorization !== null) {
    parts = parseHeaderAuth(authorization, req.headers)
  } else if (hasQueryAuth(params)) {
    parts = parsePresigned(params, req.headers, now, MAX_SKEW_MS)
  } else {
    throw new S3Error('AccessDenied')
  }

  checkScope(parts, ctx.region)
  if (!parts.presigned && Math.abs(parts.time.getTime() - now.getTime()) > MAX_SKEW_MS) {
    throw new S3Error('RequestTimeTooSkewed', undefined, {
      RequestTime: parts.amzDate,
      ServerTime: formatAmzDate(now),
      MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS),
    })
  }
  const kind = payloadKind(parts.payloadHash)
  const secret = await ctx.lookupSecret(parts.accessKeyId)
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: parts.accessKeyId })

  const { platform } = ctx
  const scope = credentialScope(parts.scopeDate, parts.region, parts.service)
  const signingKey = cachedSigningKey(platform, parts.accessKeyId, secret, parts.scopeDate, parts.region, parts.service)
  const base: Omit<CanonicalParts, 'uri'> = {
    method: req.method.toUpperCase(),
    query: canonicalQuery(req.rawQuery, parts.presigned ? SIGNATURE_PARAM : undefined),
    // The client signed the header bytes it sent; headerText turns our one-char-per-byte reading
    // back into the text whose UTF-8 is those bytes.
    headers: canonicalHeaders(parts.signedHeaders, (n) => {
      const v = req.headers.get(n)
      return v === null ? null : headerText(v)
    }),
    signedHeaders: parts.signedHeaders,
    payloadHash: parts.payloadHash,
  }
  const verify = (uri: string) => {
    const creq = canonicalRequest({ ...base, uri })
    const sts = stringToSign(platform, parts.amzDate, scope, creq)
    return { creq, sts, ok: timingSafeEqual(signHex(platform, signingKey, sts), parts.signature) }
  }
  const uri = canonicalUri(req.rawPath)
  const first = verify(uri)
  // A client that signs its path exactly as sent (without re-escaping `!*'()`, or with lower-case
  // hex) still verifies: the signature then covers the very bytes we received.
  const ok = first.ok || (req.rawPath !== uri && req.rawPath !== '' && verify(req.rawPath).ok)
  if (!ok) {
    // S3 returns these so a client author can diff them against what the client signed.
    throw new S3Error('SignatureDoesNotMatch', undefined, {
      AWSAccessKeyId: parts.accessKeyId,
      StringToSign: first.sts,
      SignatureProvided: parts.signature,
      CanonicalRequest: first.creq,
    })
  }

  const payload: PayloadMode =
    kind === 'sha256'
      ? { kind, hex: parts.payloadHash.toLowerCase() }
      : kind === 'unsigned'
        ? { kind }
        : kind === 'streaming-unsigned-trailer'
          ? { kind }
          : {
              kind: 'streaming-signed',
              trailer: kind === 'streaming-signed-trailer',
              seedSignature: parts.signature,
              signingKey,
              amzDate: parts.amzDate,
              scope,
            }
  return { accessKeyId: parts.accessKeyId, presigned: parts.presigned, payload }
}
