/**
 * A tiny XML writer for S3 response documents: text escaping, elements, the declaration.
 * Pure string building with no imports; documents.ts composes these into S3's documents.
 */

/** The namespace S3 puts on the root of its result documents (not on `<Error>`). */
export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/'

/** S3 sends the declaration followed by a newline, then the root element. */
export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

/**
 * Markup that is already well-formed and escaped. Only this module creates it, so a value is
 * escaped exactly once: strings passed as content are always text, never markup.
 */
export class Markup {
  constructor(readonly xml: string) {}
}

/** Element content: text values are escaped; null/undefined are skipped; arrays are flattened. */
export type Content = Markup | string | number | bigint | boolean | null | undefined | readonly Content[]

// Characters that must not appear raw in element text or attribute values:
// - the five markup characters;
// - CR, because every XML parser turns a raw CR (or CRLF) into LF, so a key holding one would
//   come back changed;
// - everything outside the XML 1.0 Char production (C0 controls other than TAB/LF/CR,
//   U+FFFE, U+FFFF, lone surrogates). S3 keys may hold them; like S3 we write them as numeric
//   references (`&#x1;`). Strict XML 1.0 parsers reject those, which is why clients that care
//   ask for encoding-type=url; lenient ones (AWS SDK for JS, minio-js) decode them losslessly.
const NEEDS_ESCAPE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: XML 1.0 forbids these controls; finding them is the point
  /[&<>"'\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

const NAMED: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
}

/** The same set, unanchored and without the g flag: a plain test for the common case of nothing to escape. */
const HAS_ESCAPE = new RegExp(NEEDS_ESCAPE.source)

/** The characters of NEEDS_ESCAPE that are not one of the five markup characters (surrogates: all of them). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: XML 1.0 forbids these controls; finding them is the point
const NEEDS_REFERENCE = /[\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/

const reference = (ch: string): string => NAMED[ch] ?? `&#x${ch.charCodeAt(0).toString(16).toUpperCase()};`

/** Escapes a string for use as element text or a double-quoted attribute value. */
export function escapeXml(value: string): string {
  // Most values (keys, dates, sizes) have nothing to escape: a test is cheaper than a replace.
  if (!HAS_ESCAPE.test(value)) return value
  if (NEEDS_REFERENCE.test(value)) return value.replace(NEEDS_ESCAPE, reference)
  return escapeMarkup(value, true)
}

/**
 * The markup characters (the quotes only when `quotes`) by a scan: cheaper than a replace
 * calling back per character, and every ETag (`"…"`) of a listing page has some.
 */
function escapeMarkup(value: string, quotes: boolean): string {
  let out = ''
  let from = 0
  for (let i = 0; i < value.length; i++) {
    const named = markupReference(value.charCodeAt(i), quotes)
    if (named === '') continue
    out += value.slice(from, i) + named
    from = i + 1
  }
  return out + value.slice(from)
}

function markupReference(c: number, quotes: boolean): string {
  switch (c) {
    case 38:
      return '&amp;'
    case 60:
      return '&lt;'
    case 62:
      return '&gt;'
    case 34:
      return quotes ? '&quot;' : ''
    case 39:
      return quotes ? '&apos;' : ''
    default:
      return ''
  }
}

// NEEDS_ESCAPE without the quotes: what element text (never an attribute value) must escape.
const TEXT_NEEDS_ESCAPE = new RegExp(NEEDS_ESCAPE.source.replace(`"'`, ''), 'g')
const TEXT_HAS_ESCAPE = new RegExp(TEXT_NEEDS_ESCAPE.source)

/**
 * Escapes a string for element text only, leaving `"` and `'` as they are: both are plain
 * characters in XML character data, and every XML parser reads `"x"` and `&quot;x&quot;` alike
 * (S3's API reference shows listing ETags with raw quotes). Used for the ETags of listing
 * entries (`"<md5>"`, a thousand per page), which the AWS SDK parses on the same cores: its
 * parser decodes entities with a regex replace per text, and a page's two `&quot;` per entry
 * were about a seventh of the SDK's parse time (docs/architecture.md §8).
 */
export function escapeText(value: string): string {
  if (!TEXT_HAS_ESCAPE.test(value)) return value
  if (NEEDS_REFERENCE.test(value)) return value.replace(TEXT_NEEDS_ESCAPE, reference)
  return escapeMarkup(value, false)
}

// XML Name, restricted to ASCII: every S3 element name fits, and anything else is a bug.
const NAME = /^[A-Za-z_][A-Za-z0-9._-]*$/

/** True when `name` can be written as an element or attribute name. */
export const isXmlName = (name: string): boolean => NAME.test(name)

/**
 * Element names already checked: documents use a few dozen names, and a listing page writes
 * each of a handful thousands of times. Bounded, as names come from code, not from requests.
 */
const checkedNames = new Set<string>()
const MAX_CHECKED_NAMES = 1024

// Attributes may be prefixed (xmlns:xsi, xsi:type: the Grantee of an ACL).
const QUALIFIED_NAME = /^[A-Za-z_][A-Za-z0-9._-]*(:[A-Za-z_][A-Za-z0-9._-]*)?$/

function render(content: Content, out: string[]): void {
  if (content === null || content === undefined) return
  if (content instanceof Markup) out.push(content.xml)
  else if (Array.isArray(content)) for (const c of content as readonly Content[]) render(c, out)
  else out.push(escapeXml(String(content)))
}

