import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as meta from '../meta/index.ts'
import type { DataLayout } from '../storage/index.ts'
import { pseudoRandom } from '../storage/erasure-storage.testkit.ts'
import { createBucket } from './buckets.ts'
import { deleteObjects } from './delete-object.ts'
import { collectGarbage, collectOrphansPass, GC_PARALLEL, GC_RETRY_MIN_MS } from './gc.ts'
import { scrubInline, scrubRound } from './heal.ts'
import { parseStoredData } from './stored-data.ts'
import { crashMetaAfter, type GcRig, openGcRig, put, unreferencedInline, unreferencedShards } from './gc.testkit.ts'
import { abortUpload, createUpload, uploadPart } from './multipart.ts'
import { completeUpload } from './multipart-complete.ts'
import { streamFromBytes } from '../util/streams.ts'
import { listShards, makeRig } from '../storage/erasure-storage.testkit.ts'
import type { ShardStore } from '../storage/shard-store.ts'
import { startBackground } from './background.ts'
import { openTestService } from './gateways.testkit.ts'
import { actorFor } from './identities.ts'
import { closeService } from './open.ts'
import { putObject } from './put-object.ts'

let g: GcRig | undefined
afterEach(async () => {
  await g?.close()
  g = undefined
})

const HOUR = 3_600_000

/** The libSQL client under drizzle, for the SQL a test uses to damage or count rows directly. */
const rawClient = (svc: GcRig['svc']) =>
  (
    svc.db as unknown as {
      $client: { execute(q: { sql: string; args: unknown[] }): Promise<{ rows: unknown[] }> }
    }
  ).$client

/** A layout of the shape storage writes; only GC's bookkeeping sees it here. */
const fakeLayout = (i: number): DataLayout => ({
  v: 1,
  scheme: 'rs',
  id: `dead-${i}`,
  size: 1,
  k: 4,
  m: 2,
  blockSize: 1024,
  checksum: 1,
  stores: ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'],
})

describe('garbage collection keeps up', () => {
  it('2,000 due dead layouts are all collected within two passes, removed with bounded parallelism', async () => {
    g = await openGcRig()
    const svc = g.svc
    const removed = new Set<string>()
    let inFlight = 0
    let widest = 0
    svc.storage = {
      ...svc.storage,
      async remove(layout) {
        inFlight++
        widest = Math.max(widest, inFlight)
        await new Promise((r) => setTimeout(r, 0))
        removed.add(layout.id)
        inFlight--
      },
    }
    const layouts = Array.from({ length: 2_000 }, (_, i) => fakeLayout(i))
    // Half as single layouts (parts), half inside object layouts (what a row delete queues).
    await meta.enqueueGc(svc.db, layouts.slice(0, 1_000), 'part-replaced', new Date(0))
    await meta.enqueueGc(
      svc.db,
      layouts.slice(1_000).map((layout) => ({ v: 1, segments: [{ size: 1, layout }] })),
      'deleted',
      new Date(0),
    )
    let passes = 0
    for (; passes < 2 && removed.size < layouts.length; passes++) await collectGarbage(svc, Date.now(), 0)
    expect(removed.size).toBe(2_000)
    expect(passes).toBe(1)
    expect(await meta.gcBacklog(svc.db)).toEqual({ queued: 0, due: 0 })
    expect(widest).toBeGreaterThan(1)
    expect(widest).toBeLessThanOrEqual(GC_PARALLEL)
  })

  it('a pass is bounded: it stops at its batch limit and says more is due', async () => {
    g = await openGcRig()
    const svc = g.svc
    svc.storage = { ...svc.storage, remove: async () => {} }
    await meta.enqueueGc(
      svc.db,
      Array.from({ length: 250 }, (_, i) => fakeLayout(i)),
      'overwritten',
      new Date(0),
    )
    const first = await collectGarbage(svc, Date.now(), 0, { batch: 100, maxBatches: 2 })
    expect(first).toEqual({ removed: 200, failed: 0, more: true })
    const second = await collectGarbage(svc, Date.now(), 0, { batch: 100, maxBatches: 2 })
    expect(second).toEqual({ removed: 50, failed: 0, more: false })
  })

  it('entries inside their grace period wait', async () => {
    g = await openGcRig()
    const svc = g.svc
    svc.storage = { ...svc.storage, remove: async () => {} }
    await meta.enqueueGc(svc.db, [fakeLayout(1)], 'overwritten', new Date())
    expect((await collectGarbage(svc, Date.now(), HOUR)).removed).toBe(0)
    expect((await collectGarbage(svc, Date.now() + 2 * HOUR, HOUR)).removed).toBe(1)
  })
})

