/**
 * bin/coffer.mjs runs the sources as one esbuild bundle (bin/bundle.mjs, the default) instead of
 * through tsx's loader (COFFER_LOADER=tsx), whose thread and isolate stay for the life of a Node 20
 * process. An idle gateway that has served a few requests then stays under IDLE_BUDGET, which the
 * same gateway through tsx (≈ 155–170 MiB) exceeds (docs/architecture.md §8, "The idle
 * baseline"). The bundle keeps each source's own import.meta.url, so the hash worker, the
 * migrations, the codecs' wasm and package.json are found where they are in src/.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { gatewayBundle } from '../../bin/bundle.mjs'
import { s3Client } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

const MiB = 1024 * 1024
/** Through the bundle 110–125 MiB measured, through tsx 155–170: between, with margin both ways. */
const IDLE_BUDGET = 140 * MiB

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024
const threadsOf = (pid: number) => Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1])

/** A few requests through every part an idle gateway has loaded: buckets, small and hashed bodies. */
async function exercise(server: TestServer): Promise<void> {
  const s3 = s3Client(server)
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'idle' }))
    const big = Buffer.alloc(3 * MiB, 7) // large enough for the hash worker and erasure coding
    for (let i = 0; i < 5; i++) {
      await s3.send(new PutObjectCommand({ Bucket: 'idle', Key: `k${i}`, Body: i === 0 ? big : Buffer.alloc(4096, i) }))
      const o = await s3.send(new GetObjectCommand({ Bucket: 'idle', Key: `k${i}` }))
      const got = Buffer.from(await o.Body!.transformToByteArray())
      expect(got.equals(i === 0 ? big : Buffer.alloc(4096, i))).toBe(true)
    }
  } finally {
    s3.destroy()
  }
}

describe('the gateway runs a bundle of the sources', () => {
  it('is built once per set of sources, with every import.meta.url resolved to its own source', async () => {
    const urls = await gatewayBundle()
    expect(await gatewayBundle()).toEqual(urls)
    const dir = dirname(fileURLToPath(urls.cli))
    const text = readdirSync(dir)
      .filter((f) => f.endsWith('.mjs'))
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .join('\n')
    expect(text).not.toMatch(/import\.meta/)
    expect(text).toContain(JSON.stringify(new URL('../../src/runtime/hash-pool.ts', import.meta.url).href))
  })

  it('an idle gateway that has served requests stays under the budget; through tsx it does not', async () => {
    const measured: Record<string, { rss: number; threads: number }> = {}
    for (const loader of ['bundle', 'tsx'] as const) {
      const server = await startServer({ env: loader === 'tsx' ? { COFFER_LOADER: 'tsx' } : {} })
      try {
        await exercise(server)
        await new Promise((r) => setTimeout(r, 500))
        measured[loader] = { rss: rssOf(server.pid), threads: threadsOf(server.pid) }
        expect(server.stderr()).not.toContain('running the sources through tsx')
      } finally {
        await server.stop()
      }
    }
    const { bundle, tsx } = measured as Record<'bundle' | 'tsx', { rss: number; threads: number }>
    const why = `RSS bundle ${(bundle.rss / MiB).toFixed(0)} MiB, tsx ${(tsx.rss / MiB).toFixed(0)} MiB`
    expect(bundle.rss, why).toBeLessThan(IDLE_BUDGET)
    // tsx's loader is a thread of its own on Node 20 (on Node 24 its hooks run in the main thread).
    expect(tsx.threads - bundle.threads, why).toBe(1)
  })
})
