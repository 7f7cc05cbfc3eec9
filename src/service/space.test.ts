import { afterEach, describe, expect, it } from 'vitest'
import { createNodeAead } from '../runtime/aead-node.ts'
import { createPlatform } from '../runtime/platform.ts'
import { listShards, makeRig, pseudoRandom, type Rig, testCodec } from '../storage/erasure-storage.testkit.ts'
import { type ShardStore, type SpaceReport, StoreFull } from '../storage/shard-store.ts'
import { streamFromBytes } from '../util/streams.ts'
import {
  actorFor,
  closeService,
  createBucket,
  deleteObject,
  ensureRootUser,
  health,
  isServiceError,
  type MasterKeyFile,
  openService,
  putObject,
  type Service,
  statObject,
} from './index.ts'
import { markSpaceStale } from './space.ts'
import { testMasterKeyFile } from './master-key.testkit.ts'

// Writes are admitted against each filesystem's free space before a byte is stored; full
// filesystems are left out of placement; ENOSPC in a shard is that write's store failure.

const masterFile = (): MasterKeyFile => testMasterKeyFile()
const ROOT = { accessKeyId: 'AKROOT', secretAccessKey: 'secret' }
const MiB = 1024 * 1024
const MIN_FREE = 4 * MiB

/** Free bytes per store id as the test sets them, and per store the filesystem it claims. */
interface Fake {
  free: Map<string, number>
  fs: (id: string) => string
  /** Stores whose shard writes fail with ENOSPC. */
  enospc: Set<string>
  meta?: SpaceReport
}

let rig: Rig | undefined
let service: Service | undefined
afterEach(async () => {
  if (service) await closeService(service)
  await rig?.destroy()
  service = undefined
  rig = undefined
})

/** `inlineMax` 0 by default: these cases are about shards; the inline case sets it. */
async function open(n: number, fake: Fake, inlineMax = 0): Promise<Service> {
  const wrap = (s: ShardStore): ShardStore => ({
    ...s,
    async put(name, body) {
      if (!fake.enospc.has(s.id)) return s.put(name, body)
      await body.cancel().catch(() => {})
      throw new StoreFull(s.id, `drive ${s.id} is full (ENOSPC) while storing shard ${name}`)
    },
    space: async () => ({ free: fake.free.get(s.id) ?? 1e12, total: 1e12, fs: fake.fs(s.id) }),
  })
  rig = await makeRig({ n, wrap })
  service = await openService({
    metaUrl: ':memory:',
    stores: rig.stores,
    ec: { k: 4, m: 2 },
    codec: testCodec(),
    platform: createPlatform(),
    masterKey: masterFile(),
    aead: createNodeAead(),
    minFreeBytes: MIN_FREE,
    metaSpace: async () => fake.meta,
    tuning: { inlineMax },
  })
  await ensureRootUser(service, ROOT)
  const actor = await actorFor(service, ROOT.accessKeyId)
  await createBucket(service, actor, 'b', 'us-east-1')
  return service
}

async function put(svc: Service, key: string, size: number) {
  const actor = await actorFor(svc, ROOT.accessKeyId)
  const body = pseudoRandom(size, size)
  return putObject(svc, actor, {
    bucket: 'b',
    key,
    body: streamFromBytes(body, 65_536),
    digests: () => ({ etag: '"x"' }),
    length: size,
    headers: {},
    userMeta: {},
  })
}

async function refused(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  if (!isServiceError(e)) throw new Error(`expected a refusal, got ${String(e)}`)
  expect(e.code).toBe('InsufficientStorage')
  return e.message
}

const exists = async (svc: Service, key: string) =>
  statObject(svc, await actorFor(svc, ROOT.accessKeyId), { bucket: 'b', key }).then(
    () => true,
    () => false,
  )

