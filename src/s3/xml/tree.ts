/**
 * Bounded, safe reading of an XML request body into a small element tree, plus schema helpers.
 * Uses Web Streams, TextDecoder and fast-xml-parser (as a tokenizer only); errors are S3Error.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { S3Error } from '../errors.ts'
import type { S3ErrorCode } from '../errors.ts'
import { BodyTooLarge, readAll } from '../../util/streams.ts'

/** One element: its local name, its child elements in document order, and its decoded text. */
export interface XmlElement {
  readonly name: string
  readonly children: readonly XmlElement[]
  /** Text and CDATA content, entities decoded, exactly as sent (never trimmed). */
  readonly text: string
}

// S3's documents are at most four levels deep; anything far deeper is hostile, not a request.
const MAX_DEPTH = 32

const malformed = (): S3Error => new S3Error('MalformedXML')

/**
 * Reads a request body of at most `limit` bytes. Stops (and cancels the stream) as soon as more
 * than `limit` bytes have arrived, so an oversized body is never read whole.
 */
export async function readBodyBytes(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
  tooLarge: S3ErrorCode = 'MaxMessageLengthExceeded',
): Promise<Uint8Array> {
  if (body === null) return new Uint8Array(0)
  try {
    return await readAll(body, limit)
  } catch (e) {
    // readAll cancelled the stream: the caller answers the error and closes the request.
    throw e instanceof BodyTooLarge ? new S3Error(tooLarge) : e
  }
}

/**
 * Reads and parses an XML request body. Returns null for an empty (or whitespace-only) body,
 * which some operations accept (CreateBucket) and others reject (the caller decides).
 */
export async function readXmlBody(body: ReadableStream<Uint8Array> | null, limit: number): Promise<XmlElement | null> {
  const bytes = await readBodyBytes(body, limit)
  let text: string
  try {
    // fatal: invalid UTF-8 is not well-formed XML. The BOM, if any, is dropped.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw malformed()
  }
  if (text.trim() === '') return null
  return parseXml(text)
}

// Raw characters outside the XML 1.0 Char production (lone surrogates cannot survive a fatal
// UTF-8 decode, so only the BMP exclusions are checked here).
// biome-ignore lint/suspicious/noControlCharactersInRegex: XML 1.0 forbids these controls; finding them is the point
const ILLEGAL_RAW = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/

