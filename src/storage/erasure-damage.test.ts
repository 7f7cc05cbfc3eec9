/**
 * Damage a checksum alone cannot see, and damage spread over more shards than there is parity:
 * shard files holding another valid shard (of another object, or another index of the same one)
 * must be treated as missing, never served; one bad block in each of three shards (4+2), in
 * different stripes, must read and heal, since every stripe still has k good blocks.
 */
import { readFile, stat, writeFile } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { readAll, streamFromBytes } from '../util/streams.ts'
import { CHECKSUM_CRC32, CHECKSUM_CRC32_BOUND } from './block-checksum.ts'
import { QuorumError } from './erasure-storage.ts'
import { makeRig, pseudoRandom, sha256, type Rig } from './erasure-storage.testkit.ts'
import type { DataLayout, ErasureLayout } from './object-storage.ts'
import { blockOffset, headerLength, parseShardHeader, shardName } from './shard-format.ts'

const rigs: Rig[] = []
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.destroy()
})

const BLOCK = 4096
const STRIPE = 4 * BLOCK
const SIZE = 5 * STRIPE + 3 * BLOCK + 11 // six stripes, the last one partial

type Version = typeof CHECKSUM_CRC32 | typeof CHECKSUM_CRC32_BOUND

async function rig(blockChecksum: Version, onDegraded?: (l: ErasureLayout, bad: number[]) => void): Promise<Rig> {
  const r = await makeRig({ blockSize: BLOCK, blockChecksum, ...(onDegraded ? { onDegraded } : {}) })
  rigs.push(r)
  return r
}

const path = (r: Rig, l: ErasureLayout, i: number) => r.shardPath(l.stores[i]!, shardName(l.id, i))

/** Every shard file of a layout, in index order. */
const shardFiles = (r: Rig, l: ErasureLayout) => Promise.all(l.stores.map((_, i) => readFile(path(r, l, i))))

/** Puts the contents of each `[from, to]` pair's `from` file into `to`'s path (valid shards, wrong place). */
async function swap(pairs: [string, string][]): Promise<void> {
  const bytes = await Promise.all(pairs.map(([from]) => readFile(from)))
  await Promise.all(pairs.map(([, to], i) => writeFile(to, bytes[i]!)))
}

async function readsBack(r: Rig, layout: DataLayout, body: Uint8Array): Promise<void> {
  expect(sha256(await readAll(r.storage.read(layout, 0, SIZE), SIZE))).toBe(sha256(body))
  // A range that starts mid-object (cursors open past the header) and crosses a stripe boundary.
  const [a, b] = [2 * STRIPE + 100, 4 * STRIPE + 5]
  const got = await readAll(r.storage.read(layout, a, b), SIZE)
  expect(Buffer.from(got).equals(Buffer.from(body.subarray(a, b)))).toBe(true)
}

/** Heals and checks the shards came back byte-identical, then that a second heal has nothing to do. */
async function healsExactly(r: Rig, l: ErasureLayout, before: Buffer[], bad: number[]): Promise<void> {
  const healed = await r.storage.heal(l)
  expect(healed.checks.filter((c) => c.state !== 'ok').map((c) => c.index)).toEqual(bad)
  expect(healed.rebuilt).toEqual(bad)
  expect(healed.pending).toEqual([])
  const after = await shardFiles(r, l)
  for (let i = 0; i < after.length; i++) expect(after[i]!.equals(before[i]!), `shard ${i} as written`).toBe(true)
  expect(await r.storage.heal(l)).toMatchObject({ rebuilt: [], pending: [] })
}

for (const [version, blockChecksum] of [
  ['v2 (bound block checksums)', CHECKSUM_CRC32_BOUND],
  ['v1 (older shards: the header is compared)', CHECKSUM_CRC32],
] as const) {
  describe(`shard files holding another shard, format ${version}`, () => {
    it('swapped between two objects: each reads its own bytes from parity; heal puts them back', async () => {
      const reports: number[][] = []
      const r = await rig(blockChecksum, (_l, bad) => reports.push(bad))
      const bodyA = pseudoRandom(SIZE, 21)
      const bodyB = pseudoRandom(SIZE, 22)
      const a = (await r.storage.write('obj-a', streamFromBytes(bodyA))).layout as ErasureLayout
      const b = (await r.storage.write('obj-b', streamFromBytes(bodyB))).layout as ErasureLayout
      expect(a.checksum).toBe(blockChecksum)
      const [beforeA, beforeB] = [await shardFiles(r, a), await shardFiles(r, b)]
      // Shard 1 (data) and 4 (parity) of each hold the other object's shard of the same index:
      // same length, valid header, every block checksum right for the bytes it follows.
      await swap([
        [path(r, a, 1), path(r, b, 1)],
        [path(r, b, 1), path(r, a, 1)],
        [path(r, a, 4), path(r, b, 4)],
        [path(r, b, 4), path(r, a, 4)],
      ])
      await readsBack(r, a, bodyA)
      await readsBack(r, b, bodyB)
      expect(reports.at(-1)).toEqual([1, 4]) // parity 4 was the first replacement tried, and found wrong too
      const checks = await r.storage.verifyShards(a)
      expect(checks.filter((c) => c.state !== 'ok').map((c) => [c.index, c.state])).toEqual([
        [1, 'corrupt'],
        [4, 'corrupt'],
      ])
      await healsExactly(r, a, beforeA, [1, 4])
      await healsExactly(r, b, beforeB, [1, 4])
      expect(parseShardHeader((await readFile(path(r, a, 1))).subarray(0, headerLength('obj-a'))).version).toBe(
        blockChecksum === CHECKSUM_CRC32 ? 1 : 2,
      )
    })

    it('swapped between two indexes of one object: read from parity; heal puts them back', async () => {
      const r = await rig(blockChecksum)
      const body = pseudoRandom(SIZE, 23)
      const l = (await r.storage.write('obj-s', streamFromBytes(body))).layout as ErasureLayout
      const before = await shardFiles(r, l)
      await swap([
        [path(r, l, 0), path(r, l, 2)],
        [path(r, l, 2), path(r, l, 0)],
      ])
      await readsBack(r, l, body)
      await healsExactly(r, l, before, [0, 2])
    })

    it('three swapped shards (more than m): the read fails with QuorumError, never with wrong bytes', async () => {
      const r = await rig(blockChecksum)
      const bodyA = pseudoRandom(SIZE, 24)
      const a = (await r.storage.write('obj-a', streamFromBytes(bodyA))).layout as ErasureLayout
      const b = (await r.storage.write('obj-b', streamFromBytes(pseudoRandom(SIZE, 25)))).layout as ErasureLayout
      await swap([0, 1, 2].map((i) => [path(r, b, i), path(r, a, i)] as [string, string]))
      await expect(readAll(r.storage.read(a, 0, SIZE), SIZE)).rejects.toBeInstanceOf(QuorumError)
      await expect(r.storage.heal(a)).rejects.toBeInstanceOf(QuorumError)
    })
  })
}

