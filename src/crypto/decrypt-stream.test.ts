import { describe, expect, it } from 'vitest'
import { createNodeAead } from '../runtime/aead-node.ts'
import { BytePool } from '../util/byte-pool.ts'
import { concatBytes } from '../util/bytes.ts'
import { streamFromBytes } from '../util/streams.ts'
import { createWebCryptoAead } from './aead.ts'
import { DecryptError, decryptRange } from './decrypt-stream.ts'
import type { PackageOptions } from './encrypt-stream.ts'
import { cipherLength, PACKAGE_PAYLOAD, PACKAGE_SIZE } from './package-format.ts'
import { decryptSlice, encryptAll, options, pattern } from './crypto.testkit.ts'

const P = PACKAGE_PAYLOAD
const S = PACKAGE_SIZE

/** Reads a stream to its end or error, keeping what was emitted before an error. */
async function drain(stream: ReadableStream<Uint8Array>): Promise<{ bytes: Uint8Array; error?: unknown }> {
  const reader = stream.getReader()
  const parts: Uint8Array[] = []
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return { bytes: concatBytes(parts) }
      parts.push(value)
    }
  } catch (error) {
    return { bytes: concatBytes(parts), error }
  }
}

const pkg = (c: Uint8Array, i: number, plainSize: number) =>
  c.subarray(i * S, Math.min((i + 1) * S, i * S + (plainSize - i * P) + 16))

