import { createHash } from 'node:crypto'
import { expect, it } from 'vitest'
import { createNodeAead } from '../runtime/aead-node.ts'
import { decryptRange } from './decrypt-stream.ts'
import { encryptStream } from './encrypt-stream.ts'
import { cipherLength } from './package-format.ts'
import { KiB, MiB, options } from './crypto.testkit.ts'

// 256 MiB through encryptStream → decryptRange with no buffer in between: RSS must stay within a
// few packages plus runtime noise, whatever the object size.
const TOTAL = 256 * MiB
const NET_CHUNK = 64 * KiB + 7 // deliberately not package-aligned
// Garbage (a fresh buffer per package) lets RSS float ~40–60 MiB before the GC catches up; a leak
// would grow with the volume (≥ 256 MiB), so this budget still separates the two.
const RSS_BUDGET = 96 * MiB

function generated(total: number, onChunk: (c: Uint8Array) => void): ReadableStream<Uint8Array> {
  let sent = 0
  let x = 0x2545f491
  return new ReadableStream(
    {
      pull(c) {
        if (sent >= total) return c.close()
        const n = Math.min(NET_CHUNK, total - sent)
        const chunk = new Uint8Array(n)
        for (let i = 0; i < n; i += 4) {
          x ^= x << 13
          x ^= x >>> 17
          x ^= x << 5
          chunk[i] = x
          chunk[i + 1] = x >>> 8
        }
        onChunk(chunk)
        sent += n
        c.enqueue(chunk)
      },
    },
    { highWaterMark: 0 },
  )
}

it('streams 256 MiB through encrypt → decrypt within a small RSS growth', async () => {
  const opts = options({ objectId: 'memory', partNumber: 0 }, createNodeAead())
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const base = process.memoryUsage().rss
  let peak = base
  const sample = () => (peak = Math.max(peak, process.memoryUsage().rss))
  const timer = setInterval(sample, 20)
  try {
    const sent = createHash('sha256')
    let chunks = 0
    let opened = 0
    const plain = decryptRange(
      (s, e) => {
        opened++
        expect([s, e]).toEqual([0, cipherLength(TOTAL)])
        return encryptStream(
          generated(TOTAL, (c) => {
            sent.update(c)
            if (++chunks % 256 === 0) sample()
          }),
          opts,
        )
      },
      TOTAL,
      0,
      TOTAL,
      opts,
    )
    const got = createHash('sha256')
    let n = 0
    for await (const c of plain as unknown as AsyncIterable<Uint8Array>) {
      got.update(c)
      n += c.length
    }
    sample()
    expect(opened).toBe(1)
    expect(n).toBe(TOTAL)
    expect(got.digest('hex')).toBe(sent.digest('hex'))
    const growth = peak - base
    // Throughput is measured in bench/crypto.ts (package encrypt/decrypt).
    expect(growth, `peak RSS growth ${(growth / MiB).toFixed(1)} MiB`).toBeLessThan(RSS_BUDGET)
  } finally {
    clearInterval(timer)
  }
})
