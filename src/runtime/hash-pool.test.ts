import { createHash, randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { CHECKSUM_ALGORITHMS, createChecksum } from '../util/checksums.ts'
import type { AsyncDigest, OffloadAlgorithm } from '../util/platform.ts'
import { createHashPool, type HashPool } from './hash-pool.ts'
import { createPlatform } from './platform.ts'

const ALL: OffloadAlgorithm[] = ['md5', ...CHECKSUM_ALGORITHMS]
const FAULTY = new URL('./hash-worker-faulty.testkit.mjs', import.meta.url)

/** The request-thread digests the worker must reproduce, for either flavour of CRC32. */
function syncDigests(algorithms: OffloadAlgorithm[], chunks: Uint8Array[], nativeCrc32 = true): Uint8Array[] {
  const platform = createPlatform({ nativeCrc32 })
  return algorithms.map((a) => {
    const h = a === 'md5' ? platform.createHasher('md5') : createChecksum(a, platform)
    for (const c of chunks) h.update(c)
    return h.digest()
  })
}

/** Random chunk sizes, including empty chunks and sizes that straddle batch boundaries. */
function randomChunks(total: number, seed: number): Uint8Array[] {
  const data = randomBytes(total)
  const out: Uint8Array[] = []
  let s = seed
  for (let off = 0; off < total; ) {
    s = (s * 1103515245 + 12345) >>> 0
    const n = s % 7 === 0 ? 0 : 1 + (s % 9_973)
    out.push(new Uint8Array(data.buffer, data.byteOffset + off, Math.min(n, total - off)))
    off += n
  }
  return out
}

async function feed(job: AsyncDigest, chunks: Uint8Array[]): Promise<{ digests: Uint8Array[]; waits: number }> {
  let waits = 0
  for (const c of chunks) {
    const wait = job.update(c)
    if (wait) {
      waits++
      await wait
    }
  }
  return { digests: await job.digest(), waits }
}

const hex = (ds: Uint8Array[]) => ds.map((d) => Buffer.from(d).toString('hex'))

let pools: HashPool[] = []
const pool = (o: Parameters<typeof createHashPool>[0]) => {
  const p = createHashPool(o)
  pools.push(p)
  return p
}
afterEach(async () => {
  await Promise.all(pools.map((p) => p.close()))
  pools = []
})

describe('hash pool digests equal the request-thread digests', () => {
  it('every algorithm, over random chunked bodies (small batches: many messages and waits)', async () => {
    const p = pool({ size: 1, batchBytes: 4096, maxInFlightBytes: 3 * 4096 })
    for (const [i, total] of [0, 1, 4095, 4096, 4097, 200_003].entries()) {
      const chunks = randomChunks(total, i + 1)
      const { digests, waits } = await feed(p.digest(ALL)!, chunks)
      expect(hex(digests), `${total} bytes`).toEqual(hex(syncDigests(ALL, chunks)))
      if (total > 4 * 4096) expect(waits).toBeGreaterThan(0)
    }
  })

  it('CRC32 matches the JS CRC32 too (runtimes without zlib.crc32)', async () => {
    const chunks = randomChunks(100_000, 9)
    const { digests } = await feed(pool({ size: 1 }).digest(['CRC32'])!, chunks)
    expect(hex(digests)).toEqual(hex(syncDigests(['CRC32'], chunks, false)))
  })

  it('the default batch sizes, a 5 MiB body in 1 MiB chunks, md5 alone', async () => {
    const body = randomBytes(5 * 1024 * 1024)
    const mib = Array.from({ length: 5 }, (_, i) => body.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024))
    const { digests } = await feed(pool({ size: 1 }).digest(['md5'])!, mib)
    expect(hex(digests)).toEqual([createHash('md5').update(body).digest('hex')])
  })

  it('concurrent jobs spread over two workers, each hashed in order', async () => {
    const p = pool({ size: 2, batchBytes: 8192, maxInFlightBytes: 16_384 })
    const bodies = Array.from({ length: 6 }, (_, i) => randomChunks(50_000 + i * 1_111, 40 + i))
    const jobs = bodies.map(() => p.digest(['md5', 'SHA256'])!)
    // Interleave the updates of all jobs, as concurrent requests do.
    const results = await Promise.all(jobs.map((job, i) => feed(job, bodies[i]!)))
    for (const [i, r] of results.entries())
      expect(hex(r.digests)).toEqual(hex(syncDigests(['md5', 'SHA256'], bodies[i]!)))
  })

  it('a chunk is copied at update(): changing it afterwards does not change the digest', async () => {
    const chunk = randomBytes(10_000)
    const expected = createHash('md5').update(chunk).digest('hex')
    const job = pool({ size: 1 }).digest(['md5'])!
    void job.update(chunk)
    chunk.fill(0)
    expect(hex(await job.digest())).toEqual([expected])
  })
})

