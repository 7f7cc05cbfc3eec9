import { describe, expect, it } from 'vitest'
import { headerText, metadataValueIn, metadataValueOut } from './header-text.ts'

const asRead = (text: string) => Buffer.from(text, 'utf8').toString('latin1')

describe('header-text', () => {
  it('reads UTF-8 bytes as UTF-8, leaves ASCII and ISO-8859-1 bytes that are not UTF-8 alone', () => {
    expect(headerText(asRead('Grüße 日本 €'))).toBe('Grüße 日本 €')
    expect(headerText('plain')).toBe('plain')
    expect(headerText('\u00fc')).toBe('\u00fc') // a lone 0xFC byte: not UTF-8, kept as ISO-8859-1
  })

  it('decodes RFC 2047 B and Q words, joins adjacent words, keeps what it cannot decode', () => {
    expect(metadataValueIn('=?UTF-8?B?w7w=?=')).toBe('ü')
    expect(metadataValueIn('=?utf-8?q?a_b=C3=BC?= =?UTF-8?B?w7w=?=')).toBe('a büü')
    expect(metadataValueIn('x =?UTF-8?B?w7w=?= y')).toBe('x ü y')
    expect(metadataValueIn('=?no-such-charset?B?w7w=?=')).toBe('=?no-such-charset?B?w7w=?=')
  })

  it('returns printable ASCII as is and anything else as one UTF-8 B-word', () => {
    expect(metadataValueOut('a b=c?d')).toBe('a b=c?d')
    expect(metadataValueOut('ü')).toBe('=?UTF-8?B?w7w=?=')
    expect(metadataValueOut('a\nb')).toBe(`=?UTF-8?B?${Buffer.from('a\nb').toString('base64')}?=`)
  })
})
