/**
 * Header values as text. HTTP servers hand us each header byte as one character (ISO-8859-1), but
 * clients that send non-ASCII `x-amz-meta-*` values send UTF-8 and sign those UTF-8 bytes; S3
 * reads them as UTF-8, decodes RFC 2047 encoded-words before storing, and returns a non-ASCII
 * value as an RFC 2047 encoded-word (UsingMetadata.html, "User-defined object metadata").
 */
import { fromBase64, toBase64, utf8 } from '../util/bytes.ts'

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** Printable US-ASCII (and tab): what a header may carry unencoded. */
const isPlainAscii = (s: string): boolean => /^[\t\x20-\x7e]*$/.test(s)

/**
 * The text a client meant by a header value as the server read it (one character per byte):
 * the bytes decoded as UTF-8 when they are valid UTF-8, else the value unchanged (a client that
 * sent ISO-8859-1, as Node's HTTP client does for U+0080..U+00FF, signed those characters).
 * Signing over the result re-encodes to exactly the bytes that arrived.
 */
export function headerText(raw: string): string {
  if (!/[\x80-\xff]/.test(raw) || /[\u0100-\uffff]/.test(raw)) return raw
  const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0))
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return raw
  }
}

const ENCODED_WORD = /=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g

function decodeWord(charset: string, kind: string, text: string): string | undefined {
  let bytes: Uint8Array | undefined
  if (kind === 'B' || kind === 'b') bytes = fromBase64(text)
  else {
    const latin = text
      .replace(/_/g, ' ')
      .replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
    bytes = Uint8Array.from(latin, (c) => c.charCodeAt(0))
  }
  if (bytes === undefined) return undefined
  try {
    return new TextDecoder(charset.toLowerCase(), { fatal: true }).decode(bytes)
  } catch {
    return undefined // an unknown charset or bytes that are not in it: keep the word as sent
  }
}

/** A metadata value as S3 stores it: UTF-8 read, RFC 2047 encoded-words decoded. */
export function metadataValueIn(raw: string): string {
  const text = headerText(raw)
  if (!text.includes('=?')) return text
  // Whitespace between two adjacent encoded-words is not part of the text (RFC 2047 §6.2).
  return text
    .replace(/(\?=)\s+(?==\?)/g, '$1')
    .replace(
      ENCODED_WORD,
      (word, charset: string, kind: string, body: string) => decodeWord(charset, kind, body) ?? word,
    )
}

/** A metadata value as S3 returns it: as is when printable ASCII, else one RFC 2047 B-word. */
export function metadataValueOut(value: string): string {
  return isPlainAscii(value) ? value : `=?UTF-8?B?${toBase64(utf8(value))}?=`
}
