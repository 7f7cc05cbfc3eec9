import { describe, expect, it } from 'vitest'
import { ByteQueue } from './byte-queue.ts'
import { pattern } from './crypto.testkit.ts'

describe('ByteQueue', () => {
  it('re-cuts arbitrary chunks into exact pieces, in order', () => {
    const data = pattern(10_000)
    const q = new ByteQueue()
    for (let off = 0, n = 1; off < data.length; off += n, n = (n * 7 + 3) % 997 || 1)
      q.push(data.subarray(off, Math.min(data.length, off + n)))
    expect(q.length).toBe(10_000)
    const out: Uint8Array[] = []
    for (const n of [0, 1, 333, 4096, 5000, 570]) out.push(q.take(n))
    expect(q.length).toBe(0)
    expect(Buffer.concat(out)).toEqual(Buffer.from(data))
  })

  it('returns views when a piece lies in one chunk and refuses to over-take', () => {
    const chunk = pattern(100)
    const q = new ByteQueue()
    q.push(chunk)
    const piece = q.take(40)
    expect(piece.buffer).toBe(chunk.buffer)
    expect(() => q.take(61)).toThrow(RangeError)
  })
})
