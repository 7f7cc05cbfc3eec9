/**
 * The console's request guards, pure so they are unit-tested: security headers, the session
 * cookie, CSRF and same-origin checks, the client address. docs/architecture.md §13.
 */
import { timingSafeEqual } from '../util/bytes.ts'

export const COOKIE = 'coffer_console'

/**
 * Only the package's own script and style; nothing inline, no framing, no plugins, forms and
 * fetches only to this origin.
 */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // Not no-referrer: with it Chromium sends `Origin: null` on the console's own form posts.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
}

/** The session cookie: HttpOnly, Secure, SameSite=Strict, scoped to the console's path. */
export function sessionCookie(id: string, maxAgeSeconds: number, path: string): string {
  return `${COOKIE}=${id}; Path=${path}; Max-Age=${maxAgeSeconds}; HttpOnly; Secure; SameSite=Strict`
}

export const clearedCookie = (path: string): string =>
  `${COOKIE}=; Path=${path}; Max-Age=0; HttpOnly; Secure; SameSite=Strict`

/** The session id from a Cookie header, or undefined. */
export function cookieValue(header: string | undefined | null): string | undefined {
  if (!header) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === COOKIE) return part.slice(eq + 1).trim()
  }
  return undefined
}

/** Does the token the request carries match the session's? Constant time; a missing token never does. */
export function csrfMatches(expected: string, sent: string | undefined | null): boolean {
  return typeof sent === 'string' && sent !== '' && timingSafeEqual(expected, sent)
}

/**
 * A browser names the page that sent a POST in Origin (and Sec-Fetch-Site): one from another
 * site is refused before anything else, sign-in included (a login CSRF). Absent headers (a
 * non-browser client) fall to the CSRF token.
 */
export function sameOrigin(headers: Headers, host: string | undefined): boolean {
  const site = headers.get('sec-fetch-site')
  if (site !== null && site !== 'same-origin' && site !== 'none') return false
  const origin = headers.get('origin')
  if (origin === null) return true
  return host !== undefined && origin === `https://${host}`
}

/** The address part of the adapter's `address:port` (IPv6 addresses have colons of their own). */
export function clientAddress(connection: string | undefined): string {
  if (!connection) return 'unknown'
  const colon = connection.lastIndexOf(':')
  const host = colon < 0 ? connection : connection.slice(0, colon)
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}
