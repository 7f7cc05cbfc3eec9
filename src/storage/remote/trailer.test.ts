import { describe, expect, it } from 'vitest'
import { createPlatform } from '../../runtime/platform.ts'
import { toHex } from '../../util/bytes.ts'
import { readAll } from '../../util/streams.ts'
import { deriveRequestKey } from './auth.ts'
import { TRAILER_LENGTH } from './protocol.ts'
import {
  BodyAuthError,
  BodyStreamError,
  decodeTrailer,
  encodeTrailer,
  frameBody,
  trailerMac,
  unframeBody,
} from './trailer.ts'

const platform = createPlatform()
const key = deriveRequestKey(platform, new Uint8Array(32).fill(3))
const SIG = 'ab'.repeat(32)

function bytes(n: number, seed = 5): Uint8Array {
  let x = seed
  return Uint8Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) >>> 0
    return (x >>> 16) & 0xff
  })
}

/** A stream of `data` cut at the given sizes (cycled). */
function pieces(data: Uint8Array, sizes: number[]): ReadableStream<Uint8Array> {
  let pos = 0
  let i = 0
  return new ReadableStream({
    pull(c) {
      if (pos >= data.length) return c.close()
      const n = sizes[i++ % sizes.length]!
      c.enqueue(data.slice(pos, pos + n))
      pos += n
    },
  })
}

describe('trailer (FORMAT: golden)', () => {
  it('encodes magic, big-endian length and MAC in 44 bytes', () => {
    const t = encodeTrailer(0x0102030405, new Uint8Array(32).fill(0x11))
    expect(TRAILER_LENGTH).toBe(44)
    expect(toHex(t)).toBe(`434654310000000102030405${'11'.repeat(32)}`)
    expect(decodeTrailer(t)).toEqual({ length: 0x0102030405, mac: new Uint8Array(32).fill(0x11) })
    expect(decodeTrailer(t.subarray(1))).toBeUndefined()
  })

  it('MACs magic, signature, length and payload hash (as protocol.ts documents)', () => {
    const h = platform.createHasher('sha256')
    h.update(bytes(10))
    const hash = toHex(h.digest())
    expect(toHex(trailerMac(platform, key, SIG, 10, hash))).toBe(
      toHex(platform.hmacSha256(key, `CFT1\n${SIG}\n10\n${hash}`)),
    )
  })
})

describe('frameBody → unframeBody', () => {
  it('round-trips the payload for any cut of the framed stream', async () => {
    for (const n of [0, 1, 43, 44, 45, 1000, 200_003]) {
      const data = bytes(n, n + 1)
      const framed = await readAll(frameBody(platform, key, SIG, pieces(data, [7000])).stream, n + 100)
      expect(framed.length).toBe(n + TRAILER_LENGTH)
      for (const sizes of [[1], [13, 44, 3], [45], [65536], [framed.length || 1]]) {
        const out = await readAll(unframeBody(platform, key, SIG, pieces(framed, sizes)), n + 100)
        expect(toHex(out), `${n} cut ${sizes}`).toBe(toHex(data))
      }
    }
  })

  it('errors with BodyAuthError on a changed byte, a cut, another signature or no trailer', async () => {
    const data = bytes(5000)
    const framed = await readAll(frameBody(platform, key, SIG, pieces(data, [999])).stream, 10_000)
    const flipped = framed.slice()
    flipped[1234]! ^= 1
    const cases: Array<[string, Uint8Array, string]> = [
      ['flipped payload byte', flipped, SIG],
      ['truncated', framed.subarray(0, framed.length - 1), SIG],
      ['payload without trailer', data, SIG],
      ['other request signature', framed, 'cd'.repeat(32)],
      ['empty', new Uint8Array(0), SIG],
    ]
    for (const [what, body, sig] of cases) {
      await expect(readAll(unframeBody(platform, key, sig, pieces(body, [512])), 10_000), what).rejects.toBeInstanceOf(
        BodyAuthError,
      )
    }
  })

  it('reports a failing source as BodyStreamError, and the client side passes the source error through', async () => {
    const boom = new Error('cut')
    const src = () =>
      new ReadableStream<Uint8Array>({
        start: (c) => {
          c.enqueue(bytes(100))
          c.error(boom)
        },
      })
    await expect(readAll(unframeBody(platform, key, SIG, src()), 1000)).rejects.toBeInstanceOf(BodyStreamError)
    let seen: unknown
    await expect(
      readAll(frameBody(platform, key, SIG, src(), { sourceError: (e) => (seen = e) }).stream, 1000),
    ).rejects.toBe(boom)
    expect(seen).toBe(boom)
  })
})
