/**
 * AWS Signature Version 2 as S3 does it (the `AWS AK:signature` header and the `AWSAccessKeyId`,
 * `Expires`, `Signature` query): string to sign, HMAC-SHA1 through WebCrypto, and verification.
 * boto3's `signature_version='s3'`, the AWS CLI v1's presign and s3cmd still produce it.
 * Self-contained (no import of sigv4.ts, which calls it): returns the access key the signature
 * proved, and sigv4.ts's `authenticate` turns that into the same `Authenticated` as SigV4.
 */
import { S3Error } from '../errors.ts'
import { timingSafeEqual, toBase64, utf8 } from '../../util/bytes.ts'
import { headerText } from '../header-text.ts'

/** The same 15 minutes as SigV4 for header-signed requests; query URLs carry their own Expires. */
const MAX_SKEW_MS = 15 * 60 * 1000

/**
 * Query parameters that are part of the CanonicalizedResource: the sub-resources AWS lists, the
 * response-* overrides and `delete` (all from the SigV2 reference), plus the later sub-resources
 * that botocore and s3cmd sign the same way (a server that left them out would refuse those
 * clients' `?cors`, `?tagging`, … requests).
 */
export const SIGNED_SUBRESOURCES: ReadonlySet<string> = new Set([
  'accelerate',
  'acl',
  'analytics',
  'cors',
  'delete',
  'encryption',
  'inventory',
  'legal-hold',
  'lifecycle',
  'location',
  'logging',
  'metrics',
  'notification',
  'object-lock',
  'partNumber',
  'policy',
  'replication',
  'requestPayment',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
  'restore',
  'retention',
  'select',
  'select-type',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'website',
])

/** Decodes %XX only (not '+'), as AWS compares sub-resource values: "when signing, you do not encode these values". */
function decodeValue(v: string): string {
  try {
    return decodeURIComponent(v)
  } catch {
    return v
  }
}

/**
 * `resourcePath` is the path as received with the bucket in front for virtual-hosted requests
 * (`/bucket/key`, `/` for the service); then `?sub&sub=value` for the signed sub-resources,
 * sorted by name.
 */
export function canonicalResource(resourcePath: string, rawQuery: string): string {
  const subs: [string, string | undefined][] = []
  for (const part of rawQuery.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const name = eq < 0 ? part : part.slice(0, eq)
    if (!SIGNED_SUBRESOURCES.has(name)) continue
    subs.push([name, eq < 0 ? undefined : decodeValue(part.slice(eq + 1))])
  }
  if (subs.length === 0) return resourcePath
  subs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  return `${resourcePath}?${subs.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join('&')}`
}

/**
 * `name:value\n` for every `x-amz-*` header, names lower-cased and sorted, values trimmed and
 * unfolded. Query auth may carry them as query parameters too (botocore moves them there).
 */
export function canonicalAmzHeaders(entries: Iterable<[string, string]>): string {
  const byName = new Map<string, string[]>()
  for (const [rawName, value] of entries) {
    const name = rawName.toLowerCase()
    if (!name.startsWith('x-amz-')) continue
    const list = byName.get(name) ?? []
    list.push(value.replace(/\s*\r?\n\s*/g, ' ').trim())
    byName.set(name, list)
  }
  return [...byName.keys()]
    .sort()
    .map((n) => `${n}:${byName.get(n)!.join(',')}\n`)
    .join('')
}

export interface V2StringToSign {
  method: string
  contentMd5: string
  contentType: string
  /** The Date header ('' when x-amz-date is sent), or the Expires value for query auth. */
  date: string
  amzHeaders: string
  resource: string
}

export const stringToSignV2 = (p: V2StringToSign): string =>
  `${p.method}\n${p.contentMd5}\n${p.contentType}\n${p.date}\n${p.amzHeaders}${p.resource}`

/** Base64 HMAC-SHA1 through WebCrypto, which Node, Deno and Bun all have. */
export async function signV2(secret: string, stringToSign: string): Promise<string> {
  const bytes = (s: string) => utf8(s) as Uint8Array<ArrayBuffer> // TextEncoder output: never shared
  const key = await crypto.subtle.importKey('raw', bytes(secret), { name: 'HMAC', hash: 'SHA-1' }, false, ['sign'])
  return toBase64(new Uint8Array(await crypto.subtle.sign('HMAC', key, bytes(stringToSign))))
}

export interface V2Request {
  method: string
  /** The CanonicalizedResource path: as received, with `/bucket` in front when virtual-hosted. */
  resourcePath: string
  rawQuery: string
  headers: Headers
}

export interface V2Verified {
  accessKeyId: string
  presigned: boolean
}

export const hasV2Header = (authorization: string | null): boolean =>
  authorization?.trimStart().startsWith('AWS ') === true

export const hasV2Query = (params: URLSearchParams): boolean =>
  params.has('AWSAccessKeyId') || (params.has('Signature') && params.has('Expires'))

