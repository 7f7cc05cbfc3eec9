/**
 * A 64 MiB shard PUT and GET through RemoteStore → HTTPS on 127.0.0.1 → an in-process storage node:
 * bytes verified by hash, memory bounded well below the shard size (nothing buffers it whole).
 */
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, expect, it } from 'vitest'
import { createRemoteStore } from '../storage/remote/client.ts'
import { silentLogger } from '../util/log.ts'
import { initCluster } from './cluster.ts'
import { createGatewayFetch } from './cluster-fetch.ts'
import { nodeAdapter } from './node.ts'
import { startStorageNode } from './storage-node.ts'

const MiB = 1024 * 1024
const TOTAL = 64 * MiB
const CHUNK = 256 * 1024 // what the stripe writer hands a shard sink
/**
 * Below TOTAL: buffering the shard whole on either side would exceed it. Typical live growth is
 * under 5 MiB; with the disk saturated by other work, transient peaks of ~27 MiB were seen during
 * the PUT (fsync stalls while the buffers of every hop are full), hence the margin.
 */
const MEMORY_BUDGET = 40 * MiB

// Lets the test trigger a full GC (runInNewContext('gc')) without a command-line flag.
setFlagsFromString('--expose-gc')

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

function generated(total: number, onChunk: (c: Uint8Array) => void): ReadableStream<Uint8Array> {
  let sent = 0
  let x = 0x9e3779b9
  return new ReadableStream(
    {
      pull(c) {
        if (sent >= total) return c.close()
        const n = Math.min(CHUNK, total - sent)
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
    },
    { highWaterMark: 0 },
  )
}

/** Memory that grows if bytes are held: external buffers plus the JS heap. */
const used = () => {
  const m = process.memoryUsage()
  return m.arrayBuffers + m.heapUsed
}

it('moves a 64 MiB shard both ways over loopback TLS with bounded memory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'coffer-node-mem-'))
  dirs.push(dir)
  const cluster = await initCluster(join(dir, 'cluster.json'))
  const quiet = { out: () => {}, err: () => {} }
  const node = await startStorageNode(
    { clusterFile: cluster.path, dataDir: join(dir, 'node'), port: 0, host: '127.0.0.1' },
    nodeAdapter(),
    quiet,
    { cluster, logger: silentLogger },
  )
  const fetch = await createGatewayFetch(cluster)
  try {
    const store = createRemoteStore({ url: node.endpoint, fetch, timeoutMs: 30_000 })

    /** PUT then GET of TOTAL bytes, hash-checked; `sample` runs per chunk on both sides of the trip. */
    const roundTrip = async (name: string, sample: () => void) => {
      const written = createHash('sha256')
      await store.put(
        name,
        generated(TOTAL, (c) => {
          written.update(c)
          sample()
        }),
      )
      expect(await store.stat(name)).toBe(TOTAL)
      const read = createHash('sha256')
      let got = 0
      for await (const c of store.get(name, 0, TOTAL) as unknown as AsyncIterable<Uint8Array>) {
        read.update(c)
        got += c.length
        sample()
      }
      expect(got).toBe(TOTAL)
      expect(read.digest('hex')).toBe(written.digest('hex'))
    }

    // Pass 1 warms TLS, JIT and pools. Pass 2 measures live memory: a full GC every few MiB, so
    // garbage not yet collected does not count, only what is really held. (Throughput:
    // bench/storage.ts.)
    await roundTrip('warm-up', () => {})
    const gc = runInNewContext('gc') as () => void
    let chunks = 0
    gc()
    const base = used()
    let peak = base
    await roundTrip('measured', () => {
      if (++chunks % 32 === 0) {
        gc()
        peak = Math.max(peak, used())
      }
    })
    const growth = peak - base
    expect(growth, `peak live heap+buffers growth ${(growth / MiB).toFixed(1)} MiB`).toBeLessThan(MEMORY_BUDGET)
  } finally {
    fetch.close()
    await node.stop()
  }
})
