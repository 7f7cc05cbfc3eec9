import { createHash } from 'node:crypto'
import { Crc32 } from '@aws-crypto/crc32'
import { Crc32c } from '@aws-crypto/crc32c'
import { Crc64Nvme } from '@aws-sdk/crc64-nvme'
import { describe, expect, it } from 'vitest'
import { createTestPlatform } from './platform.testkit.ts'
import { toHex, utf8 } from './bytes.ts'
import { CHECKSUM_ALGORITHMS, CHECKSUM_LENGTHS, combineCrcs, compositeChecksum, createChecksum } from './checksums.ts'
import type { ChecksumAlgorithm } from './checksums.ts'

const platform = createTestPlatform()
const jsPlatform = createTestPlatform({ nativeCrc32: false })

function digestOf(alg: ChecksumAlgorithm, data: Uint8Array, p = platform): Uint8Array {
  const h = createChecksum(alg, p)
  h.update(data)
  return h.digest()
}

// Deterministic pseudo-random bytes (xorshift) so failures reproduce.
function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

async function referenceDigest(alg: ChecksumAlgorithm, data: Uint8Array): Promise<string> {
  const be = (n: number) => n.toString(16).padStart(8, '0')
  switch (alg) {
    case 'CRC32':
      return be(new Crc32().update(data).digest())
    case 'CRC32C':
      return be(new Crc32c().update(data).digest())
    case 'CRC64NVME': {
      const c = new Crc64Nvme()
      c.update(data)
      return toHex(await c.digest())
    }
    case 'SHA1':
      return createHash('sha1').update(data).digest('hex')
    case 'SHA256':
      return createHash('sha256').update(data).digest('hex')
  }
}

describe('createChecksum', () => {
  it('matches the published check values for "123456789"', () => {
    const data = utf8('123456789')
    expect(toHex(digestOf('CRC32', data))).toBe('cbf43926')
    expect(toHex(digestOf('CRC32', data, jsPlatform))).toBe('cbf43926')
    expect(toHex(digestOf('CRC32C', data))).toBe('e3069283')
    expect(toHex(digestOf('CRC64NVME', data))).toBe('ae8b14860a799888')
    expect(toHex(digestOf('SHA1', data))).toBe('f7c3bc1d808e04732adf679965ccc34ca7ae3441')
    expect(toHex(digestOf('SHA256', data))).toBe('15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225')
  })

  it('computes CRC32 in JS (no native crc32) identically to the native path', () => {
    const data = randomBytes(70_001, 3)
    expect(toHex(digestOf('CRC32', data, jsPlatform))).toBe(toHex(digestOf('CRC32', data)))
  })

  it('gives the empty-input values S3 uses (CRC of nothing is zero)', () => {
    for (const alg of ['CRC32', 'CRC32C'] as const) expect(toHex(digestOf(alg, new Uint8Array(0)))).toBe('00000000')
    expect(toHex(digestOf('CRC64NVME', new Uint8Array(0)))).toBe('0000000000000000')
  })

  it.each(CHECKSUM_ALGORITHMS)('%s: incremental updates equal one update and the reference library', async (alg) => {
    const data = randomBytes(100_003, 7)
    expect(digestOf(alg, data).length).toBe(CHECKSUM_LENGTHS[alg])
    const whole = toHex(digestOf(alg, data))
    expect(whole).toBe(await referenceDigest(alg, data))
    for (const step of [1, 7, 8, 9, 4096]) {
      const h = createChecksum(alg, platform)
      for (let i = 0; i < 20_000; i += step) h.update(data.subarray(i, Math.min(i + step, 20_000)))
      expect(toHex(h.digest())).toBe(await referenceDigest(alg, data.subarray(0, 20_000)))
    }
  })
})

describe('compositeChecksum', () => {
  it('hashes the concatenated raw part checksums', () => {
    const parts = [randomBytes(1000, 1), randomBytes(2000, 2), randomBytes(10, 3)]
    for (const alg of CHECKSUM_ALGORITHMS) {
      const digests = parts.map((p) => digestOf(alg, p))
      const expected = digestOf(alg, new Uint8Array(digests.flatMap((d) => [...d])))
      expect(toHex(compositeChecksum(alg, digests, platform))).toBe(toHex(expected))
    }
  })
})

describe('combineCrcs', () => {
  it.each(['CRC32', 'CRC32C', 'CRC64NVME'] as const)(
    '%s: combining random splits equals the CRC of the whole',
    (alg) => {
      const data = randomBytes(50_000, 99)
      const whole = toHex(digestOf(alg, data))
      let seed = 12345
      for (let trial = 0; trial < 25; trial++) {
        // Random cut points, including empty parts and a single part.
        const cuts = new Set<number>([0, data.length])
        const n = trial % 6
        for (let i = 0; i < n; i++) {
          seed = (seed * 1103515245 + 12345) >>> 0
          cuts.add(seed % (data.length + 1))
        }
        if (trial === 3) cuts.add(0).add(1).add(1)
        const sorted = [...cuts].sort((a, b) => a - b)
        const parts = sorted.slice(1).map((end, i) => data.subarray(sorted[i]!, end))
        if (trial === 4) parts.splice(1, 0, new Uint8Array(0))
        const combined = combineCrcs(
          alg,
          parts.map((p) => ({ digest: digestOf(alg, p), length: p.length })),
        )
        expect(toHex(combined)).toBe(whole)
      }
    },
  )

  it('handles large part lengths without per-byte work', () => {
    // Two parts of zeros: the combine must match the CRC of the concatenation (computed directly).
    const a = new Uint8Array(5 * 1024 * 1024)
    const b = new Uint8Array(3 * 1024 * 1024 + 17)
    for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME'] as const) {
      const whole = createChecksum(alg, platform)
      whole.update(a)
      whole.update(b)
      const combined = combineCrcs(alg, [
        { digest: digestOf(alg, a), length: a.length },
        { digest: digestOf(alg, b), length: b.length },
      ])
      expect(toHex(combined)).toBe(toHex(whole.digest()))
    }
  })

  it('combines 10,000 parts quickly', () => {
    const parts = Array.from({ length: 10_000 }, (_, i) => ({
      digest: digestOf('CRC64NVME', utf8(String(i))),
      length: 5 * 1024 * 1024 * 1024,
    }))
    const started = Date.now()
    expect(combineCrcs('CRC64NVME', parts).length).toBe(8)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('rejects digests of the wrong size', () => {
    expect(() => combineCrcs('CRC32', [{ digest: new Uint8Array(8), length: 1 }])).toThrow(RangeError)
  })
})
