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

/** Escapes a string for use as element text or a double-quoted attribute value. */
export function escapeXml(value: string): string {
  return value.replace(NEEDS_ESCAPE, (ch) => NAMED[ch] ?? `&#x${ch.charCodeAt(0).toString(16).toUpperCase()};`)
}

// XML Name, restricted to ASCII: every S3 element name fits, and anything else is a bug.
const NAME = /^[A-Za-z_][A-Za-z0-9._-]*$/

/** True when `name` can be written as an element or attribute name. */
export const isXmlName = (name: string): boolean => NAME.test(name)

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
  if (!isXmlName(name)) throw new Error(`invalid XML element name: ${JSON.stringify(name)}`)
  let open = name
  for (const [k, v] of Object.entries(attrs)) {
    if (!QUALIFIED_NAME.test(k)) throw new Error(`invalid XML attribute name: ${JSON.stringify(k)}`)
    open += ` ${k}="${escapeXml(v)}"`
  }
  const out: string[] = []
  render(content, out)
  return new Markup(`<${open}>${out.join('')}</${name}>`)
}

/** `<name>content</name>`. */
export const el = (name: string, ...content: Content[]): Markup => elWithAttrs(name, {}, ...content)

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
