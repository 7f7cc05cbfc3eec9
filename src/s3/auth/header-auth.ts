/**
 * Parsing of SigV4 header authentication: the `Authorization` header, the credential scope and the
 * request date. Pure: produces SignatureParts for sigv4.ts to verify; uses util/bytes and s3/errors.
 */
import { S3Error } from '../errors.ts'
import type { S3ErrorCode } from '../errors.ts'

export const ALGORITHM = 'AWS4-HMAC-SHA256'
export const SCOPE_TERMINAL = 'aws4_request'

/** Everything a signed request claims, whichever way (header or query) it was sent. */
export interface SignatureParts {
  presigned: boolean
  accessKeyId: string
  /** Credential scope: date (YYYYMMDD), region and service exactly as the client wrote them. */
  scopeDate: string
  region: string
  service: string
  /** Lower-case names, in the order the client listed them (its canonical order). */
  signedHeaders: string[]
  /** Lower-case hex. */
  signature: string
  /** Request time as it appears in the string to sign (ISO 8601 basic, `YYYYMMDDTHHMMSSZ`). */
  amzDate: string
  time: Date
  /** The last line of the canonical request: a hex SHA-256 or one of the special payload values. */
  payloadHash: string
}

export interface Credential {
  accessKeyId: string
  date: string
  region: string
  service: string
}

/** `AK/YYYYMMDD/region/service/aws4_request`; an access key may itself contain '/'. */
export function parseCredential(value: string, code: S3ErrorCode, prefix: string): Credential {
  const parts = value.split('/')
  const bad = () =>
    new S3Error(
      code,
      `${prefix}; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`,
    )
  if (parts.length < 5) throw bad()
  const [date, region, service, terminal] = parts.slice(-4) as [string, string, string, string]
  const accessKeyId = parts.slice(0, -4).join('/')
  if (!accessKeyId || !/^\d{8}$/.test(date) || !region || !service) throw bad()
  if (terminal !== SCOPE_TERMINAL) {
    throw new S3Error(code, `${prefix}; incorrect terminal '${terminal}'. This endpoint uses '${SCOPE_TERMINAL}'.`)
  }
  return { accessKeyId, date, region, service }
}

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/

/** Parses ISO 8601 basic (`20130524T000000Z`); undefined when malformed or not a real instant. */
export function parseAmzDate(value: string): Date | undefined {
  const m = AMZ_DATE.exec(value)
  if (!m) return undefined
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number]
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s))
  // Reject rollovers such as month 13 or 25 o'clock, which Date.UTC silently normalizes.
  return formatAmzDate(t) === value ? t : undefined
}

export function formatAmzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')
}

/** The request time from `x-amz-date`, else `Date` (either ISO basic or an HTTP date). */
export function requestDate(headers: Headers): { amzDate: string; time: Date } {
  const amz = headers.get('x-amz-date')
  const raw = amz ?? headers.get('date')
  let time: Date | undefined
  if (raw !== null) {
    time = parseAmzDate(raw.trim())
    if (!time && amz === null) {
      const ms = Date.parse(raw)
      if (!Number.isNaN(ms)) time = new Date(ms)
    }
  }
  if (!time) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header')
  return { amzDate: formatAmzDate(time), time }
}

const MALFORMED = 'The authorization header is malformed'

/** Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` plus the date and payload hash. */
export function parseHeaderAuth(authorization: string, headers: Headers): SignatureParts {
  const trimmed = authorization.trim()
  if (trimmed.startsWith('AWS ')) {
    throw new S3Error(
      'InvalidRequest',
      'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    )
  }
  if (!trimmed.startsWith(`${ALGORITHM} `)) {
    throw new S3Error('InvalidArgument', 'Unsupported Authorization Type', {
      ArgumentName: 'Authorization',
      ArgumentValue: trimmed.split(' ')[0] ?? '',
    })
  }
  const fields = new Map<string, string>()
  for (const field of trimmed.slice(ALGORITHM.length).split(',')) {
    const f = field.trim()
    const eq = f.indexOf('=')
    if (eq <= 0)
      throw new S3Error(
        'AuthorizationHeaderMalformed',
        `${MALFORMED}; the authorization component "${f}" is malformed.`,
      )
    fields.set(f.slice(0, eq), f.slice(eq + 1))
  }
  const credential = fields.get('Credential')
  const signedHeaders = fields.get('SignedHeaders')
  const signature = fields.get('Signature')
  if (credential === undefined)
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      `${MALFORMED}; the authorization header requires a 'Credential' parameter.`,
    )
  if (signedHeaders === undefined)
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      `${MALFORMED}; the authorization header requires a 'SignedHeaders' parameter.`,
    )
  if (signature === undefined)
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      `${MALFORMED}; the authorization header requires a 'Signature' parameter.`,
    )
  const cred = parseCredential(credential, 'AuthorizationHeaderMalformed', MALFORMED)
  const { amzDate, time } = requestDate(headers)
  const payloadHash = headers.get('x-amz-content-sha256')
  if (payloadHash === null) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256')
  }
  return {
    presigned: false,
    accessKeyId: cred.accessKeyId,
    scopeDate: cred.date,
    region: cred.region,
    service: cred.service,
    signedHeaders: parseSignedHeaders(signedHeaders, 'AuthorizationHeaderMalformed', MALFORMED),
    signature: parseSignature(signature, 'AuthorizationHeaderMalformed', MALFORMED),
    amzDate,
    time,
    payloadHash: payloadHash.trim(),
  }
}

export function parseSignedHeaders(value: string, code: S3ErrorCode, prefix: string): string[] {
  const names = value.split(';').map((n) => n.trim().toLowerCase())
  if (names.some((n) => n === '' || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(n))) {
    throw new S3Error(code, `${prefix}; the SignedHeaders list is malformed.`)
  }
  // Without the host the signature would not bind the request to this endpoint.
  if (!names.includes('host')) throw new S3Error(code, `${prefix}; the host header must be signed.`)
  return names
}

export function parseSignature(value: string, code: S3ErrorCode, prefix: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(value))
    throw new S3Error(code, `${prefix}; the Signature must be 64 hexadecimal characters.`)
  return value.toLowerCase()
}
