import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { type Aead, createWebCryptoAead } from '../crypto/aead.ts'
import { decryptRange } from '../crypto/decrypt-stream.ts'
import { encryptStream } from '../crypto/encrypt-stream.ts'
import { cipherLength } from '../crypto/package-format.ts'
import { createNodeAead } from './aead-node.ts'

// Informational throughput (printed, never asserted): which AEAD the hot path should use, and
// what the package format costs over raw AES-256-GCM on the same machine in the same run.
const KiB = 1024
const MiB = 1024 * KiB
const VOLUME = 64 * MiB // per measurement: enough to be stable, small enough for CI

const mbps = (bytes: number, ms: number) => `${(bytes / 1e6 / (ms / 1000)).toFixed(0).padStart(5)} MB/s`

async function timeIt(fn: () => Promise<void> | void): Promise<number> {
  await fn() // warm-up
  const t = performance.now()
  await fn()
  return performance.now() - t
}

async function sealOpen(aead: Aead, size: number): Promise<{ seal: number; open: number }> {
  const key = await aead.importKey(randomBytes(32))
  const buf = new Uint8Array(randomBytes(size))
  const nonce = new Uint8Array(12)
  const aad = new Uint8Array(24)
  const n = VOLUME / size
  let sealed: Uint8Array = new Uint8Array(0)
  const seal = await timeIt(async () => {
    for (let i = 0; i < n; i++) sealed = await aead.seal(key, nonce, aad, buf)
  })
  const open = await timeIt(async () => {
    for (let i = 0; i < n; i++) await aead.open(key, nonce, aad, sealed)
  })
  expect(await aead.open(key, nonce, aad, sealed)).toEqual(buf)
  return { seal: VOLUME / (seal / 1000) / 1e6, open: VOLUME / (open / 1000) / 1e6 }
}

/** Raw AES-256-GCM over 1 MiB buffers, no package format: the baseline. */
async function rawGcm(): Promise<{ seal: number; open: number }> {
  const key = randomBytes(32)
  const iv = randomBytes(12)
  const buf = randomBytes(MiB)
  let ct: Buffer = Buffer.alloc(0)
  let tag: Buffer = Buffer.alloc(0)
  const seal = await timeIt(() => {
    for (let i = 0; i < VOLUME / MiB; i++) {
      const c = createCipheriv('aes-256-gcm', key, iv)
      ct = c.update(buf)
      c.final()
      tag = c.getAuthTag()
    }
  })
  const open = await timeIt(() => {
    for (let i = 0; i < VOLUME / MiB; i++) {
      const d = createDecipheriv('aes-256-gcm', key, iv)
      d.setAuthTag(tag)
      d.update(ct)
      d.final()
    }
  })
  return { seal: VOLUME / (seal / 1000) / 1e6, open: VOLUME / (open / 1000) / 1e6 }
}

function source(total: number, chunk: number): ReadableStream<Uint8Array> {
  const block = new Uint8Array(randomBytes(chunk))
  let sent = 0
  return new ReadableStream(
    {
      pull(c) {
        if (sent >= total) return c.close()
        const n = Math.min(chunk, total - sent)
        sent += n
        c.enqueue(block.subarray(0, n))
      },
    },
    { highWaterMark: 0 },
  )
}

async function drainCount(s: ReadableStream<Uint8Array>): Promise<number> {
  let n = 0
  for await (const c of s as unknown as AsyncIterable<Uint8Array>) n += c.length
  return n
}

/** 1 MiB views of `bytes[s, e)`, like a storage range read. */
function slices(bytes: Uint8Array, s: number, e: number): ReadableStream<Uint8Array> {
  let o = s
  return new ReadableStream(
    {
      pull(c) {
        if (o >= e) return c.close()
        const n = Math.min(MiB, e - o)
        c.enqueue(bytes.subarray(o, o + n))
        o += n
      },
    },
    { highWaterMark: 0 },
  )
}

/** encryptStream and decryptRange over 1 MiB chunks (each timed after a warm-up run). */
async function streams(aead: Aead): Promise<{ seal: number; open: number }> {
  const opts = {
    key: new Uint8Array(randomBytes(32)),
    prefix: new Uint8Array(8),
    objectId: 'bench',
    partNumber: 0,
    aead,
  }
  const seal = await timeIt(async () => void (await drainCount(encryptStream(source(VOLUME, MiB), opts))))
  const parts: Uint8Array[] = []
  for await (const c of encryptStream(source(VOLUME, MiB), opts) as unknown as AsyncIterable<Uint8Array>) parts.push(c)
  const cipher = new Uint8Array(Buffer.concat(parts))
  expect(cipher.length).toBe(cipherLength(VOLUME))
  let got = 0
  const open = await timeIt(
    async () => void (got = await drainCount(decryptRange((s, e) => slices(cipher, s, e), VOLUME, 0, VOLUME, opts))),
  )
  expect(got).toBe(VOLUME)
  return { seal: VOLUME / (seal / 1000) / 1e6, open: VOLUME / (open / 1000) / 1e6 }
}

describe('AEAD throughput (informational)', () => {
  it('node:crypto vs WebCrypto, per package and per 1 MiB buffer, beside raw AES-256-GCM and the package streams', async () => {
    const node = createNodeAead()
    const web = createWebCryptoAead()
    const rows: [string, { seal: number; open: number }][] = [
      ['raw AES-256-GCM node:crypto, 1 MiB buffers', await rawGcm()],
      ['Aead node,      64 KiB packages', await sealOpen(node, 64 * KiB)],
      ['Aead webcrypto, 64 KiB packages', await sealOpen(web, 64 * KiB)],
      ['Aead node,      1 MiB buffers', await sealOpen(node, MiB)],
      ['Aead webcrypto, 1 MiB buffers', await sealOpen(web, MiB)],
      ['encryptStream/decryptRange, node Aead', await streams(node)],
      ['encryptStream/decryptRange, webcrypto Aead', await streams(web)],
      ['raw AES-256-GCM node:crypto, 1 MiB (again)', await rawGcm()], // first-vs-last shows the noise
    ]
    const f = (x: number) => mbps(x * 1e6, 1000)
    console.log(
      '[info] AES-256-GCM throughput (encrypt / decrypt), 64 MiB each:\n' +
        rows.map(([name, r]) => `  ${name.padEnd(46)} ${f(r.seal)} / ${f(r.open)}`).join('\n'),
    )
    for (const [, r] of rows) expect(r.seal).toBeGreaterThan(0)
  })
})
