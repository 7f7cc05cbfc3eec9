import { describe, expect, it } from 'vitest'
import { fmix64, fnv1a64, hash64, hash64Hex, rank } from './placement.ts'

const utf8 = (s: string) => new TextEncoder().encode(s)
const M64 = (1n << 64n) - 1n

// Independent BigInt reference of fmix64(FNV-1a 64(bytes)), to check the 32-bit-halves code.
function referenceHash(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & M64
  h ^= h >> 33n
  h = (h * 0xff51afd7ed558ccdn) & M64
  h ^= h >> 33n
  h = (h * 0xc4ceb9fe1a85ec53n) & M64
  h ^= h >> 33n
  return h
}

describe('hash64', () => {
  it('FNV-1a 64 matches the published test vectors', () => {
    expect(hash64Hex(fnv1a64(utf8('')))).toBe('cbf29ce484222325')
    expect(hash64Hex(fnv1a64(utf8('a')))).toBe('af63dc4c8601ec8c')
    expect(hash64Hex(fnv1a64(utf8('foobar')))).toBe('85944171f73967e8')
  })

  it('agrees with a BigInt reference on many inputs, including non-ASCII and edge words', () => {
    const inputs = ['', 'a', 'ключ', '日本語のキー', '\u{1F600}', 'x'.repeat(1000)]
    for (let i = 0; i < 2000; i++) inputs.push(`key-${i}-${(i * 2654435761) >>> 0}`)
    for (const s of inputs) {
      expect(hash64Hex(hash64(s)), s).toBe(referenceHash(utf8(s)).toString(16).padStart(16, '0'))
    }
    // fmix64 on values with all bits set / only the top bit set exercises every carry.
    for (const v of [0xffffffffffffffffn, 0x8000000000000000n, 0x00000000ffffffffn, 1n]) {
      const got = fmix64({ hi: Number(v >> 32n), lo: Number(v & 0xffffffffn) })
      let h = v
      h ^= h >> 33n
      h = (h * 0xff51afd7ed558ccdn) & M64
      h ^= h >> 33n
      h = (h * 0xc4ceb9fe1a85ec53n) & M64
      h ^= h >> 33n
      expect(hash64Hex(got)).toBe(h.toString(16).padStart(16, '0'))
    }
  })

  it('FORMAT golden values (changing them relocates every stored shard)', () => {
    expect(hash64Hex(hash64('object-1'))).toBe('a2664b4f6b1b0657')
    expect(hash64Hex(hash64('ключ'))).toBe('590520d718275ed5')
  })
})

describe('rank', () => {
  const six = ['0', '1', '2', '3', '4', '5']

  it('is deterministic (golden orders) and a permutation of the input', () => {
    expect(rank('object-1', six).join('')).toBe('512403')
    expect(rank('3f1c9a52-7a4e-4c1b-9d7e-0b6a1c2d3e4f', six).join('')).toBe('150423')
    expect(rank('ключ', six).join('')).toBe('042135')
    const r = rank('anything', six)
    expect([...r].sort()).toEqual(six)
    // Input order does not matter.
    expect(rank('anything', [...six].reverse())).toEqual(r)
    expect(rank('k', [])).toEqual([])
  })

  it('spreads 60k keys evenly over 6 stores (each within ±5% of its share)', () => {
    const counts = new Map<string, number>()
    const n = 60_000
    for (let i = 0; i < n; i++) {
      const first = rank(`obj-${i}`, six)[0]!
      counts.set(first, (counts.get(first) ?? 0) + 1)
    }
    for (const id of six) {
      const c = counts.get(id) ?? 0
      expect(Math.abs(c - n / 6) / (n / 6), `store ${id}: ${c}`).toBeLessThan(0.05)
    }
  })

  it('moves only ~1/7 of keys, all to the new store, when a 7th store is added', () => {
    const seven = [...six, '6']
    const n = 60_000
    let moved = 0
    for (let i = 0; i < n; i++) {
      const before = rank(`obj-${i}`, six)
      const after = rank(`obj-${i}`, seven)
      if (before[0] !== after[0]) {
        moved++
        expect(after[0]).toBe('6')
      }
      // The relative order of the old stores is unchanged.
      expect(after.filter((s) => s !== '6')).toEqual(before)
    }
    expect(Math.abs(moved / n - 1 / 7)).toBeLessThan(0.01)
  })

  it('moves only the removed store’s keys when a store leaves', () => {
    const five = six.filter((s) => s !== '3')
    for (let i = 0; i < 5000; i++) {
      const before = rank(`obj-${i}`, six)
      const after = rank(`obj-${i}`, five)
      if (before[0] !== '3') expect(after[0]).toBe(before[0])
      else expect(after[0]).toBe(before[1])
    }
  })
})