describe('hash pool failures reject, never hang', () => {
  it('a worker that throws fails its job; the next job gets a fresh worker', async () => {
    const p = pool({ size: 1, workerUrl: FAULTY, replyTimeoutMs: 10_000 })
    const job = p.digest(['crash' as OffloadAlgorithm])!
    void job.update(new Uint8Array(10))
    await expect(job.digest()).rejects.toThrow(/hash worker exited.*injected worker crash/)
    // The replacement worker is the faulty script too: 'exit' mode shows a new thread took the job.
    const next = p.digest(['exit' as OffloadAlgorithm])!
    await expect(next.digest()).rejects.toThrow(/hash worker exited \(code 3\)/)
  })

  it('a worker that stops answering fails the job after replyTimeoutMs (back-pressure and digest waits)', async () => {
    const p = pool({ size: 1, workerUrl: FAULTY, replyTimeoutMs: 300, batchBytes: 1024, maxInFlightBytes: 2048 })
    const job = p.digest(['hang' as OffloadAlgorithm])!
    const wait = job.update(new Uint8Array(4096))
    expect(wait).toBeInstanceOf(Promise)
    const t0 = performance.now()
    await expect(wait).rejects.toThrow(/did not answer within 300 ms/)
    expect(performance.now() - t0).toBeLessThan(5_000)
    const job2 = p.digest(['hang' as OffloadAlgorithm])!
    await expect(job2.digest()).rejects.toThrow(/did not answer within 300 ms/)
  })

  it('close() rejects open jobs and refuses new ones', async () => {
    const p = pool({ size: 1 })
    const job = p.digest(['md5'])!
    void job.update(new Uint8Array(1000))
    // Either the worker answered before it was terminated, or the job failed: never a hang.
    const settled = job.digest().then(
      (d) => d.length,
      (e: Error) => e.message,
    )
    await p.close()
    expect(String(await settled)).toMatch(/^1$|hash pool closed/)
    expect(p.digest(['md5'])).toBeUndefined()
  })

  it('an aborted job frees its slot; its late buffers are ignored', async () => {
    const p = pool({ size: 1, batchBytes: 1024 })
    const job = p.digest(['md5'])!
    void job.update(new Uint8Array(5000))
    job.abort()
    job.abort()
    const after = p.digest(['md5'])!
    void after.update(new Uint8Array([1, 2, 3]))
    expect(hex(await after.digest())).toEqual([
      createHash('md5')
        .update(new Uint8Array([1, 2, 3]))
        .digest('hex'),
    ])
  })

  it('aborting during a back-pressure wait ends the wait; its timer cannot later kill the worker', async () => {
    const p = pool({ size: 1, replyTimeoutMs: 300, batchBytes: 1024, maxInFlightBytes: 2048 })
    const other = p.digest(['md5'])!
    void other.update(new Uint8Array([7]))
    const job = p.digest(['md5'])!
    const wait = job.update(new Uint8Array(64 * 1024))
    expect(wait).toBeInstanceOf(Promise)
    job.abort()
    await expect(wait).rejects.toThrow(/aborted/)
    await new Promise((r) => setTimeout(r, 500))
    // Had the aborted wait's timer fired, it would have terminated the worker and failed `other`.
    expect(hex(await other.digest())).toEqual([
      createHash('md5')
        .update(new Uint8Array([7]))
        .digest('hex'),
    ])
  })

  it('size 0 takes no jobs; a bad size or bound is refused', () => {
    expect(createHashPool({ size: 0 }).digest(['md5'])).toBeUndefined()
    expect(() => createHashPool({ size: -1 })).toThrow(RangeError)
    for (const bad of [Number.NaN, 0, -1, Number.POSITIVE_INFINITY]) {
      expect(() => createHashPool({ size: 0, maxInFlightBytes: bad })).toThrow(/maxInFlightBytes/)
      expect(() => createHashPool({ size: 0, batchBytes: bad })).toThrow(/batchBytes/)
      expect(() => createHashPool({ size: 0, replyTimeoutMs: bad })).toThrow(/replyTimeoutMs/)
    }
  })
})
