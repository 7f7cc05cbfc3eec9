import { readFile } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { readAll, streamFromBytes } from '../util/streams.ts'
import { makeRig, listShards, pseudoRandom, sha256, hashStream, type Rig } from './erasure-storage.testkit.ts'
import type { ErasureLayout } from './object-storage.ts'
import { rank } from './placement.ts'
import { headerLength, parseShardHeader, parseTrailer, shardFileLength, shardName } from './shard-format.ts'

const rigs: Rig[] = []
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.destroy()
})
async function rig(opts: Parameters<typeof makeRig>[0] = {}): Promise<Rig> {
  const r = await makeRig(opts)
  rigs.push(r)
  return r
}

const BLOCK = 4096 // small blocks keep many-stripe cases fast; the 20 MiB case uses the default
const STRIPE = 4 * BLOCK

describe('ErasureStorage round trips', () => {
  for (const size of [0, 1, BLOCK - 1, BLOCK, STRIPE + 1, 3 * STRIPE, 3 * STRIPE - 7]) {
    it(`${size} bytes: writes k+m shards on the placed stores and reads them back`, async () => {
      const r = await rig({ blockSize: BLOCK })
      const body = pseudoRandom(size, size + 1)
      const id = `obj-${size}`
      const { layout, size: written, degraded } = await r.storage.write(id, streamFromBytes(body, 1000))
      expect(written).toBe(size)
      expect(degraded).toBeUndefined()
      const l = layout as ErasureLayout
      expect(l).toEqual({
        v: 1,
        scheme: 'rs',
        id,
        size,
        k: 4,
        m: 2,
        blockSize: BLOCK,
        checksum: 2,
        stores: rank(
          id,
          r.stores.map((s) => s.id),
        ),
      })
      expect(await listShards(r.stores)).toEqual(l.stores.map((s, i) => `${s}/${shardName(id, i)}`).sort())
      // Each shard file has the computed length, a header naming it and a trailer with the size.
      const expectedLength = shardFileLength(l, { headerLength: headerLength(id), checksumSize: 4 })
      for (let i = 0; i < 6; i++) {
        const file = new Uint8Array(await readFile(r.shardPath(l.stores[i]!, shardName(id, i))))
        expect(file.length).toBe(expectedLength)
        const header = file.subarray(0, headerLength(id))
        expect(parseShardHeader(header)).toMatchObject({ id, index: i, k: 4, m: 2, blockSize: BLOCK })
        expect(parseTrailer(header, file.subarray(file.length - 16))).toBe(size)
      }
      const stored = JSON.parse(JSON.stringify(layout)) as ErasureLayout // layouts live in metadata as JSON
      const got = await readAll(r.storage.read(stored, 0, size), size)
      expect(sha256(got)).toBe(sha256(body))
      // Data shards are the payload itself (systematic): shard 0's first block is the first bytes.
      if (size >= STRIPE) {
        const shard0 = new Uint8Array(await readFile(r.shardPath(l.stores[0]!, shardName(id, 0))))
        expect(shard0.subarray(headerLength(id), headerLength(id) + BLOCK)).toEqual(body.subarray(0, BLOCK))
      }
    })
  }

  it('20 MiB with the default 256 KiB blocks, fed in odd-sized chunks', async () => {
    const r = await rig({ blockSize: undefined })
    const body = pseudoRandom(20 * 1024 * 1024, 7)
    const { layout } = await r.storage.write('big-20m', streamFromBytes(body, 65_537))
    const got = await hashStream(r.storage.read(layout, 0, body.length))
    expect(got).toEqual({ sha256: sha256(body), length: body.length })
  })

  it('serves every class of range', async () => {
    const r = await rig({ blockSize: BLOCK })
    const size = 3 * STRIPE + 2 * BLOCK + 123 // the last stripe is partial
    const body = pseudoRandom(size, 42)
    const { layout } = await r.storage.write('ranges', streamFromBytes(body, 7777))
    const cases: [string, number, number][] = [
      ['empty', 100, 100],
      ['within a block', 10, 20],
      ['one whole block', BLOCK, 2 * BLOCK],
      ['across blocks', BLOCK - 5, BLOCK + 5],
      ['across stripes', STRIPE - 100, STRIPE + 100],
      ['many stripes', 17, 2 * STRIPE + 3000],
      ['the last partial stripe', 3 * STRIPE + 1, size],
      ['last byte', size - 1, size],
      ['everything', 0, size],
    ]
    for (const [what, start, end] of cases) {
      const got = await readAll(r.storage.read(layout, start, end), size)
      expect(Buffer.from(got).equals(Buffer.from(body.subarray(start, end))), what).toBe(true)
    }
    expect(() => r.storage.read(layout, 0, size + 1)).toThrow(RangeError)
  })

  it('remove deletes every shard, and tolerates missing ones', async () => {
    const r = await rig({ blockSize: BLOCK })
    const { layout } = await r.storage.write('to-remove', streamFromBytes(pseudoRandom(STRIPE * 2)))
    const l = layout as ErasureLayout
    await r.stores.find((s) => s.id === l.stores[1])!.delete(shardName(l.id, 1))
    await r.storage.remove(layout)
    expect(await listShards(r.stores)).toEqual([])
    await r.storage.remove(layout) // again: nothing left, still fine
  })

  it('rejects bad ids and bad options with clear messages', async () => {
    const r = await rig({ blockSize: BLOCK })
    await expect(r.storage.write('../x', streamFromBytes(new Uint8Array(1)))).rejects.toThrow(/invalid write id/)
    await expect(makeRig({ n: 5 })).rejects.toThrow(/needs 6 drives or nodes/)
    expect(() => r.storage.read({ v: 1, scheme: 'plain', store: 'd0', shard: 'x', size: 1 } as never, 0, 1)).toThrow(
      /not an erasure-coded layout/,
    )
  })
})

describe('ErasureStorage placement over a cluster layout', () => {
  // 9 stores in 3 zones, 2+1: every write's 3 shards on 3 zones, on the stores the layout names.
  const zoneOf = (id: string) => `z${Number(id.slice(1)) % 3}`

  it('writes each shard of a write to a different zone, and reconfigure moves new writes only', async () => {
    const r = await rig({ n: 9, k: 2, m: 1, blockSize: BLOCK })
    r.storage.reconfigure(
      r.stores,
      r.stores.map((s) => ({ id: s.id, capacity: 1, zone: zoneOf(s.id) })),
    )
    const layouts: ErasureLayout[] = []
    for (let i = 0; i < 40; i++) {
      const { layout } = await r.storage.write(`zoned-${i}`, streamFromBytes(pseudoRandom(3 * BLOCK, i), 4096))
      expect(new Set(layout.stores.map(zoneOf)).size, layout.id).toBe(3)
      expect(
        await Promise.all(layout.stores.map((s, j) => r.stores.find((x) => x.id === s)!.stat(shardName(layout.id, j)))),
      ).not.toContain(undefined)
      layouts.push(layout)
    }
    // d0 drained (no longer a candidate): new writes avoid it, old ones still read from it.
    r.storage.reconfigure(
      r.stores,
      r.stores.filter((s) => s.id !== 'd0').map((s) => ({ id: s.id, capacity: 1, zone: zoneOf(s.id) })),
    )
    for (let i = 0; i < 20; i++) expect(r.storage.placement(`after-${i}`)).not.toContain('d0')
    for (const [i, l] of layouts.entries())
      expect(sha256(await readAll(r.storage.read(l, 0, l.size), l.size))).toBe(sha256(pseudoRandom(3 * BLOCK, i)))
  })
})
