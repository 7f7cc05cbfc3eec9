/**
 * CORS as S3 does it: validating a bucket's rules (PutBucketCors), answering a preflight OPTIONS
 * from them, and the Access-Control-* headers of an actual cross-origin request. Pure: the rules
 * come from the service (stored per bucket), the request from the handler.
 */
import { S3Error } from './errors.ts'
import type { CorsRule } from '../service/index.ts'

export type { CorsRule }

/** S3's limits: at most 100 rules; these five methods. */
export const MAX_CORS_RULES = 100
export const CORS_METHODS: ReadonlySet<string> = new Set(['GET', 'PUT', 'POST', 'DELETE', 'HEAD'])
const MAX_ID_LENGTH = 255

/** Refuses a configuration as S3 does: MalformedXML for the shape, InvalidRequest for the values. */
export function validateCorsRules(rules: readonly CorsRule[]): void {
  if (rules.length === 0 || rules.length > MAX_CORS_RULES) throw new S3Error('MalformedXML')
  for (const r of rules) {
    if (r.allowedMethods.length === 0 || r.allowedOrigins.length === 0) throw new S3Error('MalformedXML')
    for (const m of r.allowedMethods) {
      if (!CORS_METHODS.has(m)) {
        throw new S3Error('InvalidRequest', `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`)
      }
    }
    for (const o of r.allowedOrigins) {
      if (wildcards(o) > 1) {
        throw new S3Error('InvalidRequest', `AllowedOrigin "${o}" can not have more than one wildcard.`)
      }
    }
    for (const h of r.allowedHeaders) {
      if (wildcards(h) > 1) {
        throw new S3Error('InvalidRequest', `AllowedHeader "${h}" can not have more than one wildcard.`)
      }
    }
    if (r.id !== undefined && r.id.length > MAX_ID_LENGTH) {
      throw new S3Error('InvalidArgument', `The ID of a CORS rule cannot be longer than ${MAX_ID_LENGTH} characters.`)
    }
    if (r.maxAgeSeconds !== undefined && (!Number.isSafeInteger(r.maxAgeSeconds) || r.maxAgeSeconds < 0)) {
      throw new S3Error('MalformedXML')
    }
  }
}

const wildcards = (s: string) => s.split('*').length - 1

/** `pattern` with at most one `*` standing for any run of characters. */
export function wildcardMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  const p = caseInsensitive ? pattern.toLowerCase() : pattern
  const v = caseInsensitive ? value.toLowerCase() : value
  const star = p.indexOf('*')
  if (star < 0) return p === v
  const head = p.slice(0, star)
  const tail = p.slice(star + 1)
  return v.length >= head.length + tail.length && v.startsWith(head) && v.endsWith(tail)
}

/** Header names of an Access-Control-Request-Headers value, lower-cased. */
export const requestedHeaders = (value: string | null): string[] =>
  (value ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '')

/** The first rule that allows this origin, method and every requested header (S3's order). */
export function matchCorsRule(
  rules: readonly CorsRule[],
  origin: string,
  method: string,
  headers: readonly string[] = [],
): CorsRule | undefined {
  return rules.find(
    (r) =>
      r.allowedOrigins.some((o) => wildcardMatch(o, origin)) &&
      r.allowedMethods.includes(method) &&
      headers.every((h) => r.allowedHeaders.some((a) => wildcardMatch(a, h, true))),
  )
}

/**
 * The Access-Control-* headers for a matched rule: the origin echoed (with credentials) unless the
 * rule allows any origin with a bare `*`, as S3 answers.
 */
export function corsHeaders(rule: CorsRule, origin: string, requested: readonly string[] = []): Record<string, string> {
  const any = rule.allowedOrigins.includes('*')
  const h: Record<string, string> = {
    'access-control-allow-origin': any ? '*' : origin,
    'access-control-allow-methods': rule.allowedMethods.join(', '),
  }
  if (!any) h['access-control-allow-credentials'] = 'true'
  if (requested.length > 0) h['access-control-allow-headers'] = requested.join(', ')
  if (rule.exposeHeaders.length > 0) h['access-control-expose-headers'] = rule.exposeHeaders.join(', ')
  if (rule.maxAgeSeconds !== undefined) h['access-control-max-age'] = String(rule.maxAgeSeconds)
  return h
}

/** What a bucket's CORS configuration varies on: caches must not reuse an answer across origins. */
export const CORS_VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method'

/**
 * A preflight OPTIONS: 200 with the Access-Control-* headers of the first matching rule, or the
 * S3 error (400 without Origin or Access-Control-Request-Method, 403 CORSResponse otherwise).
 */
export function preflight(rules: readonly CorsRule[] | undefined, headers: Headers): Record<string, string> {
  const origin = headers.get('origin')
  if (origin === null) throw new S3Error('BadRequest', 'Insufficient information. Origin request header needed.')
  const method = headers.get('access-control-request-method')
  if (method === null) throw new S3Error('BadRequest', 'Invalid Access-Control-Request-Method: null')
  if (rules === undefined) throw new S3Error('CORSResponse', 'CORS is not enabled for this bucket.')
  const requested = requestedHeaders(headers.get('access-control-request-headers'))
  const rule = matchCorsRule(rules, origin, method, requested)
  if (!rule) {
    throw new S3Error(
      'CORSResponse',
      "This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
      { Method: method, ResourceType: 'OBJECT' },
    )
  }
  return { ...corsHeaders(rule, origin, requested), vary: CORS_VARY }
}