/** `<name attr="…">content</name>`; an element with no content is written `<name></name>`, as S3 does. */
export function elWithAttrs(name: string, attrs: Record<string, string>, ...content: Content[]): Markup {
  checkName(name)
  let open = name
  for (const [k, v] of Object.entries(attrs)) {
    if (!QUALIFIED_NAME.test(k)) throw new Error(`invalid XML attribute name: ${JSON.stringify(k)}`)
    open += ` ${k}="${escapeXml(v)}"`
  }
  return new Markup(`<${open}>${inner(content)}</${name}>`)
}

function checkName(name: string): void {
  if (checkedNames.has(name)) return
  if (!isXmlName(name)) throw new Error(`invalid XML element name: ${JSON.stringify(name)}`)
  if (checkedNames.size < MAX_CHECKED_NAMES) checkedNames.add(name)
}

function inner(content: Content[]): string {
  // One text value (a listing's Key, ETag, Size…) is the common case: no array to join.
  if (content.length === 1) {
    const only = content[0]
    if (typeof only === 'string') return escapeXml(only)
    if (only instanceof Markup) return only.xml
  }
  const out: string[] = []
  render(content, out)
  return out.join('')
}

/** `<name>content</name>`. */
export function el(name: string, ...content: Content[]): Markup {
  checkName(name)
  return new Markup(`<${name}>${inner(content)}</${name}>`)
}

/** A leaf's value in a record: text (escaped), a number, or markup (a nested element, as is). */
export type Leaf = Markup | string | number | bigint | boolean | null | undefined

/**
 * A compiled element whose children are leaves in a fixed order — one `<Contents>` of a listing
 * page: `record('Contents', ['Key', 'Size'])` checks the names once and returns a writer of
 * `<Contents><Key>…</Key><Size>…</Size></Contents>` from a row of values. A page writes a
 * thousand of these; building each through `el()` (an element object and a content array per
 * leaf, the names checked and the content walked per call) was most of a page's gateway CPU
 * (docs/architecture.md §8). The same output as `el(name, el(fields[0], values[0]), …)` with
 * null/undefined leaves skipped (but `"` and `'` left as they are in the fields named by
 * `options.rawQuotes`, see escapeText): strings are escaped, a Markup leaf is the element's content as
 * is (an Owner's ID and DisplayName, see `fragment`), anything else is `String()`ed.
 */
export function record(
  name: string,
  fields: readonly string[],
  options: { rawQuotes?: readonly string[] } = {},
): (values: readonly Leaf[]) => Markup {
  checkName(name)
  for (const f of fields) checkName(f)
  const open = `<${name}>`
  const close = `</${name}>`
  const opens = fields.map((f) => `<${f}>`)
  const closes = fields.map((f) => `</${f}>`)
  const escapes = fields.map((f) => (options.rawQuotes?.includes(f) ? escapeText : escapeXml))
  const n = fields.length
  return (values) => {
    let xml = open
    for (let i = 0; i < n; i++) {
      const v = values[i]
      if (v === null || v === undefined) continue
      const text = typeof v === 'string' ? escapes[i]!(v) : v instanceof Markup ? v.xml : String(v)
      xml += opens[i] + text + closes[i]
    }
    return new Markup(xml + close)
  }
}

/** Content without an element around it, as one Markup: children computed once and reused. */
export const fragment = (...content: Content[]): Markup => new Markup(inner(content))

/** `<name>value</name>`, or nothing when the value is absent (optional S3 elements). */
export const optEl = (name: string, value: string | number | bigint | boolean | null | undefined): Markup | null =>
  value === null || value === undefined ? null : el(name, value)

/** A self-closing empty element, `<name attr="…"/>` (S3 writes us-east-1's LocationConstraint so). */
export function emptyEl(name: string, attrs: Record<string, string> = {}): Markup {
  const m = elWithAttrs(name, attrs)
  return new Markup(m.xml.replace(/><\/[^>]+>$/, '/>'))
}

/** The whole response body: declaration, newline, root element. */
export const xmlDocument = (root: Markup): string => XML_DECLARATION + root.xml

const DAY_MS = 86_400_000
const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'))
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'))

/**
 * S3 timestamps in XML: ISO 8601 in UTC with milliseconds, `2025-01-01T00:00:00.000Z` — what
 * `toISOString` writes, computed here because `toISOString` was a tenth of a listing page's
 * gateway CPU (one per entry; docs/architecture.md §8). The date from the day count is Howard
 * Hinnant's civil_from_days; years outside 0000–9999 (which toISOString writes with a sign and
 * six digits) and invalid dates (RangeError) are left to toISOString.
 */
export function isoTimestamp(d: Date): string {
  const ms = d.getTime()
  const days = Math.floor(ms / DAY_MS)
  const z = days + 719_468 // days since 0000-03-01
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097 // day of the 400-year era
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100)) // day of the year from March 1st
  const mp = Math.floor((5 * doy + 2) / 153) // month from March
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  if (!(year >= 0 && year <= 9999)) return d.toISOString()
  let t = ms - days * DAY_MS
  const milli = t % 1000
  t = (t - milli) / 1000
  const sec = t % 60
  t = (t - sec) / 60
  const min = t % 60
  const hour = (t - min) / 60
  return `${TWO_DIGITS[Math.floor(year / 100)]}${TWO_DIGITS[year % 100]}-${TWO_DIGITS[month]}-${TWO_DIGITS[day]}T${TWO_DIGITS[hour]}:${TWO_DIGITS[min]}:${TWO_DIGITS[sec]}.${THREE_DIGITS[milli]}Z`
}
