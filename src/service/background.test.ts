import { readFile, rm, writeFile } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import * as meta from '../meta/index.ts'
import { createNodeAead } from '../runtime/aead-node.ts'
import { createPlatform } from '../runtime/platform.ts'
import { makeRig, pseudoRandom, type Rig, testCodec } from '../storage/erasure-storage.testkit.ts'
import type { ErasureLayout } from '../storage/index.ts'
import { headerLength, shardName } from '../storage/shard-format.ts'
import { streamFromBytes } from '../util/streams.ts'
import {
  actorFor,
  closeService,
  createBucket,
  ensureRootUser,
  health,
  type MasterKeyFile,
  maintain,
  openService,
  putObject,
  type Service,
} from './index.ts'
import { layoutsOf, parseStoredData } from './stored-data.ts'
import { testMasterKeyFile } from './master-key.testkit.ts'

// `coffer admin heal run` (maintain) must finish all the work it finds in one pass: a second
// pass finds nothing. Damage only a full read shows (bitrot, a shard file holding another shard)
// and queue entries another attempt left leased were left for later passes.

const masterFile = (): MasterKeyFile => testMasterKeyFile()
const ROOT = { accessKeyId: 'AKROOT', secretAccessKey: 'secret' }
const BLOCK = 4096
const SIZE = 6 * 4 * BLOCK + 99 // seven stripes

let rig: Rig | undefined
let service: Service | undefined
afterEach(async () => {
  if (service) await closeService(service)
  await rig?.destroy()
  service = undefined
  rig = undefined
})

async function open(): Promise<Service> {
  rig = await makeRig({ blockSize: BLOCK })
  service = await openService({
    metaUrl: ':memory:',
    stores: rig.stores,
    ec: { k: 4, m: 2 },
    blockSize: BLOCK,
    codec: testCodec(),
    platform: createPlatform(),
    masterKey: masterFile(),
    aead: createNodeAead(),
    metaSpace: async () => undefined,
    tuning: { inlineMax: 0 }, // every object on shards: this pass heals and scrubs shards
  })
  await ensureRootUser(service, ROOT)
  await createBucket(service, await actorFor(service, ROOT.accessKeyId), 'b', 'us-east-1')
  return service
}

/** Stores an object and returns its one layout. */
async function put(svc: Service, key: string, seed: number): Promise<ErasureLayout> {
  await putObject(svc, await actorFor(svc, ROOT.accessKeyId), {
    bucket: 'b',
    key,
    body: streamFromBytes(pseudoRandom(SIZE, seed), 65_536),
    digests: () => ({ etag: '"x"' }),
    length: SIZE,
    headers: {},
    userMeta: {},
  })
  const rows = await meta.objectLayoutsAfter(svc.db, undefined, 1000)
  const row = rows.find((r) => r.key === key)!
  return layoutsOf(parseStoredData(row.layout, key))[0] as ErasureLayout
}

const path = (l: ErasureLayout, i: number) => rig!.shardPath(l.stores[i]!, shardName(l.id, i))
const files = (l: ErasureLayout) => Promise.all(l.stores.map((_, i) => readFile(path(l, i))))

describe('one full maintenance pass (coffer admin heal run)', () => {
  it('finishes all the work it finds: a second pass finds nothing', async () => {
    const svc = await open()
    const deleted = await put(svc, 'deleted', 1)
    const rotten = await put(svc, 'rotten', 2)
    const swappedA = await put(svc, 'swapped-a', 3)
    const swappedB = await put(svc, 'swapped-b', 4)
    const leased = await put(svc, 'leased', 5)
    const layouts = [deleted, rotten, swappedA, swappedB, leased]
    const before = await Promise.all(layouts.map(files))

    await rm(path(deleted, 2))
    // Bitrot in two shards: a stat sees nothing, only reading the blocks does.
    for (const i of [0, 5]) {
      const f = await readFile(path(rotten, i))
      f[headerLength(rotten.id) + 100 + i]! ^= 0x10
      await writeFile(path(rotten, i), f)
    }
    // Shard 3 of each holds the other's: right length, valid header and block checksums.
    await writeFile(path(swappedA, 3), before[3]![3]!)
    await writeFile(path(swappedB, 3), before[2]![3]!)
    // A shard lost, queued, and taken by a heal attempt that left it leased (a store was down).
    await rm(path(leased, 1))
    await meta.enqueueHeal(svc.db, [leased], 'degraded-read')
    expect(await meta.takeHeal(svc.db, 10, 3_600_000)).toHaveLength(1)

    await maintain(svc)
    const after = await Promise.all(layouts.map(files))
    for (const [o, l] of layouts.entries()) {
      for (let i = 0; i < 6; i++) expect(after[o]![i]!.equals(before[o]![i]!), `${l.id} shard ${i}`).toBe(true)
    }
    const first = await health(svc)
    expect(first.healBacklog).toBe(0)
    expect(first.stats.shardsRebuilt).toBe(1 + 2 + 2 + 1)

    await maintain(svc)
    const second = await health(svc)
    expect(second.healBacklog).toBe(0)
    const found = (h: typeof first) => {
      const { shardsRebuilt, corruptShardsFound, missingShardsFound, healFailures } = h.stats
      return { shardsRebuilt, corruptShardsFound, missingShardsFound, healFailures }
    }
    expect(found(second)).toEqual(found(first))
  })
})
