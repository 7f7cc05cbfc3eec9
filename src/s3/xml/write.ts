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

/** Escapes a string for use as element text or a double-quoted attribute value. */
export function escapeXml(value: string): string {
  // Most values (keys, ETags, dates, sizes) have nothing to escape: a test is cheaper than a replace.
  if (!HAS_ESCAPE.test(value)) return value
  return value.replace(NEEDS_ESCAPE, (ch) => NAMED[ch] ?? `&#x${ch.charCodeAt(0).toString(16).toUpperCase()};`)
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

/** S3 timestamps in XML: ISO 8601 in UTC with milliseconds, `2025-01-01T00:00:00.000Z`. */
export const isoTimestamp = (d: Date): string => d.toISOString()
