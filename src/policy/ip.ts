/**
 * IP addresses and CIDR blocks for the IpAddress / NotIpAddress condition operators
 * (aws:SourceIp): IPv4 and IPv6, an address without a prefix length is a single host.
 */

/** An address as 16 bytes (IPv4 mapped into ::ffff:0:0/96) and whether it was written as IPv4. */
interface Address {
  bytes: Uint8Array
  v4: boolean
}

export interface Cidr {
  bytes: Uint8Array
  /** Prefix length over the 128-bit form. */
  bits: number
}

function parseV4(s: string): Uint8Array | undefined {
  const parts = s.split('.')
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined
    out[i] = Number(p)
  }
  return out
}

function parseV6(s: string): Uint8Array | undefined {
  let text = s
  let tail: Uint8Array | undefined
  // A trailing dotted quad (::ffff:1.2.3.4) is the last 32 bits.
  const lastColon = text.lastIndexOf(':')
  if (text.includes('.')) {
    tail = parseV4(text.slice(lastColon + 1))
    if (!tail) return undefined
    text = `${text.slice(0, lastColon + 1)}0:0`
  }
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const groups = (h: string) => (h === '' ? [] : h.split(':'))
  const head = groups(halves[0]!)
  const rest = halves.length === 2 ? groups(halves[1]!) : []
  const missing = 8 - head.length - rest.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest]
  const out = new Uint8Array(16)
  for (let i = 0; i < 8; i++) {
    const g = all[i]!
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined
    const v = Number.parseInt(g, 16)
    out[i * 2] = v >> 8
    out[i * 2 + 1] = v & 0xff
  }
  if (tail) out.set(tail, 12)
  return out
}

export function parseAddress(s: string): Address | undefined {
  const v4 = parseV4(s)
  if (v4) {
    const bytes = new Uint8Array(16)
    bytes[10] = 0xff
    bytes[11] = 0xff
    bytes.set(v4, 12)
    return { bytes, v4: true }
  }
  const v6 = parseV6(s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s)
  return v6 ? { bytes: v6, v4: false } : undefined
}

/** `a.b.c.d/n`, `x::y/n`, or a bare address (a /32 or /128); undefined when malformed. */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/')
  const addr = parseAddress(slash < 0 ? s : s.slice(0, slash))
  if (!addr) return undefined
  const max = addr.v4 ? 32 : 128
  let bits = max
  if (slash >= 0) {
    const n = s.slice(slash + 1)
    if (!/^\d{1,3}$/.test(n) || Number(n) > max) return undefined
    bits = Number(n)
  }
  return { bytes: addr.bytes, bits: addr.v4 ? bits + 96 : bits }
}

export function cidrContains(cidr: Cidr, address: string): boolean {
  const a = parseAddress(address)
  if (!a) return false
  let bits = cidr.bits
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if ((a.bytes[i]! & mask) !== (cidr.bytes[i]! & mask)) return false
  }
  return true
}
