import { describe, expect, it } from 'vitest'
import { CSP, clientAddress, cookieValue, csrfMatches, sameOrigin, sessionCookie } from './guard.ts'

describe('console guards', () => {
  it('the CSP allows no inline script or style and no framing', () => {
    expect(CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*/)
    expect(CSP).toContain("script-src 'self'")
    expect(CSP).toContain("frame-ancestors 'none'")
  })

  it('the session cookie is HttpOnly, Secure, SameSite=Strict and expires', () => {
    const c = sessionCookie('ab', 3600, '/_coffer/console')
    expect(c).toMatch(/; HttpOnly/)
    expect(c).toMatch(/; Secure/)
    expect(c).toMatch(/; SameSite=Strict/)
    expect(c).toMatch(/; Max-Age=3600/)
  })

  it('reads the session cookie among others', () => {
    expect(cookieValue('a=1; coffer_console=xyz; b=2')).toBe('xyz')
    expect(cookieValue('coffer_consolex=1')).toBeUndefined()
    expect(cookieValue(undefined)).toBeUndefined()
  })

  it('CSRF: only the exact token matches; missing or empty never does', () => {
    expect(csrfMatches('t0ken', 't0ken')).toBe(true)
    expect(csrfMatches('t0ken', 't0ke')).toBe(false)
    expect(csrfMatches('t0ken', '')).toBe(false)
    expect(csrfMatches('t0ken', undefined)).toBe(false)
    expect(csrfMatches('t0ken', null)).toBe(false)
  })

  it('same origin: another site is refused; no Origin falls to the token', () => {
    const h = (o: Record<string, string>) => new Headers(o)
    expect(sameOrigin(h({ origin: 'https://coffer:9000' }), 'coffer:9000')).toBe(true)
    expect(sameOrigin(h({ origin: 'https://evil.example' }), 'coffer:9000')).toBe(false)
    expect(sameOrigin(h({ 'sec-fetch-site': 'cross-site' }), 'coffer:9000')).toBe(false)
    expect(sameOrigin(h({}), 'coffer:9000')).toBe(true)
  })

  it('client address drops the port, IPv6 included', () => {
    expect(clientAddress('127.0.0.1:5555')).toBe('127.0.0.1')
    expect(clientAddress('[::1]:5555')).toBe('::1')
    expect(clientAddress(undefined)).toBe('unknown')
  })
})
