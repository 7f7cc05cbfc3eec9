/**
 * ListObjectsV2 continuation tokens: opaque to clients, checkable by us. A token names where the
 * next page starts (the last key or common prefix returned) and carries a digest of it, so a token
 * we did not issue — mistyped, truncated, made up — is refused with 400 InvalidArgument, as S3
 * refuses it, instead of being read as some other starting point and answered 200.
 */
import { concatBytes, fromBase64, fromUtf8, toBase64, utf8 } from '../util/bytes.ts'
import type { Platform } from '../util/platform.ts'
import { S3Error } from './errors.ts'

// FORMAT: continuation token v1 = base64url(0x01 ‖ first 8 bytes of SHA-256(marker) ‖ marker UTF-8).
// Not a secret (start-after can name any key anyway): the digest only tells ours from garbage.
const VERSION = 1
const DIGEST_BYTES = 8
const HEADER_BYTES = 1 + DIGEST_BYTES

type Hashing = Pick<Platform, 'createHasher'>

function digestOf(platform: Hashing, marker: Uint8Array): Uint8Array {
  const h = platform.createHasher('sha256')
  h.update(marker)
  return h.digest().subarray(0, DIGEST_BYTES)
}

/** The token for a page that continues after `marker`. */
export function encodeContinuationToken(platform: Hashing, marker: string): string {
  const bytes = utf8(marker)
  const token = concatBytes([Uint8Array.of(VERSION), digestOf(platform, bytes), bytes])
  return toBase64(token).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

const invalid = () =>
  new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
    ArgumentName: 'continuation-token',
  })

/** The marker a token of ours names; InvalidArgument for anything else. */
export function decodeContinuationToken(platform: Hashing, token: string): string {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(token)) throw invalid()
  const b64 = token.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '')
  const bytes = fromBase64(b64 + '='.repeat((4 - (b64.length % 4)) % 4))
  if (!bytes || bytes.length <= HEADER_BYTES || bytes[0] !== VERSION) throw invalid()
  const marker = bytes.subarray(HEADER_BYTES)
  const digest = digestOf(platform, marker)
  for (let i = 0; i < DIGEST_BYTES; i++) if (bytes[1 + i] !== digest[i]) throw invalid()
  // A digest match means we wrote these bytes, so they are the UTF-8 of a key.
  return fromUtf8(marker)
}