/** HTTP date (RFC 1123 and the other RFC 2616 forms) or ISO 8601 basic, as S3 takes either. */
function parseV2Date(value: string): Date | undefined {
  const v = value.trim()
  const basic = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v)
  const ms = basic
    ? Date.UTC(+basic[1]!, +basic[2]! - 1, +basic[3]!, +basic[4]!, +basic[5]!, +basic[6]!)
    : Date.parse(v)
  return Number.isNaN(ms) ? undefined : new Date(ms)
}

const httpDate = (d: Date) => d.toUTCString()

/**
 * Checks a SigV2 request's time and signature. `lookupSecret` resolves the access key; an unknown
 * key is InvalidAccessKeyId, a wrong signature SignatureDoesNotMatch with the string to sign.
 */
export async function verifyV2(
  req: V2Request,
  now: Date,
  lookupSecret: (accessKeyId: string) => Promise<string | undefined>,
): Promise<V2Verified> {
  const authorization = req.headers.get('authorization')
  const params = new URLSearchParams(req.rawQuery)
  let accessKeyId: string
  let signature: string
  let date: string
  const amzEntries: [string, string][] = [...req.headers].map(([n, v]) => [n, headerText(v)]) // UTF-8 bytes as sent
  let contentMd5 = req.headers.get('content-md5') ?? ''
  let contentType = req.headers.get('content-type') ?? ''
  const presigned = authorization === null
  if (!presigned) {
    const m = /^AWS ([^:\s]+):(\S+)$/.exec(authorization.trim())
    if (!m) {
      throw new S3Error('InvalidArgument', 'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature', {
        ArgumentName: 'Authorization',
        ArgumentValue: authorization,
      })
    }
    accessKeyId = m[1]!
    signature = m[2]!
    const amzDate = req.headers.get('x-amz-date')
    const raw = amzDate ?? req.headers.get('date')
    const time = raw === null ? undefined : parseV2Date(raw)
    if (!time) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header')
    if (Math.abs(time.getTime() - now.getTime()) > MAX_SKEW_MS) {
      throw new S3Error('RequestTimeTooSkewed', undefined, {
        RequestTime: raw!,
        ServerTime: httpDate(now),
        MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS),
      })
    }
    // With x-amz-date present the Date line is empty: the date is signed among the x-amz-* headers.
    date = amzDate === null ? raw!.trim() : ''
  } else {
    const id = params.get('AWSAccessKeyId')
    const sig = params.get('Signature')
    const expires = params.get('Expires')
    if (id === null || sig === null || expires === null) {
      throw new S3Error(
        'AccessDenied',
        'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters',
      )
    }
    if (!/^\d{1,12}$/.test(expires)) {
      throw new S3Error('AccessDenied', `Invalid date (should be seconds since epoch): ${expires}`)
    }
    if (now.getTime() > Number(expires) * 1000) {
      throw new S3Error('AccessDenied', 'Request has expired', {
        Expires: httpDate(new Date(Number(expires) * 1000)),
        ServerTime: httpDate(now),
      })
    }
    accessKeyId = id
    // A client that left '+' unescaped in the base64 has it read back as a space.
    signature = sig.replace(/ /g, '+')
    date = expires
    // botocore moves x-amz-*, Content-Type and Content-MD5 into the query of a presigned URL.
    for (const [name, value] of params) {
      const n = name.toLowerCase()
      if (n.startsWith('x-amz-') && !req.headers.has(n)) amzEntries.push([n, value])
    }
    if (!contentMd5) contentMd5 = params.get('Content-MD5') ?? params.get('content-md5') ?? ''
    if (!contentType) contentType = params.get('Content-Type') ?? params.get('content-type') ?? ''
  }

  const secret = await lookupSecret(accessKeyId)
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId })
  const sts = (amzHeaders: string) =>
    stringToSignV2({
      method: req.method.toUpperCase(),
      contentMd5: contentMd5.trim(),
      contentType: contentType.trim(),
      date,
      amzHeaders,
      resource: canonicalResource(req.resourcePath, req.rawQuery),
    })
  const amzHeaders = canonicalAmzHeaders(amzEntries)
  let ok = timingSafeEqual(await signV2(secret, sts(amzHeaders)), signature)
  // The Headers API joins a repeated header with ', ', SigV2 with ','; the two cannot be told
  // apart from a value that holds ', ' itself, so the joined form is tried as well.
  if (!ok && amzHeaders.includes(', ')) {
    const joined = canonicalAmzHeaders(amzEntries.map(([n, v]) => [n, v.replace(/,\s+/g, ',')]))
    ok = timingSafeEqual(await signV2(secret, sts(joined)), signature)
  }
  if (!ok) {
    throw new S3Error('SignatureDoesNotMatch', undefined, {
      AWSAccessKeyId: accessKeyId,
      StringToSign: sts(amzHeaders),
      SignatureProvided: signature,
    })
  }
  return { accessKeyId, presigned }
}
