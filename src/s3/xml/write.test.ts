// Escaping and element rendering: the rules every response document relies on.
import { describe, expect, it } from 'vitest'
import { Markup, el, elWithAttrs, emptyEl, escapeXml, isoTimestamp, optEl, xmlDocument } from './write.ts'

describe('escapeXml', () => {
  it('escapes the five markup characters', () => {
    expect(escapeXml(`a&b<c>d"e'f`)).toBe('a&amp;b&lt;c&gt;d&quot;e&apos;f')
  })

  it('leaves TAB, LF and non-ASCII text alone', () => {
    expect(escapeXml('tab\there\nnew line – 日本語 🎉')).toBe('tab\there\nnew line – 日本語 🎉')
  })

  it('writes CR as a reference so parsers cannot normalise it away', () => {
    expect(escapeXml('a\r\nb\rc')).toBe('a&#xD;\nb&#xD;c')
  })

  it('writes characters outside XML 1.0 as numeric references, as S3 does', () => {
    expect(escapeXml('\u0000\u0001\u0008\u000B\u000C\u001F')).toBe('&#x0;&#x1;&#x8;&#xB;&#xC;&#x1F;')
    expect(escapeXml('\uFFFE\uFFFF')).toBe('&#xFFFE;&#xFFFF;')
  })

  it('keeps surrogate pairs but references lone surrogates', () => {
    expect(escapeXml('\uD83D\uDE00')).toBe('😀')
    expect(escapeXml('a\uD800b')).toBe('a&#xD800;b')
    expect(escapeXml('a\uDC00b')).toBe('a&#xDC00;b')
  })

  it('does not treat an existing entity as already escaped', () => {
    expect(escapeXml('&amp;')).toBe('&amp;amp;')
  })
})

describe('elements', () => {
  it('escapes text content exactly once and inserts markup as is', () => {
    const inner = el('Key', '<k>&')
    expect(el('Contents', inner, el('Size', 5)).xml).toBe(
      '<Contents><Key>&lt;k&gt;&amp;</Key><Size>5</Size></Contents>',
    )
  })

  it('writes an empty element with a closing tag, skips null and undefined, flattens arrays', () => {
    expect(el('Prefix', '').xml).toBe('<Prefix></Prefix>')
    expect(el('A', null, undefined, [el('B', 1), [el('C', true)]], false).xml).toBe('<A><B>1</B><C>true</C>false</A>')
  })

  it('optEl emits nothing for absent values but does for empty strings and false', () => {
    expect(optEl('X', undefined)).toBeNull()
    expect(optEl('X', null)).toBeNull()
    expect(optEl('X', '')?.xml).toBe('<X></X>')
    expect(optEl('X', false)?.xml).toBe('<X>false</X>')
  })

  it('escapes attribute values and supports a self-closing form', () => {
    expect(elWithAttrs('R', { xmlns: 'u"<' }, 'x').xml).toBe('<R xmlns="u&quot;&lt;">x</R>')
    expect(emptyEl('LocationConstraint', { xmlns: 'n' }).xml).toBe('<LocationConstraint xmlns="n"/>')
  })

  it('refuses names that are not XML names', () => {
    expect(() => el('a b', 'x')).toThrow(/invalid XML element name/)
    expect(() => el('<x', 'x')).toThrow(/invalid XML element name/)
    expect(() => elWithAttrs('A', { 'x y': '1' })).toThrow(/invalid XML attribute name/)
    expect(() => elWithAttrs('A', { 'a:b:c': '1' })).toThrow(/invalid XML attribute name/)
  })

  it('writes prefixed attributes (an ACL Grantee: xmlns:xsi, xsi:type)', () => {
    const xsi = 'http://www.w3.org/2001/XMLSchema-instance'
    expect(elWithAttrs('Grantee', { 'xmlns:xsi': xsi, 'xsi:type': 'Group' }).xml).toBe(
      `<Grantee xmlns:xsi="${xsi}" xsi:type="Group"></Grantee>`,
    )
  })

  it('renders bigint sizes beyond 2^53 exactly', () => {
    expect(el('Size', 2n ** 60n).xml).toBe('<Size>1152921504606846976</Size>')
  })

  it('prefixes the declaration and a newline', () => {
    expect(xmlDocument(new Markup('<A></A>'))).toBe('<?xml version="1.0" encoding="UTF-8"?>\n<A></A>')
  })

  it('formats timestamps with milliseconds in UTC', () => {
    expect(isoTimestamp(new Date(Date.UTC(2025, 0, 1)))).toBe('2025-01-01T00:00:00.000Z')
    expect(isoTimestamp(new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 7)))).toBe('2024-02-29T23:59:59.007Z')
  })
})
