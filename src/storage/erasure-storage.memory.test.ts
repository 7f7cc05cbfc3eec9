import { createHash } from 'node:crypto'
import { afterEach, expect, it } from 'vitest'
import { makeRig, type Rig } from './erasure-storage.testkit.ts'

// Streams 512 MiB through write and read without holding it: RSS must stay within a few stripes
// (plus runtime noise), whatever the object size.
const MiB = 1024 * 1024
const TOTAL = 512 * MiB
const NET_CHUNK = 64 * 1024 // what the network hands us
const RSS_BUDGET = 100 * MiB

let rig: Rig | undefined
afterEach(async () => {
  await rig?.destroy()
})

/** Pseudo-random chunks made on demand (xorshift32), shown to `onChunk` as produced. */
function generated(total: number, onChunk: (c: Uint8Array) => void): ReadableStream<Uint8Array> {
  let sent = 0
  let x = 0x2545f491
  return new ReadableStream({
    pull(c) {
      if (sent >= total) return c.close()
      const n = Math.min(NET_CHUNK, total - sent)
      const words = new Uint32Array(n / 4)
      for (let i = 0; i < words.length; i++) {
        x ^= x << 13
        x ^= x >>> 17
        x ^= x << 5
        words[i] = x
      }
      const chunk = new Uint8Array(words.buffer)
      onChunk(chunk)
      sent += n
      c.enqueue(chunk)
    },
  })
}

it('writes and reads 512 MiB (4+2, 256 KiB blocks) within ~100 MiB of RSS growth', async () => {
  rig = await makeRig({ blockSize: undefined })
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const base = process.memoryUsage().rss
  let peak = base
  const sample = () => (peak = Math.max(peak, process.memoryUsage().rss))
  const timer = setInterval(sample, 20)
  try {
    const written = createHash('sha256')
    let chunks = 0
    const { layout, size } = await rig.storage.write(
      'mem-512m',
      generated(TOTAL, (c) => {
        written.update(c)
        if (++chunks % 64 === 0) sample()
      }),
    )
    expect(size).toBe(TOTAL)

    const read = createHash('sha256')
    let got = 0
    const reader = rig.storage.read(layout, 0, TOTAL).getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      read.update(value)
      got += value.length
      if (got % (16 * MiB) < value.length) sample()
    }
    expect(got).toBe(TOTAL)
    expect(read.digest('hex')).toBe(written.digest('hex'))
    const growth = peak - base
    // Throughput is measured in bench/storage.ts.
    expect(growth, `peak RSS growth ${(growth / MiB).toFixed(1)} MiB`).toBeLessThan(RSS_BUDGET)
  } finally {
    clearInterval(timer)
  }
})
