/**
 * Seek-based listing shared by ListObjects and ListMultipartUploads: walks an index in key order
 * and skips a whole common prefix with one seek. Pure logic over a `fetch` callback; no SQL here.
 */

const MAX_CODE_POINT = 0x10ffff
const SURROGATES_START = 0xd800
const SURROGATES_END = 0xdfff

/**
 * The smallest string greater than every string that starts with `prefix`, in code point order
 * (= UTF-8 byte order): the last code point + 1, skipping the surrogate range; a trailing
 * U+10FFFF is dropped and the one before it incremented. Undefined when no such string exists
 * ('' or only U+10FFFF): then there is no upper bound.
 */
export function successor(prefix: string): string | undefined {
  const points = Array.from(prefix, (c) => c.codePointAt(0)!)
  while (points.length > 0) {
    const last = points.pop()!
    if (last === MAX_CODE_POINT) continue
    const next = last + 1 === SURROGATES_START ? SURROGATES_END + 1 : last + 1
    return String.fromCodePoint(...points, next)
  }
  return undefined
}

/** Compares in code point order (= UTF-8 byte order, SQLite's BINARY collation), not UTF-16's. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!
    const y = b.codePointAt(i)!
    if (x !== y) return x < y ? -1 : 1
    if (x > 0xffff) i++ // both are the same surrogate pair
  }
  return a.length - b.length
}

/**
 * True when a listing's marker lies at or past its prefix, so that the marker alone bounds the
 * first fetch from below. The query must then carry only the marker bound: given `key >= prefix
 * AND key > marker`, SQLite seeks on one of the two and filters the other, and it picks the
 * prefix, so a page deep into a bucket read every key from the prefix up to the marker.
 */
export function markerBoundsStart(prefix: string, marker: string): boolean {
  return compareCodePoints(marker, prefix) >= 0
}

/** Where the next fetch starts: strictly after a row, or at-or-after a key (past a prefix). */
export type SeekFrom<R> = { after: R } | { atOrAfter: string } | { start: true }

/** Returns up to `limit` rows in index order from `from`, all under the listing's prefix. */
export type Fetch<R> = (from: SeekFrom<R>, limit: number) => Promise<R[]>

export type Entry<R> = { row: R } | { commonPrefix: string }

export interface SeekOptions<R> {
  prefix: string
  delimiter?: string
  keyOf: (row: R) => string
  /** A marker that is itself a common prefix (the previous page ended on it) is not repeated. */
  marker?: string
  fetch: Fetch<R>
}

/**
 * First batch size and the size after a prefix skip. Small, because after a common prefix the
 * rows that follow are often under the next prefix and would be read only to be skipped.
 */
const FIRST_BATCH = 32
const AFTER_SKIP_BATCH = 2

/**
 * Entries (rows and common prefixes) in order. Each fetch yields at least one entry, so n
 * entries cost at most n + 1 fetches; batches double while no prefix is skipped, so a page of
 * plain keys costs a handful. The caller stops pulling when it has enough.
 */
export async function* seekEntries<R>(o: SeekOptions<R>, maxBatch: number): AsyncGenerator<Entry<R>> {
  let from: SeekFrom<R> = { start: true }
  let limit = Math.min(FIRST_BATCH, maxBatch)
  for (;;) {
    const rows = await o.fetch(from, limit)
    let skipping: string | undefined
    for (const row of rows) {
      const key = o.keyOf(row)
      if (skipping !== undefined && key.startsWith(skipping)) continue
      skipping = undefined
      const cp = o.delimiter ? commonPrefixOf(key, o.prefix, o.delimiter) : undefined
      if (cp === undefined) {
        yield { row }
        continue
      }
      skipping = cp
      if (cp !== o.marker) yield { commonPrefix: cp }
    }
    if (rows.length < limit) return
    const last = rows[rows.length - 1]!
    if (skipping !== undefined) {
      const next = successor(skipping)
      if (next === undefined) return
      from = { atOrAfter: next }
      limit = Math.min(AFTER_SKIP_BATCH, maxBatch)
    } else {
      from = { after: last }
      limit = Math.min(limit * 2, maxBatch)
    }
  }
}

/** The common prefix `key` rolls up into, or undefined when it has no delimiter past `prefix`. */
export function commonPrefixOf(key: string, prefix: string, delimiter: string): string | undefined {
  const at = key.indexOf(delimiter, prefix.length)
  return at < 0 ? undefined : key.slice(0, at + delimiter.length)
}

export interface Page<R> {
  rows: R[]
  commonPrefixes: string[]
  isTruncated: boolean
  /** The last key or common prefix on the page, when truncated. */
  last?: Entry<R>
}

/** One page of at most `max` entries; one more entry is pulled only to learn if it is the last. */
export async function seekPage<R>(o: SeekOptions<R>, max: number): Promise<Page<R>> {
  const page: Page<R> = { rows: [], commonPrefixes: [], isTruncated: false }
  if (max <= 0) return page
  let count = 0
  let last: Entry<R> | undefined
  // Never fetch more than one row past the page: nothing beyond it is needed.
  for await (const entry of seekEntries(o, max + 1)) {
    if (count === max) {
      page.isTruncated = true
      page.last = last
      break
    }
    if ('row' in entry) page.rows.push(entry.row)
    else page.commonPrefixes.push(entry.commonPrefix)
    last = entry
    count++
  }
  return page
}
