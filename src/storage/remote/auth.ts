/**
 * Request authentication between gateways and storage nodes: HMAC-SHA256 with a key derived from
 * the cluster secret, a time window and a nonce replay cache. Uses the Platform port and util only.
 */
import { timingSafeEqual, toHex, utf8 } from '../../util/bytes.ts'
import type { Platform } from '../../util/platform.ts'
import {
  CLOCK_WINDOW_MS,
  HEADER_CONTENT,
  HEADER_DATE,
  HEADER_NONCE,
  HEADER_SIGNATURE,
  REQUEST_KEY_LABEL,
  SIGNING_SCHEME,
  STREAMING_PAYLOAD,
} from './protocol.ts'

/** The cluster secret must be 256 bits: shorter ones are guessable, and cluster init makes 32 bytes. */
export const SECRET_BYTES = 32

export type AuthPlatform = Pick<Platform, 'hmacSha256' | 'createHasher'>

/** The key every request is signed with; the raw cluster secret is used only to derive it. */
export function deriveRequestKey(platform: AuthPlatform, secret: Uint8Array): Uint8Array {
  if (secret.length !== SECRET_BYTES)
    throw new TypeError(
      `the cluster secret must be ${SECRET_BYTES} bytes, got ${secret.length}: run \`coffer cluster init\` to make one`,
    )
  return platform.hmacSha256(secret, REQUEST_KEY_LABEL)
}

export interface SignedParts {
  method: string
  /** Path and query exactly as in the request URL (`/v1/shards/x?offset=0&length=9`). */
  target: string
  /** Milliseconds since the epoch, as sent in HEADER_DATE. */
  date: string
  nonce: string
  /** HEADER_CONTENT: hex SHA-256 of the body, or STREAMING_PAYLOAD. */
  content: string
}

// FORMAT: the signing string. DO NOT CHANGE (a new scheme gets a new SIGNING_SCHEME).
export function signingString(p: SignedParts): string {
  return [SIGNING_SCHEME, p.method.toUpperCase(), p.target, p.date, p.nonce, p.content].join('\n')
}

export function sha256Hex(platform: AuthPlatform, bytes: Uint8Array): string {
  const h = platform.createHasher('sha256')
  h.update(bytes)
  return toHex(h.digest())
}

export function signature(platform: AuthPlatform, key: Uint8Array, p: SignedParts): string {
  return toHex(platform.hmacSha256(key, signingString(p)))
}

export function randomNonce(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)))
}

/** The four auth headers for a request; `content` is a body hash or STREAMING_PAYLOAD. */
export function signRequest(
  platform: AuthPlatform,
  key: Uint8Array,
  r: { method: string; target: string; content: string; now?: number; nonce?: string },
): { headers: Record<string, string>; signature: string } {
  const parts: SignedParts = {
    method: r.method,
    target: r.target,
    date: String(Math.floor(r.now ?? Date.now())),
    nonce: r.nonce ?? randomNonce(),
    content: r.content,
  }
  const sig = signature(platform, key, parts)
  return {
    signature: sig,
    headers: {
      [HEADER_DATE]: parts.date,
      [HEADER_NONCE]: parts.nonce,
      [HEADER_CONTENT]: parts.content,
      [HEADER_SIGNATURE]: sig,
    },
  }
}

/**
 * Nonces seen inside the clock window, so a captured request cannot be replayed. Bounded: when
 * full, the oldest entry goes and its date becomes a floor — anything dated at or before it is
 * refused, since its nonce can no longer be checked. The floor starts at `startFloor`: the
 * persisted replay mark of the previous run (replay-mark.ts), whose nonces this cache never saw.
 */
export class NonceCache {
  private readonly seen = new Map<string, number>()
  private floorDate: number

  constructor(
    private readonly max = 500_000,
    private readonly windowMs = CLOCK_WINDOW_MS,
    startFloor = Number.NEGATIVE_INFINITY,
  ) {
    this.floorDate = startFloor
  }

  /** Requests dated at or before this are refused: their nonces cannot be checked. */
  get floor(): number {
    return this.floorDate
  }

  /** Records the nonce; false when it was seen (or can no longer be ruled out). */
  admit(nonce: string, date: number, now: number): boolean {
    if (date <= this.floorDate || this.seen.has(nonce)) return false
    // Insertion order is roughly date order: drop expired entries from the front.
    for (const [n, d] of this.seen) {
      if (d >= now - this.windowMs) break
      this.seen.delete(n)
    }
    while (this.seen.size >= this.max) {
      const [n, d] = this.seen.entries().next().value as [string, number]
      this.seen.delete(n)
      this.floorDate = Math.max(this.floorDate, d)
      if (date <= this.floorDate) return false
    }
    this.seen.set(nonce, date)
    return true
  }

  get size(): number {
    return this.seen.size
  }
}

export type Verdict =
  /** `date`: the signed date (ms), which the replay mark must cover before the request is served. */
  | { ok: true; signature: string; content: string; date: number }
  /**
   * 401: no or malformed credentials, stale date, replay. 403: credentials present but wrong.
   * `floor`: the refusal was for a date at or below the replay floor, which is this.
   */
  | { ok: false; status: 401 | 403; reason: string; floor?: number }

const HEX64 = /^[0-9a-f]{64}$/
const HEX32 = /^[0-9a-f]{32}$/
const DATE = /^\d{1,16}$/

export interface VerifyOptions {
  platform: AuthPlatform
  key: Uint8Array
  nonces: NonceCache
  now: number
  windowMs?: number
}

/** Checks a request's headers and signature; the body is checked by the caller (hash or trailer). */
export function verifyRequest(req: { method: string; target: string; headers: Headers }, o: VerifyOptions): Verdict {
  const h = (name: string) => req.headers.get(name)
  const date = h(HEADER_DATE)
  const nonce = h(HEADER_NONCE)
  const content = h(HEADER_CONTENT)
  const sig = h(HEADER_SIGNATURE)
  if (date === null || nonce === null || content === null || sig === null)
    return { ok: false, status: 401, reason: 'missing credentials' }
  if (
    !DATE.test(date) ||
    !HEX32.test(nonce) ||
    !HEX64.test(sig) ||
    !(HEX64.test(content) || content === STREAMING_PAYLOAD)
  ) {
    return { ok: false, status: 401, reason: 'malformed credentials' }
  }
  const when = Number(date)
  const windowMs = o.windowMs ?? CLOCK_WINDOW_MS
  if (Math.abs(o.now - when) > windowMs)
    return {
      ok: false,
      status: 401,
      reason: `date is ${Math.round((o.now - when) / 1000)} s off the node clock (window ±${windowMs / 1000} s)`,
    }
  const expected = signature(o.platform, o.key, { method: req.method, target: req.target, date, nonce, content })
  if (!timingSafeEqual(expected, sig)) return { ok: false, status: 403, reason: 'signature mismatch' }
  if (when <= o.nonces.floor)
    return {
      ok: false,
      status: 401,
      reason: 'dated at or before the replay floor (signed before the node restarted, or too old to check)',
      floor: o.nonces.floor,
    }
  // Only after the signature: an unsigned request must not be able to fill the cache.
  if (!o.nonces.admit(nonce, when, o.now)) return { ok: false, status: 401, reason: 'replayed nonce' }
  return { ok: true, signature: sig, content, date: when }
}

/** Constant-time equality of two byte strings of any length. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length
  const n = Math.max(a.length, b.length)
  for (let i = 0; i < n; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0)
  return diff === 0
}

export const EMPTY_SHA256 = (platform: AuthPlatform) => sha256Hex(platform, utf8(''))