/** Flips one byte inside stripe `s`'s block of shard `i` (never its checksum). */
async function flipBlock(r: Rig, l: ErasureLayout, i: number, s: number): Promise<void> {
  const file = await readFile(path(r, l, i))
  const at = blockOffset(l, { headerLength: headerLength(l.id), checksumSize: 4 }, s) + 17
  file[at]! ^= 0x40
  await writeFile(path(r, l, i), file)
}

describe('damage decided per stripe', () => {
  it('one bad block in each of three shards, in different stripes: reads and heals exactly those shards', async () => {
    const r = await rig(CHECKSUM_CRC32_BOUND)
    const body = pseudoRandom(SIZE, 31)
    const l = (await r.storage.write('obj-p', streamFromBytes(body))).layout as ErasureLayout
    const before = await shardFiles(r, l)
    // Data shard 0 in stripe 1, data shard 3 in stripe 2, parity shard 5 in stripe 4 — and
    // shard 0 again in the short last stripe: every stripe keeps at least 5 good blocks.
    await flipBlock(r, l, 0, 1)
    await flipBlock(r, l, 3, 2)
    await flipBlock(r, l, 5, 4)
    await flipBlock(r, l, 0, 5)
    await readsBack(r, l, body)
    const checks = await r.storage.verifyShards(l)
    expect(checks.filter((c) => c.state !== 'ok').map((c) => [c.index, c.state, c.detail])).toEqual([
      [0, 'corrupt', 'checksum mismatch at stripe 1, 5'],
      [3, 'corrupt', 'checksum mismatch at stripe 2'],
      [5, 'corrupt', 'checksum mismatch at stripe 4'],
    ])
    const untouched = [1, 2, 4].map((i) => path(r, l, i))
    const inodes = await Promise.all(untouched.map((p) => stat(p)))
    await healsExactly(r, l, before, [0, 3, 5])
    // Exactly the bad shards were rewritten: the others are the very same files.
    const now = await Promise.all(untouched.map((p) => stat(p)))
    expect(now.map((s) => s.ino)).toEqual(inodes.map((s) => s.ino))
  })

  it('verify: false hands a bad block on as it is and reports nothing; the default reads around it', async () => {
    // For a caller that authenticates the bytes itself (D@RE) and asks again with checks on a failure.
    const bad: number[][] = []
    const r = await rig(CHECKSUM_CRC32_BOUND, (_, b) => bad.push(b))
    const body = pseudoRandom(SIZE, 37)
    const l = (await r.storage.write('obj-v', streamFromBytes(body))).layout as ErasureLayout
    await flipBlock(r, l, 2, 1)
    const at = STRIPE + 2 * BLOCK + 17
    const unchecked = await readAll(r.storage.read(l, 0, SIZE, { verify: false }), SIZE)
    expect(unchecked[at]).toBe(body[at]! ^ 0x40)
    expect(Buffer.from(unchecked).equals(Buffer.from(body))).toBe(false)
    expect(bad).toEqual([])
    await readsBack(r, l, body)
    expect(bad[0]).toEqual([2])
  })

  it('three bad blocks in one stripe: that stripe is lost; heal refuses and writes nothing', async () => {
    const r = await rig(CHECKSUM_CRC32_BOUND)
    const body = pseudoRandom(SIZE, 32)
    const l = (await r.storage.write('obj-q', streamFromBytes(body))).layout as ErasureLayout
    for (const i of [0, 2, 4]) await flipBlock(r, l, i, 3)
    const damaged = await shardFiles(r, l)
    await expect(readAll(r.storage.read(l, 0, SIZE), SIZE)).rejects.toBeInstanceOf(QuorumError)
    // Stripes before it still read.
    const got = await readAll(r.storage.read(l, 0, 3 * STRIPE), SIZE)
    expect(Buffer.from(got).equals(Buffer.from(body.subarray(0, 3 * STRIPE)))).toBe(true)
    await expect(r.storage.heal(l)).rejects.toThrow(/stripe 3 has 3 good blocks of the 4 needed/)
    const after = await shardFiles(r, l)
    for (let i = 0; i < after.length; i++) expect(after[i]!.equals(damaged[i]!)).toBe(true)
    for (const d of r.disks) expect(await d.list('tmp')).toEqual([])
  })
})
