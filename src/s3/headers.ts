/**
 * S3 header conventions: stored object headers and user metadata in and out, Range parsing,
 * conditional headers, HTTP dates. Pure functions over Headers.
 */
import { S3Error } from './errors.ts'
import { metadataValueIn, metadataValueOut } from './header-text.ts'
import { utf8 } from '../util/bytes.ts'
import type { ReadConditions } from '../service/index.ts'

/** System headers S3 stores with an object and returns on GET/HEAD. */
export const STORED_HEADERS = [
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'expires',
] as const

/** S3 limits user metadata (names + values of x-amz-meta-*) to 2 KB. */
export const MAX_USER_METADATA_BYTES = 2048

export interface MetadataFromRequest {
  contentType?: string
  headers: Record<string, string>
  userMeta: Record<string, string>
}

export function readObjectMetadata(h: Headers): MetadataFromRequest {
  const headers: Record<string, string> = {}
  for (const name of STORED_HEADERS) {
    const v = h.get(name)
    if (v !== null) headers[name] = v
  }
  // aws-chunked is how the body travelled, not how the object is encoded: S3 drops it.
  // Anything else is kept as sent ("deflate, gzip" comes back with its space, as from S3).
  if (headers['content-encoding']) {
    const all = headers['content-encoding'].split(',')
    const rest = all.filter((s) => s.trim() !== 'aws-chunked')
    if (rest.length < all.length) {
      const kept = rest.join(',').trim()
      if (kept) headers['content-encoding'] = kept
      else delete headers['content-encoding']
    }
  }
  const userMeta: Record<string, string> = {}
  let size = 0
  h.forEach((value, name) => {
    if (!name.startsWith('x-amz-meta-')) return
    const short = name.slice('x-amz-meta-'.length)
    const text = metadataValueIn(value)
    userMeta[short] = text
    // S3 counts the UTF-8 bytes of names and values.
    size += short.length + utf8(text).length
  })
  if (size > MAX_USER_METADATA_BYTES)
    throw new S3Error('MetadataTooLarge', undefined, {
      Size: String(size),
      MaxSizeAllowed: String(MAX_USER_METADATA_BYTES),
    })
  return { contentType: h.get('content-type') ?? undefined, headers, userMeta }
}

export function writeObjectMetadata(
  out: Headers,
  obj: { contentType: string; headers: Record<string, string>; userMeta: Record<string, string> },
): void {
  out.set('content-type', obj.contentType)
  for (const [name, value] of Object.entries(obj.headers)) out.set(name, value)
  for (const [name, value] of Object.entries(obj.userMeta)) out.set(`x-amz-meta-${name}`, metadataValueOut(value))
}

/** `response-*` query parameters override returned headers on a signed GET. */
export const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
}

export const httpDate = (d: Date): string => d.toUTCString()

function parseDate(v: string | null): Date | undefined {
  if (v === null) return undefined
  const d = new Date(v)
  // An unparseable date is ignored, as HTTP says.
  return Number.isNaN(d.getTime()) ? undefined : d
}

export function readConditions(h: Headers, prefix = ''): ReadConditions {
  return {
    ifMatch: h.get(`${prefix}if-match`) ?? undefined,
    ifNoneMatch: h.get(`${prefix}if-none-match`) ?? undefined,
    ifModifiedSince: parseDate(h.get(`${prefix}if-modified-since`)),
    ifUnmodifiedSince: parseDate(h.get(`${prefix}if-unmodified-since`)),
  }
}

export interface ByteRange {
  start: number
  /** exclusive */
  end: number
}

/**
 * Parses a single `bytes=` range against the object size. Returns undefined when the header is
 * absent or not a syntactically valid single range (S3 then serves the whole object); throws
 * InvalidRange when it is valid but unsatisfiable.
 *
 * An empty object: `bytes=N-` and `bytes=N-M` are unsatisfiable (416), and so is `bytes=-0`;
 * a suffix `bytes=-N` (N > 0) is satisfiable (RFC 9110 §14.1.1) but selects no byte, so the whole
 * (empty) object is served, 200 without Content-Range, as AWS S3 answers it — never a 206 with
 * the impossible `Content-Range: bytes 0--1/0`.
 */
export function parseRange(header: string | null, size: number): ByteRange | undefined {
  if (header === null) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m || (m[1] === '' && m[2] === '')) return undefined
  const unsatisfiable = () =>
    new S3Error(
      'InvalidRange',
      undefined,
      { RangeRequested: header, ActualObjectSize: String(size) },
      { 'content-range': `bytes */${size}` },
    )
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0) throw unsatisfiable()
    if (size === 0) return undefined
    return { start: Math.max(0, size - suffix), end: size }
  }
  const start = Number(m[1])
  if (start >= size) throw unsatisfiable()
  const last = m[2] === '' ? size - 1 : Number(m[2])
  if (last < start) return undefined
  return { start, end: Math.min(last, size - 1) + 1 }
}