for (const aead of [createWebCryptoAead(), createNodeAead()]) {
  describe(`tampering is rejected (${aead.name} AEAD)`, () => {
    const size = 3 * P + 5 // packages 0..2 full, 3 holds 5 bytes
    const plain = pattern(size, 42)
    const opts = options({ objectId: 'victim', partNumber: 1 }, aead)
    let cipher: Uint8Array
    const setup = async () => (cipher ??= await encryptAll(plain, opts))

    const rejects = async (
      serve: (s: number, e: number) => Uint8Array,
      plainSize = size,
      o: PackageOptions = opts,
      start = 0,
      end = plainSize,
    ) => {
      const r = await drain(
        decryptRange(
          (s, e) =>
            new ReadableStream({
              start: (c) => {
                c.enqueue(serve(s, e))
                c.close()
              },
            }),
          plainSize,
          start,
          end,
          o,
        ),
      )
      expect(r.error).toBeInstanceOf(DecryptError)
      return r
    }

    it('a flipped ciphertext bit fails the package, yet ranges elsewhere still read; nothing unauthenticated is emitted', async () => {
      await setup()
      const bad = cipher.slice()
      bad[2 * S + 100]! ^= 0x01
      const r = await rejects((s, e) => bad.subarray(s, e))
      expect(r.bytes.length).toBeLessThanOrEqual(2 * P) // at most the two good packages before it
      expect(Buffer.from(r.bytes).equals(Buffer.from(plain.subarray(0, r.bytes.length)))).toBe(true)
      expect(await decryptSlice(bad, size, 10, 2 * P, opts)).toEqual(plain.subarray(10, 2 * P))
      await rejects((s, e) => bad.subarray(s, e), size, opts, 2 * P + 1, 2 * P + 2)
      const tagFlip = cipher.slice()
      tagFlip[S - 1]! ^= 0x80
      await rejects((s, e) => tagFlip.subarray(s, e))
    })

    it('ciphertext in storage-block chunks: packages that straddle two chunks open whole or fail whole', async () => {
      // A GET hands the decrypter 256 KiB blocks; a package then straddles two chunks. Served here
      // in chunks cut inside packages 1 and 2 (and inside package 2's tag).
      await setup()
      const chunked = (bytes: Uint8Array) => (s: number, e: number) =>
        new ReadableStream<Uint8Array>({
          start(c) {
            const range = bytes.subarray(s, e)
            for (const cut of [
              [0, S + 7],
              [S + 7, 3 * S - 5],
              [3 * S - 5, range.length],
            ])
              if (cut[0]! < range.length) c.enqueue(range.subarray(cut[0], Math.min(cut[1]!, range.length)))
            c.close()
          },
        })
      const read = (bytes: Uint8Array, start = 0, end = size) =>
        drain(decryptRange(chunked(bytes), size, start, end, opts))
      const whole = await read(cipher)
      expect(whole.error).toBeUndefined()
      expect(Buffer.from(whole.bytes).equals(Buffer.from(plain))).toBe(true)
      const mid = await read(cipher, P - 3, 2 * P + 9)
      expect(Buffer.from(mid.bytes).equals(Buffer.from(plain.subarray(P - 3, 2 * P + 9)))).toBe(true)
      // A bit flipped in the second piece of package 1: nothing of package 1 is emitted.
      const bad = cipher.slice()
      bad[S + 100]! ^= 0x04
      const r = await read(bad)
      expect(r.error).toBeInstanceOf(DecryptError)
      expect(r.bytes.length).toBe(P)
      // A bit flipped in the part of package 2's tag that lies in the next chunk.
      const tag = cipher.slice()
      tag[3 * S - 2]! ^= 0x80
      const t = await read(tag)
      expect(t.error).toBeInstanceOf(DecryptError)
      expect(t.bytes.length).toBe(2 * P)
    })

    it('reordered packages fail', async () => {
      await setup()
      const swapped = concatBytes([pkg(cipher, 1, size), pkg(cipher, 0, size), cipher.subarray(2 * S)])
      await rejects((s, e) => swapped.subarray(s, e))
    })

    it('a package from another object (same key and prefix) or another part fails', async () => {
      await setup()
      for (const other of [
        options({ objectId: 'intruder', partNumber: 1 }, aead),
        options({ objectId: 'victim', partNumber: 2 }, aead),
      ]) {
        const foreign = await encryptAll(plain, other)
        const mixed = concatBytes([pkg(cipher, 0, size), pkg(foreign, 1, size), cipher.subarray(2 * S)])
        await rejects((s, e) => mixed.subarray(s, e))
        await rejects((s, e) => foreign.subarray(s, e)) // the whole of the other one, too
      }
    })

    it('truncation fails: last package dropped (size kept or shrunk to match), or cut mid-package', async () => {
      await setup()
      const dropped = cipher.subarray(0, 3 * S)
      await rejects((s, e) => dropped.subarray(s, e)) // the ciphertext ends early
      expect(dropped.length).toBe(cipherLength(3 * P))
      await rejects((s, e) => dropped.subarray(s, e), 3 * P) // package 2 carries no final flag
      await rejects((s, e) => cipher.subarray(s, Math.min(e, cipher.length - 7)))
      await rejects((s, e) => cipher.subarray(s, Math.min(e, S + 1000)))
    })

    it('extension fails: extra bytes after the range, or a package appended under a larger size', async () => {
      await setup()
      await rejects((s, e) => concatBytes([cipher.subarray(s, e), pattern(30)]))
      const twoFull = pattern(2 * P, 7)
      const short = await encryptAll(twoFull, opts)
      const longer = await encryptAll(concatBytes([twoFull, pattern(P, 8)]), opts)
      const extended = concatBytes([short, longer.subarray(2 * S)])
      expect(extended.length).toBe(cipherLength(3 * P)) // lengths line up: only the final flag can tell
      await rejects((s, e) => extended.subarray(s, e), 3 * P) // package 1 of `short` is flagged final
    })

    it('the wrong object key fails at the first package, emitting nothing', async () => {
      await setup()
      const r = await rejects((s, e) => cipher.subarray(s, e), size, { ...opts, key: pattern(32, 99) })
      expect(r.bytes.length).toBe(0)
    })
  })
}

