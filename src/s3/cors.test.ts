import { describe, expect, it } from 'vitest'
import { isS3Error } from './errors.ts'
import { type CorsRule, corsHeaders, matchCorsRule, preflight, validateCorsRules, wildcardMatch } from './cors.ts'

const rule = (r: Partial<CorsRule>): CorsRule => ({
  allowedOrigins: ['https://app.example'],
  allowedMethods: ['GET'],
  allowedHeaders: [],
  exposeHeaders: [],
  ...r,
})

function s3Code(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    if (isS3Error(e)) return e.code
    throw e
  }
  throw new Error('expected an S3Error')
}

describe('CORS rules', () => {
  it('validates as S3: 1..100 rules, five methods, one wildcard per origin/header', () => {
    expect(() => validateCorsRules([rule({})])).not.toThrow()
    expect(s3Code(() => validateCorsRules([]))).toBe('MalformedXML')
    expect(s3Code(() => validateCorsRules(Array.from({ length: 101 }, () => rule({}))))).toBe('MalformedXML')
    expect(() => validateCorsRules(Array.from({ length: 100 }, () => rule({})))).not.toThrow()
    expect(s3Code(() => validateCorsRules([rule({ allowedMethods: [] })]))).toBe('MalformedXML')
    expect(s3Code(() => validateCorsRules([rule({ allowedOrigins: [] })]))).toBe('MalformedXML')
    expect(s3Code(() => validateCorsRules([rule({ allowedMethods: ['PATCH'] })]))).toBe('InvalidRequest')
    expect(s3Code(() => validateCorsRules([rule({ allowedOrigins: ['https://*.*.example'] })]))).toBe('InvalidRequest')
    expect(s3Code(() => validateCorsRules([rule({ allowedHeaders: ['x-*-*'] })]))).toBe('InvalidRequest')
    expect(s3Code(() => validateCorsRules([rule({ id: 'x'.repeat(256) })]))).toBe('InvalidArgument')
  })

  it('matches origins with one wildcard, headers case-insensitively, first rule wins', () => {
    expect(wildcardMatch('https://*.example', 'https://a.b.example')).toBe(true)
    expect(wildcardMatch('https://*.example', 'https://example')).toBe(false)
    expect(wildcardMatch('*', 'null')).toBe(true)
    expect(wildcardMatch('x-amz-*', 'X-Amz-Date', true)).toBe(true)
    const rules = [
      rule({ id: 'one', allowedOrigins: ['https://*.example'], allowedMethods: ['PUT'], allowedHeaders: ['x-amz-*'] }),
      rule({ id: 'two', allowedOrigins: ['*'], allowedMethods: ['GET', 'PUT'], allowedHeaders: ['*'] }),
    ]
    expect(matchCorsRule(rules, 'https://a.example', 'PUT', ['x-amz-date'])?.id).toBe('one')
    expect(matchCorsRule(rules, 'https://a.example', 'PUT', ['content-type'])?.id).toBe('two')
    expect(matchCorsRule(rules, 'https://a.example', 'DELETE')).toBeUndefined()
  })

  it('echoes a listed origin with credentials; a bare * answers *', () => {
    expect(corsHeaders(rule({ exposeHeaders: ['ETag'], maxAgeSeconds: 60 }), 'https://app.example')).toEqual({
      'access-control-allow-origin': 'https://app.example',
      'access-control-allow-methods': 'GET',
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'ETag',
      'access-control-max-age': '60',
    })
    expect(corsHeaders(rule({ allowedOrigins: ['*'] }), 'https://x')['access-control-allow-origin']).toBe('*')
  })

  it('preflight: 400 without Origin or method, 403 CORSResponse when nothing matches or no rules', () => {
    const h = (o: Record<string, string>) => new Headers(o)
    const rules = [rule({ allowedMethods: ['PUT'], allowedHeaders: ['content-type'] })]
    expect(s3Code(() => preflight(rules, h({ 'access-control-request-method': 'PUT' })))).toBe('BadRequest')
    expect(s3Code(() => preflight(rules, h({ origin: 'https://app.example' })))).toBe('BadRequest')
    const ok = { origin: 'https://app.example', 'access-control-request-method': 'PUT' }
    expect(s3Code(() => preflight(undefined, h(ok)))).toBe('CORSResponse')
    expect(s3Code(() => preflight(rules, h({ ...ok, origin: 'https://evil.example' })))).toBe('CORSResponse')
    expect(s3Code(() => preflight(rules, h({ ...ok, 'access-control-request-headers': 'x-other' })))).toBe(
      'CORSResponse',
    )
    expect(preflight(rules, h({ ...ok, 'access-control-request-headers': 'Content-Type' }))).toMatchObject({
      'access-control-allow-origin': 'https://app.example',
      'access-control-allow-methods': 'PUT',
      'access-control-allow-headers': 'content-type',
      vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
    })
  })
})
