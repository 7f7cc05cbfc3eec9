import { readFile, rm, writeFile } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { readAll, streamFromBytes } from '../util/streams.ts'
import { createErasureStorage, QuorumError } from './erasure-storage.ts'
import {
  downStore,
  hungReads,
  listShards,
  makeRig,
  pseudoRandom,
  sha256,
  testCodec,
  type Rig,
} from './erasure-storage.testkit.ts'
import type { ErasureLayout } from './object-storage.ts'
import { rank } from './placement.ts'
import { headerLength, shardName } from './shard-format.ts'
import type { ShardStore } from './shard-store.ts'

const rigs: Rig[] = []
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.destroy()
})
async function rig(opts: Parameters<typeof makeRig>[0] = {}): Promise<Rig> {
  const r = await makeRig({ blockSize: BLOCK, ...opts })
  rigs.push(r)
  return r
}

const BLOCK = 4096
const SIZE = 5 * 4 * BLOCK + 3 * BLOCK + 11 // six stripes, the last one partial
const ID = 'fault-obj'
/** Store ids in placement order for ID: index i holds shard i. */
const placed = rank(ID, ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'])
const byShard = (...shards: number[]) => new Set(shards.map((i) => Number(placed[i]!.slice(1))))

async function tempFiles(r: Rig): Promise<number> {
  let n = 0
  for (const d of r.disks) n += (await d.list('tmp')).length
  return n
}

describe('ErasureStorage under faults', () => {
  it('reads correctly with 2 of 6 stores emptied or down, and reports them', async () => {
    const reports: number[][] = []
    let down = new Set<number>()
    const r = await rig({ wrap: (s, i) => proxy(s, () => down.has(i)), onDegraded: (_l, bad) => reports.push(bad) })
    const body = pseudoRandom(SIZE, 3)
    const { layout } = await r.storage.write(ID, streamFromBytes(body, 5000))
    // Two data shards' drives wiped (a replaced disk): files gone.
    for (const i of byShard(0, 2)) await rm(`${r.disks[i]!.root}/shards`, { recursive: true, force: true })
    expect(sha256(await readAll(r.storage.read(layout, 0, SIZE), SIZE))).toBe(sha256(body))
    expect(reports.at(-1)).toEqual([0, 2])
    // A ranged read inside one stripe that needs only the lost blocks.
    const got = await readAll(r.storage.read(layout, 4 * BLOCK * 2 + 10, 4 * BLOCK * 2 + 3 * BLOCK), SIZE)
    expect(Buffer.from(got).equals(Buffer.from(body.subarray(4 * BLOCK * 2 + 10, 4 * BLOCK * 2 + 3 * BLOCK)))).toBe(
      true,
    )
    // Now with two stores down instead (a data shard and a parity shard).
    const { layout: l2 } = await r.storage.write('other', streamFromBytes(body))
    const p2 = (l2 as ErasureLayout).stores
    down = new Set([Number(p2[1]!.slice(1)), Number(p2[4]!.slice(1))])
    expect(sha256(await readAll(r.storage.read(l2, 0, SIZE), SIZE))).toBe(sha256(body))
    expect(reports.at(-1)).toEqual([1, 4]) // parity 4 was tried first, found down, then 5 used
  })

  it('detects flipped bytes in shard files: reads stay correct, the corruption is reported and healed', async () => {
    const reports: number[][] = []
    const r = await rig({ onDegraded: (_l, bad) => reports.push(bad) })
    const body = pseudoRandom(SIZE, 9)
    const { layout } = await r.storage.write(ID, streamFromBytes(body))
    const l = layout as ErasureLayout
    const flipped = [1, 3]
    const originals = new Map<number, Buffer>()
    for (const i of flipped) {
      const path = r.shardPath(l.stores[i]!, shardName(ID, i))
      const file = await readFile(path)
      originals.set(i, Buffer.from(file))
      // Flip bytes inside blocks (past the header), a few random positions.
      for (let j = 0; j < 3; j++) {
        const at = headerLength(ID) + Math.floor(Math.random() * (file.length - headerLength(ID) - 16))
        file[at]! ^= 1 << j
      }
      await writeFile(path, file)
    }
    expect(sha256(await readAll(r.storage.read(layout, 0, SIZE), SIZE))).toBe(sha256(body))
    expect(reports.at(-1)!.every((i) => flipped.includes(i))).toBe(true)
    const checks = await r.storage.verifyShards(layout)
    expect(checks.filter((c) => c.state !== 'ok').map((c) => [c.index, c.state])).toEqual(
      flipped.map((i) => [i, 'corrupt']),
    )
    const healed = await r.storage.heal(layout)
    expect(healed.rebuilt).toEqual(flipped)
    expect(healed.pending).toEqual([])
    for (const i of flipped) {
      const now = await readFile(r.shardPath(l.stores[i]!, shardName(ID, i)))
      expect(now.equals(originals.get(i)!), `shard ${i} byte-identical after heal`).toBe(true)
    }
    expect((await r.storage.verifyShards(layout)).every((c) => c.state === 'ok')).toBe(true)
  })

  it('heal rebuilds deleted shards byte-identical, data and parity', async () => {
    const r = await rig()
    const body = pseudoRandom(SIZE, 11)
    const { layout } = await r.storage.write(ID, streamFromBytes(body))
    const l = layout as ErasureLayout
    const before = await Promise.all(l.stores.map((s, i) => readFile(r.shardPath(s, shardName(ID, i)))))
    for (const i of [0, 5]) await r.stores.find((s) => s.id === l.stores[i])!.delete(shardName(ID, i))
    const result = await r.storage.heal(layout)
    expect(result.rebuilt).toEqual([0, 5])
    expect(result.checks.filter((c) => c.state === 'missing').map((c) => c.index)).toEqual([0, 5])
    for (let i = 0; i < 6; i++) {
      const now = await readFile(r.shardPath(l.stores[i]!, shardName(ID, i)))
      let d = 0
      while (d < now.length && now[d] === before[i]![d]) d++
      expect(d, `shard ${i}: first difference at byte ${d} of ${now.length}`).toBe(before[i]!.length)
    }
    expect(await r.storage.heal(layout)).toMatchObject({ rebuilt: [], pending: [] })
    // An empty object heals too (header and trailer only).
    const { layout: empty } = await r.storage.write('empty-heal', streamFromBytes(new Uint8Array(0)))
    await r.stores.find((s) => s.id === (empty as ErasureLayout).stores[2])!.delete(shardName('empty-heal', 2))
    expect((await r.storage.heal(empty)).rebuilt).toEqual([2])
  })

  it('writes at quorum with 2 stores down, reports them, and heal restores them once back', async () => {
    let down = byShard(1, 4)
    const r = await rig({ wrap: (s, i) => proxy(s, () => down.has(i)) })
    const body = pseudoRandom(SIZE, 5)
    const result = await r.storage.write(ID, streamFromBytes(body))
    expect(result.degraded?.sort()).toEqual([placed[1], placed[4]].sort())
    expect(sha256(await readAll(r.storage.read(result.layout, 0, SIZE), SIZE))).toBe(sha256(body))
    down = new Set()
    expect((await r.storage.heal(result.layout)).rebuilt).toEqual([1, 4])
    expect((await listShards(r.stores)).length).toBe(6)
    expect(await tempFiles(r)).toBe(0)
  })

  it('with 3 of 6 stores down: the write fails with QuorumError and leaves nothing; reads fail fast', async () => {
    let down = new Set<number>()
    const r = await rig({ wrap: (s, i) => proxy(s, () => down.has(i)) })
    const body = pseudoRandom(SIZE, 1)
    const { layout } = await r.storage.write('before', streamFromBytes(body))
    down = byShard(0, 2, 5)
    let cancelled = false
    const source = streamFromBytes(body, 4096)
    const watched = new ReadableStream<Uint8Array>({
      pull: async (c) => {
        const { done, value } = await reader.read()
        if (done) c.close()
        else c.enqueue(value)
      },
      cancel: () => {
        cancelled = true
      },
    })
    const reader = source.getReader()
    const err = await r.storage.write(ID, watched).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(QuorumError)
    expect((err as QuorumError).message).toMatch(/needed/)
    expect(cancelled).toBe(true)
    down = new Set()
    expect((await listShards(r.stores)).filter((n) => n.includes(ID))).toEqual([])
    expect(await tempFiles(r)).toBe(0)
    // Reading an object whose shards sit on 3 down stores: a QuorumError, quickly.
    const l = layout as ErasureLayout
    down = new Set([0, 2, 5].map((i) => Number(l.stores[i]!.slice(1))))
    const t0 = performance.now()
    await expect(readAll(r.storage.read(layout, 0, SIZE), SIZE)).rejects.toBeInstanceOf(QuorumError)
    expect(performance.now() - t0).toBeLessThan(1000)
  })

  it('a hung store times out (bounded) and parity takes over; 3 hung stores give QuorumError, not a hang', async () => {
    let hung = new Set<number>()
    const r = await rig({ readTimeoutMs: 300, wrap: (s, i) => proxyHung(s, () => hung.has(i)) })
    const body = pseudoRandom(SIZE, 2)
    const { layout } = await r.storage.write(ID, streamFromBytes(body))
    hung = byShard(2)
    expect(sha256(await readAll(r.storage.read(layout, 0, SIZE), SIZE))).toBe(sha256(body))
    hung = byShard(0, 1, 2)
    const t0 = performance.now()
    await expect(readAll(r.storage.read(layout, 0, SIZE), SIZE)).rejects.toBeInstanceOf(QuorumError)
    expect(performance.now() - t0).toBeLessThan(5000)
  })

  it('re-throws the body’s own error object and leaves no shard or temp file', async () => {
    const r = await rig()
    class BadDigest extends Error {}
    const boom = new BadDigest('checksum mismatch')
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= 3 * 4 * BLOCK + 100) return c.error(boom)
        const chunk = pseudoRandom(3000, sent)
        sent += chunk.length
        c.enqueue(chunk)
      },
    })
    const err = await r.storage.write(ID, body).catch((e: unknown) => e)
    expect(err).toBe(boom)
    expect(await listShards(r.stores)).toEqual([])
    expect(await tempFiles(r)).toBe(0)
  })
})

