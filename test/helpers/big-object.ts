/**
 * Large objects without large memory: a deterministic byte generator (a Node Readable the SDK
 * can stream) and the server's peak RSS read from /proc, for the memory-bound checks.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Readable } from 'node:stream'

const BLOCK = 1024 * 1024

/** `size` bytes: a 1 MiB random block, each copy stamped with its index so no two MiB are equal. */
export function patternStream(size: number, seed = 1): { stream: Readable; sha256: () => string } {
  const base = new Uint8Array(BLOCK)
  let x = seed >>> 0 || 1
  for (let i = 0; i < BLOCK; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    base[i] = x & 0xff
  }
  const hash = createHash('sha256')
  let sent = 0
  let index = 0
  const stream = new Readable({
    highWaterMark: BLOCK,
    read() {
      if (sent >= size) return this.push(null)
      const n = Math.min(BLOCK, size - sent)
      const chunk = Buffer.from(base.subarray(0, n))
      chunk.writeUInt32LE(index++ >>> 0, 0)
      hash.update(chunk)
      sent += n
      this.push(chunk)
    },
  })
  return { stream, sha256: () => hash.digest('hex') }
}

/** Hashes a response body stream without keeping it. */
export async function sha256Of(body: AsyncIterable<Uint8Array>): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of body) {
    hash.update(chunk)
    bytes += chunk.length
  }
  return { sha256: hash.digest('hex'), bytes }
}

/** Peak resident set size of a process so far (VmHWM), in bytes. Linux only. */
export function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = /VmHWM:\s+(\d+) kB/.exec(status)
  if (!m) throw new Error(`no VmHWM for ${pid}`)
  return Number(m[1]) * 1024
}