describe('decryptRange plumbing', () => {
  it('opens exactly the covering ciphertext range', async () => {
    const size = 5 * P + 3
    const plain = pattern(size, 3)
    const opts = options()
    const cipher = await encryptAll(plain, opts)
    const asked: [number, number][] = []
    const got = await drain(
      decryptRange(
        (s, e) => {
          asked.push([s, e])
          return new ReadableStream({
            start: (c) => {
              c.enqueue(cipher.slice(s, e))
              c.close()
            },
          })
        },
        size,
        2 * P + 1,
        4 * P + 2,
        opts,
      ),
    )
    expect(got.error).toBeUndefined()
    expect(asked).toEqual([[2 * S, 5 * S]])
    expect(got.bytes).toEqual(plain.subarray(2 * P + 1, 4 * P + 2))
  })

  it('reads unchecked first, and from a failing package on again with checks, in chunks of any cut', async () => {
    // Storage that skips its checks hands on a damaged byte; with checks it reads around it (parity).
    const size = 6 * P + 77
    const plain = pattern(size, 5)
    const opts = options()
    const cipher = await encryptAll(plain, opts)
    const rotten = cipher.slice()
    rotten[3 * S + 1000]! ^= 0x40 // package 3
    const asked: [number, number, boolean][] = []
    const open = (s: number, e: number, checked: boolean) => {
      asked.push([s, e, checked])
      return streamFromBytes((checked ? cipher : rotten).subarray(s, e), 50_000)
    }
    for (const [start, end] of [
      [0, size],
      [P + 9, 5 * P],
    ] as const) {
      asked.length = 0
      const got = await drain(decryptRange(open, size, start, end, opts))
      expect(got.error).toBeUndefined()
      expect(got.bytes).toEqual(plain.subarray(start, end))
      expect(asked).toEqual([
        [Math.floor(start / P) * S, Math.min(Math.ceil(end / P) * S, cipher.length), false],
        [3 * S, Math.min(Math.ceil(end / P) * S, cipher.length), true],
      ])
    }
    // Damage that checked storage returns as well is a DecryptError, after one re-read.
    asked.length = 0
    const bad = await drain(
      decryptRange(
        (s, e, c) => {
          asked.push([s, e, c])
          return streamFromBytes(rotten.subarray(s, e))
        },
        size,
        0,
        size,
        opts,
      ),
    )
    expect(bad.error).toBeInstanceOf(DecryptError)
    expect(bad.bytes).toEqual(plain.subarray(0, 3 * P))
    expect(asked.map((a) => a[2])).toEqual([false, true])
  })

  it('passes storage errors through unchanged and never opens storage for an empty range', async () => {
    const boom = new Error('shard quorum lost')
    const cipher = await encryptAll(pattern(100), options())
    const failing = () =>
      new ReadableStream<Uint8Array>({
        start: (c) => {
          c.enqueue(cipher.subarray(0, 10))
          c.error(boom)
        },
      })
    expect((await drain(decryptRange(failing, 100, 0, 100, options()))).error).toBe(boom)
    let opened = 0
    const r = await drain(
      decryptRange(
        () => {
          opened++
          return failing()
        },
        100,
        50,
        50,
        options(),
      ),
    )
    expect([r.bytes.length, opened, r.error]).toEqual([0, 0, undefined])
    expect(() => decryptRange(failing, 100, 0, 101, options())).toThrow(RangeError)
  })
})

for (const aead of [createWebCryptoAead(), createNodeAead()]) {
  it(`gives pooled ciphertext buffers back only once their packages are open (${aead.name} AEAD)`, async () => {
    const size = 7 * P + 1234
    const plain = pattern(size, 9)
    const opts = options({ objectId: 'pooled', partNumber: 0 }, aead)
    const cipher = await encryptAll(plain, opts)
    // Chunks that cut packages anywhere, each in a pooled buffer with one holder: the next pull
    // leases a released buffer again and overwrites it, so a buffer given back while bytes of it
    // were still to be opened fails the package (or the comparison below).
    const CHUNK = 40_000
    const pool = new BytePool(16 * CHUNK)
    let reused = 0
    const seen = new Set<ArrayBufferLike>()
    const openCipher = (s: number, e: number) => {
      let at = s
      return new ReadableStream<Uint8Array>(
        {
          pull(c) {
            if (at >= e) return c.close()
            const n = Math.min(CHUNK, e - at)
            const buf = pool.lease(CHUNK, 1)
            if (seen.has(buf.buffer)) reused++
            seen.add(buf.buffer)
            buf.set(cipher.subarray(at, at + n))
            at += n
            c.enqueue(buf.subarray(0, n))
          },
        },
        { highWaterMark: 0 },
      )
    }
    for (const [start, end] of [
      [0, size],
      [P - 3, 5 * P + 7],
    ] as const) {
      const r = await drain(decryptRange(openCipher, size, start, end, opts))
      expect(r.error).toBeUndefined()
      expect(Buffer.from(r.bytes).equals(Buffer.from(plain.subarray(start, end)))).toBe(true)
    }
    expect(reused).toBeGreaterThan(0)
  })
}