describe('disk space admission', () => {
  it('refuses a write that would take a shared filesystem under --min-free, before storing anything', async () => {
    // Six drives on one filesystem (as under one data directory): a 2 MiB PUT takes ~3 MiB there.
    const fake: Fake = { free: new Map(), fs: () => 'dev:1', enospc: new Set() }
    for (let i = 0; i < 6; i++) fake.free.set(`d${i}`, MIN_FREE + 2 * MiB)
    const svc = await open(6, fake)
    const message = await refused(put(svc, 'big', 2 * MiB))
    expect(message).toMatch(/drives d0, d1, d2, d3, d4, d5 full|Not enough free space/)
    expect(await exists(svc, 'big')).toBe(false)
    expect(await listShards(rig!.stores)).toEqual([])
    // A write that fits goes through: 512 KiB takes ~770 KiB of the 2 MiB of room.
    await put(svc, 'small', 512 * 1024)
    expect(await exists(svc, 'small')).toBe(true)
    // Deleting needs no room: the metadata keeps --min-free for itself.
    for (const id of fake.free.keys()) fake.free.set(id, MIN_FREE - 1)
    markSpaceStale(svc)
    await refused(put(svc, 'tiny', 10))
    const h = await health(svc)
    expect(h.status).toBe('full')
    expect(h.problems.join('\n')).toMatch(/drives d0, d1, d2, d3, d4, d5 full: 4\.0 MiB free/)
    await deleteObject(svc, await actorFor(svc, ROOT.accessKeyId), 'b', 'small')
    expect(await exists(svc, 'small')).toBe(false)
    // Space returns: writes resume by themselves once the figures are taken again.
    for (const id of fake.free.keys()) fake.free.set(id, 64 * MiB)
    markSpaceStale(svc)
    await put(svc, 'again', 100_000)
    expect((await health(svc)).status).toBe('ok')
  })

  it('health forgets a refusal once the room the refused write needed is back, not a minute later', async () => {
    // Six drives on one filesystem with 8 MiB of room: two 2 MiB writes (~3 MiB each there) fit,
    // a third is refused on figures taken before the first two (they count as written since).
    const fake: Fake = { free: new Map(), fs: () => 'dev:1', enospc: new Set() }
    const setFree = (bytes: number) => {
      for (let i = 0; i < 6; i++) fake.free.set(`d${i}`, bytes)
    }
    setFree(MIN_FREE + 8 * MiB)
    const svc = await open(6, fake)
    await put(svc, 'a', 2 * MiB)
    await put(svc, 'b', 2 * MiB)
    setFree(MIN_FREE + 2 * MiB) // what the drives hold now
    await refused(put(svc, 'c', 2 * MiB))
    // Fresh figures, still short of what the refused write needed: health says full.
    markSpaceStale(svc)
    expect((await health(svc)).status).toBe('full')
    // Deletes bring the room back (as much as the refusal's own stale figures showed): health is
    // ok at once, and the refused write now goes through.
    const actor = await actorFor(svc, ROOT.accessKeyId)
    await deleteObject(svc, actor, 'b', 'a')
    await deleteObject(svc, actor, 'b', 'b')
    setFree(MIN_FREE + 8 * MiB)
    markSpaceStale(svc)
    expect((await health(svc)).status).toBe('ok')
    await put(svc, 'c', 2 * MiB)
    expect(await exists(svc, 'c')).toBe(true)
  })

  it('counts writes in flight: two that fit alone but not together are not both admitted', async () => {
    const fake: Fake = { free: new Map(), fs: () => 'dev:1', enospc: new Set() }
    for (let i = 0; i < 6; i++) fake.free.set(`d${i}`, MIN_FREE + 4 * MiB)
    const svc = await open(6, fake)
    // Each 2 MiB write needs ~3 MiB of the 4 MiB: one of the two concurrent ones must be refused.
    const results = await Promise.allSettled([put(svc, 'a', 2 * MiB), put(svc, 'b', 2 * MiB)])
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
  })

  it('leaves a full store out of placement while k+m others have room, and refuses when they do not', async () => {
    // Eight stores, each its own filesystem (nodes); d3 is under --min-free.
    const fake: Fake = { free: new Map([['d3', MIN_FREE - 1]]), fs: (id) => `node-${id}`, enospc: new Set() }
    const svc = await open(8, fake)
    for (let i = 0; i < 8; i++) await put(svc, `k${i}`, 100_000)
    const shards = await listShards(rig!.stores)
    expect(shards.length).toBe(8 * 6)
    expect(shards.some((s) => s.startsWith('d3/'))).toBe(false)
    // A third full store leaves five: fewer than k+m.
    fake.free.set('d5', 0)
    fake.free.set('d6', 0)
    markSpaceStale(svc)
    await refused(put(svc, 'x', 10))
    expect((await health(svc)).problems.join('\n')).toMatch(/drive d5 full/)
  })

  it('refuses data writes when the metadata filesystem is under its minimum, even if drives have room', async () => {
    const fake: Fake = {
      free: new Map(),
      fs: () => 'dev:2',
      enospc: new Set(),
      meta: { free: MiB, total: 1e9, fs: 'dev:9' },
    }
    const svc = await open(6, fake)
    expect(await refused(put(svc, 'x', 10))).toMatch(/the metadata full/)
  })

  it('admits inline objects against the metadata filesystem alone: drives full or not', async () => {
    // Every drive under its minimum, the metadata (another filesystem) with 1 MiB of room.
    const fake: Fake = {
      free: new Map(Array.from({ length: 6 }, (_, i) => [`d${i}`, 0] as const)),
      fs: () => 'dev:2',
      enospc: new Set(),
      meta: { free: MIN_FREE + MiB, total: 1e9, fs: 'dev:9' },
    }
    const svc = await open(6, fake, 64 * 1024)
    await put(svc, 'small', 4096) // inline: no drive involved
    expect(await exists(svc, 'small')).toBe(true)
    expect(await listShards(rig!.stores)).toEqual([])
    await refused(put(svc, 'big', 64 * 1024 + 1)) // shards: the drives are full
    // The metadata under its minimum: inline objects are refused too, naming it.
    fake.meta = { free: MIN_FREE + 1000, total: 1e9, fs: 'dev:9' }
    markSpaceStale(svc)
    expect(await refused(put(svc, 'small2', 4096))).toMatch(/the metadata full/)
    expect(await exists(svc, 'small2')).toBe(false)
  })

  it('treats ENOSPC in shard writes as those stores failing: InsufficientStorage, nothing visible', async () => {
    const fake: Fake = { free: new Map(), fs: (id) => `node-${id}`, enospc: new Set(['d0', 'd1', 'd2']) }
    const svc = await open(6, fake)
    expect(await refused(put(svc, 'x', 300_000))).toMatch(/full: d\d, d\d, d\d/)
    expect(await exists(svc, 'x')).toBe(false)
    expect(await listShards(rig!.stores)).toEqual([])
    // One full store only: the write meets its quorum degraded and is queued for healing.
    fake.enospc = new Set(['d4'])
    await put(svc, 'y', 300_000)
    expect(await exists(svc, 'y')).toBe(true)
    expect((await health(svc)).healBacklog).toBe(1)
  })
})