// Any markup declaration except comments and CDATA: DOCTYPE, ENTITY, ELEMENT, ATTLIST…
// Refused outright so no entity is ever defined, let alone expanded (billion laughs, XXE).
const DECLARATION = /<!(?!--|\[CDATA\[)/

// Built on first use, not at import.
let tokenizer: XMLParser | undefined
const getTokenizer = (): XMLParser =>
  (tokenizer ??= new XMLParser({
    preserveOrder: true, // an ordered tree: no guessing whether one child or many makes an array
    ignoreAttributes: true, // S3 request documents carry meaning only in elements (xmlns aside)
    processEntities: false, // we decode the five predefined entities and char refs ourselves
    htmlEntities: false,
    trimValues: false, // keys may start or end with spaces
    parseTagValue: false, // "0012" or "1e3" are keys, not numbers
    ignoreDeclaration: true,
    ignorePiTags: true,
    cdataPropName: '#cdata',
    commentPropName: false,
    maxNestedTags: MAX_DEPTH,
  }))

/** Parses a complete XML document; throws S3Error('MalformedXML') unless it is well-formed. */
export function parseXml(text: string): XmlElement {
  if (ILLEGAL_RAW.test(text) || DECLARATION.test(text)) throw malformed()
  // The tokenizer is lenient (it accepts truncated documents); the validator is not.
  if (XMLValidator.validate(text) !== true) throw malformed()
  let tree: unknown
  try {
    tree = getTokenizer().parse(text)
  } catch {
    throw malformed()
  }
  const roots = toElements(tree, 0)
  if (roots.elements.length !== 1 || roots.text.trim() !== '') throw malformed()
  return roots.elements[0]!
}

type OrderedNode = Record<string, unknown>

function toElements(nodes: unknown, depth: number): { elements: XmlElement[]; text: string } {
  if (!Array.isArray(nodes) || depth > MAX_DEPTH) throw malformed()
  const elements: XmlElement[] = []
  let text = ''
  for (const node of nodes as OrderedNode[]) {
    const keys = Object.keys(node).filter((k) => k !== ':@')
    if (keys.length !== 1) throw malformed()
    const key = keys[0]!
    const value = node[key]
    if (key === '#text') text += decodeText(String(value))
    else if (key === '#cdata') text += cdataText(value)
    else {
      const inner = toElements(value, depth + 1)
      elements.push({ name: localName(key), children: inner.elements, text: inner.text })
    }
  }
  return { elements, text }
}

// CDATA is literal: no entity decoding inside it.
function cdataText(value: unknown): string {
  if (!Array.isArray(value)) throw malformed()
  return value.map((n: OrderedNode) => String(n['#text'] ?? '')).join('')
}

// Namespace prefixes are ignored (`<s3:Key>` is `Key`); S3 documents use the default namespace.
const localName = (qname: string): string => qname.slice(qname.indexOf(':') + 1)

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

/**
 * Decodes the five predefined entities and numeric character references. Any other entity is
 * undefined (we never read a DTD), so the document is malformed. References to control
 * characters (`&#x1;`) are accepted, as S3 writes them in listings; only NUL, surrogates and
 * values beyond U+10FFFF are refused.
 */
export function decodeText(raw: string): string {
  let at = raw.indexOf('&')
  if (at < 0) return raw
  let out = ''
  let from = 0
  while (at >= 0) {
    const end = raw.indexOf(';', at)
    if (end < 0) throw malformed()
    out += raw.slice(from, at) + decodeReference(raw.slice(at + 1, end))
    from = end + 1
    at = raw.indexOf('&', from)
  }
  return out + raw.slice(from)
}

function decodeReference(ref: string): string {
  const named = PREDEFINED[ref]
  if (named !== undefined) return named
  let code: number
  if (/^#x[0-9A-Fa-f]{1,6}$/.test(ref)) code = parseInt(ref.slice(2), 16)
  else if (/^#[0-9]{1,7}$/.test(ref)) code = parseInt(ref.slice(1), 10)
  else throw malformed()
  if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw malformed()
  return String.fromCodePoint(code)
}

// ---- schema helpers: each throws MalformedXML when the document does not fit ----

/** The root element, which must be named `name`. */
export function expectRoot(doc: XmlElement, name: string): XmlElement {
  if (doc.name !== name) throw malformed()
  return doc
}

/** All children named `name`, in document order. */
export const childrenNamed = (parent: XmlElement, name: string): XmlElement[] =>
  parent.children.filter((c) => c.name === name)

/** The single child named `name`, or undefined; two of them is malformed. */
export function optionalChild(parent: XmlElement, name: string): XmlElement | undefined {
  const found = childrenNamed(parent, name)
  if (found.length > 1) throw malformed()
  return found[0]
}

/** The single child named `name`; missing or repeated is malformed. */
export function requiredChild(parent: XmlElement, name: string): XmlElement {
  const found = optionalChild(parent, name)
  if (found === undefined) throw malformed()
  return found
}

/** The text of a simple-content element, exactly as sent; child elements make it malformed. */
export function textOf(element: XmlElement): string {
  if (element.children.length > 0) throw malformed()
  return element.text
}

/** Element-only content may hold whitespace between children but no other text. */
export function expectElementOnly(element: XmlElement): XmlElement {
  if (element.text.trim() !== '') throw malformed()
  return element
}

/** xs:boolean: true, false, 1, 0, with surrounding whitespace allowed. */
export function booleanOf(element: XmlElement): boolean {
  const v = textOf(element).trim()
  if (v === 'true' || v === '1') return true
  if (v === 'false' || v === '0') return false
  throw malformed()
}
