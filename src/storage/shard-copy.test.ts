import { writeFile } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { makeRig, pseudoRandom, type Rig } from './erasure-storage.testkit.ts'
import type { ErasureLayout } from './object-storage.ts'
import { shardName } from './shard-format.ts'
import { withShardOn } from './shard-copy.ts'

const MiB = 1024 * 1024

async function readAll(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer())
}

describe('copyShard', () => {
  let rig: Rig
  afterEach(async () => rig?.destroy())

  async function stored(size: number): Promise<{ layout: ErasureLayout; data: Uint8Array; spare: string }> {
    rig = await makeRig({ n: 7 })
    const data = pseudoRandom(size, 7)
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(data.slice())
        c.close()
      },
    })
    const { layout } = await rig.storage.write('copy-test', body)
    const l = layout as ErasureLayout
    const spare = rig.stores.map((s) => s.id).find((id) => !l.stores.includes(id))!
    return { layout: l, data, spare }
  }

  it('copies a healthy shard as it is, and the moved layout reads back the same bytes', async () => {
    const { layout, data, spare } = await stored(3 * MiB + 5)
    const copy = await rig.storage.copyShard(layout, 2, spare)
    expect(copy.how).toBe('copied')
    const moved = withShardOn(layout, 2, spare)
    // The old copy gone (what GC does after the switch): the moved layout alone must serve the read.
    await rig.storage.removeShard(layout.id, 2, layout.stores[2]!)
    expect(await readAll(rig.storage.read(moved, 0, data.length))).toEqual(data)
    expect((await rig.storage.verifyShards(moved)).every((c) => c.state === 'ok')).toBe(true)
  })

  it('rebuilds the shard on the target when its source is missing', async () => {
    const { layout, data, spare } = await stored(2 * MiB)
    await rig.storage.removeShard(layout.id, 0, layout.stores[0]!)
    const copy = await rig.storage.copyShard(layout, 0, spare)
    expect(copy.how).toBe('rebuilt')
    const moved = withShardOn(layout, 0, spare)
    expect((await rig.storage.verifyShards(moved)).every((c) => c.state === 'ok')).toBe(true)
    expect(await readAll(rig.storage.read(moved, 0, data.length))).toEqual(data)
  })

  it("a rebuild writes the target alone: another missing shard is the healer's, left as it is", async () => {
    const { layout, spare } = await stored(2 * MiB)
    await rig.storage.removeShard(layout.id, 0, layout.stores[0]!)
    await rig.storage.removeShard(layout.id, 3, layout.stores[3]!)
    const copy = await rig.storage.copyShard(layout, 0, spare)
    expect(copy.how).toBe('rebuilt')
    const checks = await rig.storage.verifyShards(withShardOn(layout, 0, spare))
    expect(checks[0]).toMatchObject({ store: spare, state: 'ok' })
    expect(checks[3]).toMatchObject({ store: layout.stores[3], state: 'missing' })
  })

  it('never spreads a rotten source: the copy is rebuilt from the other shards', async () => {
    const { layout, spare } = await stored(2 * MiB)
    const path = rig.shardPath(layout.stores[1]!, shardName(layout.id, 1))
    const { readFile } = await import('node:fs/promises')
    const bytes = await readFile(path)
    bytes[200] = bytes[200]! ^ 0xff
    await writeFile(path, bytes)
    const copy = await rig.storage.copyShard(layout, 1, spare)
    expect(copy.how).toBe('rebuilt')
    const checks = await rig.storage.verifyShards(withShardOn(layout, 1, spare))
    expect(checks[1]).toMatchObject({ store: spare, state: 'ok' })
  })

  it('refuses a target that already holds a shard of the write', async () => {
    const { layout } = await stored(MiB)
    await expect(rig.storage.copyShard(layout, 0, layout.stores[1]!)).rejects.toThrow(/already has a shard/)
  })
})