describe('ErasureStorage flow control', () => {
  it('a slow store slows the writer: the body is never read more than a few stripes ahead of it', async () => {
    let consumed = 0
    const slowIndex = Number(placed[3]!.slice(1))
    const r = await rig({
      wrap: (s, i) =>
        i !== slowIndex
          ? s
          : {
              ...s,
              put: (name, body) =>
                s.put(
                  name,
                  body.pipeThrough(
                    new TransformStream<Uint8Array, Uint8Array>({
                      async transform(chunk, c) {
                        await new Promise((res) => setTimeout(res, 2))
                        consumed += chunk.length
                        c.enqueue(chunk)
                      },
                    }),
                  ),
                ),
            },
    })
    const STRIPE = 4 * BLOCK
    const total = 40 * STRIPE
    let produced = 0
    let maxLead = 0
    const body = new ReadableStream<Uint8Array>(
      {
        pull(c) {
          if (produced >= total) return c.close()
          // Shard bytes the slow store has taken, in payload terms: k × its own.
          maxLead = Math.max(maxLead, produced - consumed * 4)
          const chunk = pseudoRandom(STRIPE, produced)
          produced += chunk.length
          c.enqueue(chunk)
        },
      },
      { highWaterMark: 0 },
    )
    const { layout } = await r.storage.write(ID, body)
    expect((layout as ErasureLayout).size).toBe(total)
    // Two blocks queued per shard, one in the TransformStream, one being encoded, plus slack.
    expect(maxLead).toBeLessThanOrEqual(8 * STRIPE)
  })

  it('a store that stops taking data is dropped after writeTimeoutMs; the write succeeds degraded', async () => {
    const stuck = Number(placed[5]!.slice(1))
    const r = await rig({
      writeTimeoutMs: 300,
      wrap: (s, i) =>
        i !== stuck
          ? s
          : { ...s, put: (_n, body) => new Promise<void>((_, reject) => body.getReader().closed.catch(reject)) },
    })
    const body = pseudoRandom(SIZE, 4)
    const t0 = performance.now()
    const result = await r.storage.write(ID, streamFromBytes(body, 8192))
    expect(performance.now() - t0).toBeLessThan(3000)
    expect(result.degraded).toEqual([placed[5]])
    expect(sha256(await readAll(r.storage.read(result.layout, 0, SIZE), SIZE))).toBe(sha256(body))
  })

  it('a store gone from the configuration: reads use parity, heal reports the shard as pending', async () => {
    const reports: number[][] = []
    const r = await rig({ n: 7 })
    const body = pseudoRandom(SIZE, 8)
    const { layout } = await r.storage.write(ID, streamFromBytes(body))
    const gone = (layout as ErasureLayout).stores[2]!
    const smaller = createErasureStorage({
      stores: r.stores.filter((s) => s.id !== gone),
      k: 4,
      m: 2,
      codec: testCodec(),
      onDegraded: (_l, bad) => reports.push(bad),
    })
    expect(sha256(await readAll(smaller.read(layout, 0, SIZE), SIZE))).toBe(sha256(body))
    expect(reports).toEqual([[2]])
    const healed = await smaller.heal(layout)
    expect(healed).toMatchObject({ rebuilt: [], pending: [2] })
    expect(healed.checks[2]).toMatchObject({ state: 'unavailable', store: gone })
  })
})

/** A store that behaves as down while `isDown()` says so. */
function proxy(s: ShardStore, isDown: () => boolean): ShardStore {
  const d = downStore(s)
  return {
    id: s.id,
    put: (n, b) => (isDown() ? d.put(n, b) : s.put(n, b)),
    get: (n, o, l) => (isDown() ? d.get(n, o, l) : s.get(n, o, l)),
    stat: (n) => (isDown() ? d.stat(n) : s.stat(n)),
    delete: (n) => (isDown() ? d.delete(n) : s.delete(n)),
    list: () => (isDown() ? d.list() : s.list()),
    healthy: () => (isDown() ? d.healthy() : s.healthy()),
  }
}

function proxyHung(s: ShardStore, isHung: () => boolean): ShardStore {
  const h = hungReads(s)
  return { ...s, get: (n, o, l) => (isHung() ? h.get(n, o, l) : s.get(n, o, l)) }
}
