import { describe, expect, it } from 'vitest'
import { cidrContains, parseAddress, parseCidr } from './ip.ts'

describe('IP addresses and CIDR blocks', () => {
  it('parses IPv4 and IPv6, refuses the malformed', () => {
    for (const ok of ['1.2.3.4', '::1', '2001:db8::1', '::ffff:10.0.0.1', '[::1]', 'fe80::1:2:3:4:5'])
      expect(parseAddress(ok), ok).toBeDefined()
    for (const bad of ['1.2.3', '256.1.1.1', '1.2.3.4.5', ':::1', '1::2::3', 'g::1', '', 'localhost'])
      expect(parseAddress(bad), bad).toBeUndefined()
  })

  it.each([
    ['127.0.0.0/8', '127.0.0.1', true],
    ['127.0.0.1/32', '127.0.0.1', true],
    ['127.0.0.1', '127.0.0.2', false],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['192.168.1.128/25', '192.168.1.129', true],
    ['192.168.1.128/25', '192.168.1.127', false],
    ['::1/128', '::1', true],
    ['2001:db8::/32', '2001:db8:1::5', true],
    ['2001:db8::/32', '2001:db9::5', false],
    // An IPv4 block holds the IPv4-mapped form of its addresses.
    ['127.0.0.0/8', '::ffff:127.0.0.1', true],
    ['10.0.0.0/8', 'not-an-ip', false],
  ])('%s holds %s → %s', (cidr, addr, want) => {
    const c = parseCidr(cidr)
    expect(c).toBeDefined()
    expect(cidrContains(c!, addr)).toBe(want)
  })

  it('refuses prefix lengths out of range', () => {
    expect(parseCidr('1.2.3.4/33')).toBeUndefined()
    expect(parseCidr('::1/129')).toBeUndefined()
    expect(parseCidr('1.2.3.4/x')).toBeUndefined()
  })
})