describe('a removal that failed is retried soon', () => {
  it('a store that failed one DELETE and is back: its shard goes GC_RETRY_MIN_MS later, not a lease later', async () => {
    // Store d0 answers its next DELETE with an error (a node timing out, or marked down), then works.
    let failNext = false
    g = await openGcRig({
      wrap: (inner, i) => {
        if (i !== 0) return inner
        const store: ShardStore = Object.create(inner) as ShardStore
        ;(store as { delete: ShardStore['delete'] }).delete = async (name) => {
          if (failNext) {
            failNext = false
            throw new Error('d0 did not answer in time')
          }
          return inner.delete(name)
        }
        return store
      },
    })
    const svc = g.svc
    await createBucket(svc, g.actor, 'b', 'us-east-1')
    await put(g, 'b', 'k', pseudoRandom(50_000, 11))
    await deleteObjects(svc, g.actor, 'b', [{ key: 'k' }])
    const t = Date.now() // grace 0 below: the entry is due at once
    failNext = true
    expect(await collectGarbage(svc, t, 0)).toEqual({ removed: 0, failed: 1, more: false })
    const left = await listShards(g.rig.stores)
    expect(left).toHaveLength(1) // the shard on d0; the other stores' went
    expect(left[0]).toMatch(/^d0\//)
    // Not before the retry delay (the entry is still leased)…
    expect((await collectGarbage(svc, t + GC_RETRY_MIN_MS - 1, 0)).removed).toBe(0)
    // …and at it, not GC_LEASE_MS (5 min) later.
    expect(await collectGarbage(svc, t + GC_RETRY_MIN_MS, 0)).toEqual({ removed: 1, failed: 0, more: false })
    expect(await listShards(g.rig.stores)).toEqual([])
    expect((await meta.gcBacklog(svc.db)).queued).toBe(0)
  })

  it('an entry that keeps failing is tried less and less often, at most a lease apart', async () => {
    g = await openGcRig()
    const svc = g.svc
    let tries = 0
    svc.storage = {
      ...svc.storage,
      remove: async () => {
        tries++
        throw new Error('a store is down')
      },
    }
    const t0 = Date.now()
    await meta.enqueueGc(svc.db, [fakeLayout(1)], 'overwritten', new Date(t0))
    // A collector every second for an hour (grace 0): the times the entry was tried.
    const at: number[] = []
    for (let t = t0; t <= t0 + HOUR; t += 1_000) {
      const before = tries
      await collectGarbage(svc, t, 0)
      if (tries > before) at.push(t - t0)
    }
    const waits = at.slice(1).map((a, i) => a - at[i]!)
    expect(waits[0]).toBe(GC_RETRY_MIN_MS)
    for (let i = 1; i < waits.length; i++) expect(waits[i]).toBeGreaterThanOrEqual(waits[i - 1]!)
    expect(waits.at(-1)).toBe(meta.GC_LEASE_MS)
    // Retried about as often as a lease-long wait alone would (12 times an hour), plus the early tries.
    expect(at.length).toBeLessThan(30)
  })
})

// A killed process runs no statement after the kill. Every operation that drops a row's data is
// cut after each of its metadata calls in turn; then GC (past grace) and orphan collection run,
// and no shard may be left that no row references.
describe('no shard leaks whatever metadata call a crash cuts', () => {
  const small = (seed: number) => pseudoRandom(3_000 + seed, seed)

  /**
   * Runs `op` with the metadata dying after n calls, for every n until op completes uncut.
   * `inlineMax` > 0: the small objects are inline, and their bytes must not leak either.
   */
  async function everyCrashPoint(
    setup: (g: GcRig) => Promise<void>,
    op: (g: GcRig) => Promise<unknown>,
    inlineMax = 0,
  ) {
    const leaks: string[] = []
    let points = 0
    for (let n = 0; n < 40; n++) {
      const rig = await openGcRig({ inlineMax })
      g = rig
      try {
        await createBucket(rig.svc, rig.actor, 'b', 'us-east-1')
        await setup(rig)
        const restore = crashMetaAfter(rig.svc, n)
        let cut = false
        try {
          await op(rig)
        } catch {
          cut = true
        } finally {
          restore()
        }
        // The process restarts: everything past grace is collected.
        for (let i = 0; i < 5 && (await collectGarbage(rig.svc, Date.now() + HOUR, 0)).more; i++);
        await collectOrphansPass(rig.svc, -HOUR)
        const left = await unreferencedShards(rig)
        if (left.length > 0) leaks.push(`crash after ${n} metadata calls: ${left.length} unreferenced write(s)`)
        const bytes = await unreferencedInline(rig)
        if (bytes.length > 0) leaks.push(`crash after ${n} metadata calls: ${bytes.length} unreferenced inline row(s)`)
        points++
        if (!cut) break // the op ran to its end: every crash point before it was tried
      } finally {
        await rig.close()
        g = undefined
      }
    }
    expect(leaks).toEqual([])
    expect(points).toBeGreaterThan(1)
  }
  it('DeleteObjects', async () => {
    await everyCrashPoint(
      async (r) => {
        for (const k of ['a', 'b', 'c']) await put(r, 'b', k, small(k.charCodeAt(0)))
      },
      async (r) => {
        const out = await deleteObjects(r.svc, r.actor, 'b', [{ key: 'a' }, { key: 'b' }, { key: 'c' }])
        if (out.some((o) => o.error)) throw new Error('a key failed')
      },
    )
  })

  it('overwrite (PutObject onto an existing key)', async () => {
    await everyCrashPoint(
      (r) => put(r, 'b', 'k', small(1)),
      (r) => put(r, 'b', 'k', small(2)),
    )
  })

  it('DeleteObjects and overwrite of inline objects: no bytes left in the metadata', async () => {
    await everyCrashPoint(
      async (r) => {
        for (const k of ['a', 'b']) await put(r, 'b', k, small(k.charCodeAt(0)))
      },
      async (r) => {
        await put(r, 'b', 'a', small(7))
        const out = await deleteObjects(r.svc, r.actor, 'b', [{ key: 'a' }, { key: 'b' }])
        if (out.some((o) => o.error)) throw new Error('a key failed')
      },
      64 * 1024,
    )
  })

  it('CompleteMultipartUpload replacing an object and leaving a part out', async () => {
    let uploadId = ''
    await everyCrashPoint(
      async (r) => {
        await put(r, 'b', 'k', small(1))
        uploadId = (await createUpload(r.svc, r.actor, { bucket: 'b', key: 'k', headers: {}, userMeta: {} })).uploadId
        for (const partNumber of [1, 2]) {
          const bytes = small(10 + partNumber)
          await uploadPart(r.svc, r.actor, {
            bucket: 'b',
            key: 'k',
            uploadId,
            partNumber,
            body: streamFromBytes(bytes),
            digests: () => ({ etag: `"p${partNumber}"` }),
            length: bytes.length,
          })
        }
      },
      (r) =>
        completeUpload(r.svc, r.actor, {
          bucket: 'b',
          key: 'k',
          uploadId,
          parts: [{ partNumber: 2, etag: '"p2"', checksums: {} }],
          conditions: {},
        }),
    )
  })

  it('AbortMultipartUpload and a re-uploaded part', async () => {
    let uploadId = ''
    const part = (r: GcRig, seed: number) => {
      const bytes = small(seed)
      return uploadPart(r.svc, r.actor, {
        bucket: 'b',
        key: 'k',
        uploadId,
        partNumber: 1,
        body: streamFromBytes(bytes),
        digests: () => ({ etag: `"p${seed}"` }),
        length: bytes.length,
      })
    }
    await everyCrashPoint(
      async (r) => {
        uploadId = (await createUpload(r.svc, r.actor, { bucket: 'b', key: 'k', headers: {}, userMeta: {} })).uploadId
        await part(r, 1)
      },
      async (r) => {
        await part(r, 2)
        await abortUpload(r.svc, r.actor, { bucket: 'b', key: 'k', uploadId })
      },
    )
  })
})

describe('inline objects and GC', () => {
  const inlineRows = async (svc: GcRig['svc']) =>
    (await rawClient(svc).execute({ sql: 'select id from inline_data', args: [] })).rows.length

  it('an overwritten or deleted inline object keeps its bytes for the grace period, then GC drops them with the entry', async () => {
    g = await openGcRig({ inlineMax: 64 * 1024 })
    const svc = g.svc
    await createBucket(svc, g.actor, 'inl', 'us-east-1')
    await put(g, 'inl', 'k', pseudoRandom(4096, 1))
    await put(g, 'inl', 'k', pseudoRandom(4096, 2)) // the first version's bytes are now garbage
    await put(g, 'inl', 'gone', pseudoRandom(100, 3))
    await deleteObjects(svc, g.actor, 'inl', [{ key: 'gone' }])
    expect(await inlineRows(svc)).toBe(3) // nothing removed before the grace ends: readers may hold the rows
    expect((await meta.gcBacklog(svc.db)).queued).toBe(2)
    expect((await collectGarbage(svc, Date.now(), HOUR)).removed).toBe(0)
    expect((await collectGarbage(svc, Date.now() + 2 * HOUR, HOUR)).removed).toBe(2)
    expect(await inlineRows(svc)).toBe(1)
    expect((await meta.gcBacklog(svc.db)).queued).toBe(0)
    expect(await listShards(g.rig.stores)).toEqual([]) // inline objects never touched a drive
  })
})

describe('inline objects and the scrubber', () => {
  it('finds inline bytes that fail their checksum and reports them (nothing to heal from)', async () => {
    g = await openGcRig({ inlineMax: 64 * 1024 })
    const svc = g.svc
    const logged: string[] = []
    svc.logger = { log: (level, msg) => logged.push(`${level} ${msg}`) }
    await createBucket(svc, g.actor, 'scr', 'us-east-1')
    await put(g, 'scr', 'ok', pseudoRandom(1000, 1))
    await put(g, 'scr', 'bad', pseudoRandom(1000, 2))
    const client = rawClient(svc)
    await client.execute({
      sql: `update inline_data set data = zeroblob(1000) where id = (select json_extract(layout, '$.segments[0].inline.id')
            from objects where bucket = 'scr' and "key" = 'bad')`,
      args: [],
    })
    await scrubRound(svc, {}, 100, 1 << 20)
    expect(svc.stats.corruptShardsFound).toBe(1)
    expect(logged.filter((l) => l.startsWith('error scrub'))).toHaveLength(1)
  })
})

describe('inline objects and the scrubber, racing writes', () => {
  it('bytes gone because the version was overwritten and collected after the scrub read its row: no alarm', async () => {
    g = await openGcRig({ inlineMax: 64 * 1024 })
    const svc = g.svc
    const logged: string[] = []
    svc.logger = { log: (level, msg) => logged.push(`${level} ${msg}`) }
    await createBucket(svc, g.actor, 'race', 'us-east-1')
    await put(g, 'race', 'k', pseudoRandom(1000, 1))
    // The row as the scrubber's page read it…
    const [row] = await meta.objectLayoutsAfter(svc.db, undefined, 10)
    const stale = parseStoredData(row!.layout, 'race/k').segments[0]!.inline!
    // …then an overwrite, and GC of the old bytes once their grace ended, before it reads the bytes.
    await put(g, 'race', 'k', pseudoRandom(1000, 2))
    expect((await collectGarbage(svc, Date.now() + 2 * HOUR, HOUR)).removed).toBe(1)
    await scrubInline(svc, row!, stale, 'object race/k')
    expect(svc.stats.corruptShardsFound).toBe(0)
    expect(logged.filter((l) => l.startsWith('error'))).toEqual([])
    // The same missing bytes while the row still names them are damage, and said so.
    const [now] = await meta.objectLayoutsAfter(svc.db, undefined, 10)
    const current = parseStoredData(now!.layout, 'race/k').segments[0]!.inline!
    const client = rawClient(svc)
    await client.execute({ sql: 'delete from inline_data where id = ?', args: [current.id] })
    await scrubInline(svc, now!, current, 'object race/k')
    expect(svc.stats.corruptShardsFound).toBe(1)
    expect(logged.filter((l) => l.startsWith('error scrub'))).toHaveLength(1)
  })
})

describe('a gateway stopping with a GC pass in flight', () => {
  it('lets the pass finish before the metadata closes: nothing it took stays leased, no shard stays', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'coffer-gc-stop-'))
    const url = `file:${join(dir, 'meta.db')}`
    // Each shard DELETE takes 200 ms; once the process has exited (closeService returned), a
    // DELETE not yet sent never reaches the store.
    let exited = false
    let removing = () => {}
    const removalStarted = new Promise<void>((resolve) => (removing = resolve))
    const rig = await makeRig({
      wrap: (inner) => {
        const store: ShardStore = Object.create(inner) as ShardStore
        ;(store as { delete: ShardStore['delete'] }).delete = async (name) => {
          removing()
          await new Promise((resolve) => setTimeout(resolve, 200))
          if (exited) throw new Error('the process has exited')
          return inner.delete(name)
        }
        return store
      },
    })
    let svc = await openTestService(url, rig.stores, { inlineMax: 0, gcGraceMs: 20 })
    try {
      const actor = await actorFor(svc, 'AKROOT')
      await createBucket(svc, actor, 'b', 'us-east-1')
      await putObject(svc, actor, {
        bucket: 'b',
        key: 'k',
        body: streamFromBytes(pseudoRandom(100_000, 9), 4096),
        digests: () => ({ etag: '"k"' }),
        headers: {},
        userMeta: {},
        length: 100_000,
      })
      await deleteObjects(svc, actor, 'b', [{ key: 'k' }])
      startBackground(svc)
      await removalStarted
      await closeService(svc) // SIGTERM: the gateway closes, then exits
      exited = true
      // The next start, a minute later: past GC's grace, within the lease of an entry taken.
      svc = await openTestService(url, rig.stores, { inlineMax: 0 })
      exited = false
      await collectGarbage(svc, Date.now() + 60_000, 0)
      expect(await listShards(rig.stores)).toEqual([])
      expect((await meta.gcBacklog(svc.db)).queued).toBe(0)
    } finally {
      await closeService(svc)
      await rig.destroy()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
