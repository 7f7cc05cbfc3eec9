import { afterEach, describe, expect, it } from 'vitest'
import { BytePool, releaseBytes } from '../util/byte-pool.ts'
import { readAll, streamFromBytes } from '../util/streams.ts'
import { rechunk } from '../util/streams.testkit.ts'
import { downStore, makeRig, openCounting, pseudoRandom, sha256, type Rig } from './erasure-storage.testkit.ts'
import type { DataLayout, ErasureLayout } from './object-storage.ts'
import type { ShardStore } from './shard-store.ts'

// Degraded reads must not pay for a failed block with a full extra round: the replacement (parity)
// read starts as soon as the block fails, while the other data blocks are still on their way.

const rigs: Rig[] = []
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.destroy()
})

const BLOCK = 4096

/** Per store: down, or gated (get answers only once `release` runs), and a log of gets. */
function controlled(
  s: ShardStore,
  i: number,
  ctl: { down: Set<number>; gated: Set<number>; gate: Promise<void>; log: string[] },
): ShardStore {
  const d = downStore(s)
  return {
    ...s,
    get(name, offset, length) {
      ctl.log.push(`get ${i}`)
      if (ctl.down.has(i)) return d.get(name, offset, length)
      if (!ctl.gated.has(i)) return s.get(name, offset, length)
      const inner = s.get(name, offset, length).getReader()
      return new ReadableStream<Uint8Array>({
        async pull(c) {
          await ctl.gate
          const r = await inner.read()
          if (r.done) c.close()
          else c.enqueue(r.value)
        },
        cancel: (reason) => inner.cancel(reason),
      })
    },
  }
}

describe('stripe reader, degraded', () => {
  it('starts the parity read while the healthy data blocks are still pending', async () => {
    let release!: () => void
    const ctl = {
      down: new Set<number>(),
      gated: new Set<number>(),
      gate: new Promise<void>((r) => (release = r)),
      log: [] as string[],
    }
    const reports: number[][] = []
    const r = await makeRig({
      blockSize: BLOCK,
      wrap: (s, i) => controlled(s, i, ctl),
      onDegraded: (_l, bad) => reports.push(bad),
    })
    rigs.push(r)
    const body = pseudoRandom(3 * 4 * BLOCK + 100, 4)
    const { layout } = await r.storage.write('obj', streamFromBytes(body))
    const stores = (layout as ErasureLayout).stores.map((id) => Number(id.slice(1)))
    // Shard 1 (data) is down; shards 0, 2, 3 (data) answer only when released.
    ctl.down.add(stores[1]!)
    for (const shard of [0, 2, 3]) ctl.gated.add(stores[shard]!)
    const reading = readAll(r.storage.read(layout, 0, body.length), body.length)
    const parity = `get ${stores[4]}`
    // Bounded wait for the parity get to be issued while the gated reads are still held.
    for (let i = 0; i < 100 && !ctl.log.includes(parity); i++) await new Promise((res) => setTimeout(res, 5))
    expect(ctl.log).toContain(parity)
    expect(ctl.log).not.toContain(`get ${stores[5]}`) // one replacement for one failed block
    release()
    expect(sha256(await reading)).toBe(sha256(body))
    expect(reports).toEqual([[1]])
  })

  it('with 3 of 6 shards down, fails with QuorumError after trying each once', async () => {
    const ctl = { down: new Set<number>(), gated: new Set<number>(), gate: Promise.resolve(), log: [] as string[] }
    const r = await makeRig({ blockSize: BLOCK, wrap: (s, i) => controlled(s, i, ctl) })
    rigs.push(r)
    const body = pseudoRandom(2 * 4 * BLOCK, 5)
    const { layout } = await r.storage.write('obj3', streamFromBytes(body))
    const stores = (layout as ErasureLayout).stores.map((id) => Number(id.slice(1)))
    for (const shard of [0, 3, 5]) ctl.down.add(stores[shard]!)
    await expect(readAll(r.storage.read(layout, 0, body.length), body.length)).rejects.toMatchObject({
      name: 'QuorumError',
    })
    for (const i of stores) expect(ctl.log.filter((l) => l === `get ${i}`).length).toBe(1)
  })

  it('a ranged read inside one lost block reads k others and decodes the exact bytes', async () => {
    const ctl = { down: new Set<number>(), gated: new Set<number>(), gate: Promise.resolve(), log: [] as string[] }
    const r = await makeRig({ blockSize: BLOCK, wrap: (s, i) => controlled(s, i, ctl) })
    rigs.push(r)
    const body = pseudoRandom(4 * BLOCK * 2, 6)
    const { layout } = await r.storage.write('obj4', streamFromBytes(body))
    const stores = (layout as ErasureLayout).stores.map((id) => Number(id.slice(1)))
    ctl.down.add(stores[2]!)
    const from = 4 * BLOCK + 2 * BLOCK + 7
    const got = await readAll(r.storage.read(layout, from, from + 100), 1000)
    expect(Buffer.from(got).equals(Buffer.from(body.subarray(from, from + 100)))).toBe(true)
  })
})

describe('stripe reader, read-ahead', () => {
  it('reads two stripes ahead of a consumer that has taken only the first block', async () => {
    // Each store hands out one block (plus its checksum) per pull, and counts the pulls.
    const pulls = new Map<number, number>()
    const r = await makeRig({
      blockSize: BLOCK,
      wrap: (s, i) => ({
        ...s,
        get(name, offset, length, unit) {
          const inner = rechunk(s.get(name, offset, length, unit), BLOCK + 4).getReader()
          return new ReadableStream<Uint8Array>(
            {
              async pull(c) {
                const got = await inner.read()
                if (got.done) return c.close()
                pulls.set(i, (pulls.get(i) ?? 0) + 1)
                c.enqueue(got.value)
              },
              cancel: (reason) => inner.cancel(reason),
            },
            { highWaterMark: 0 },
          )
        },
      }),
    })
    rigs.push(r)
    const body = pseudoRandom(8 * 4 * BLOCK, 6) // 8 full stripes at 4+2
    const { layout } = await r.storage.write('obj', streamFromBytes(body))
    const first = (layout as ErasureLayout).stores.map((id) => Number(id.slice(1)))[0]!
    const reader = r.storage.read(layout, 0, body.length).getReader()
    expect((await reader.read()).value!.length).toBe(BLOCK)
    // Bounded wait for the read-ahead to settle: the stripe being consumed plus two more.
    for (let i = 0; i < 100 && (pulls.get(first) ?? 0) < 3; i++) await new Promise((res) => setTimeout(res, 5))
    await new Promise((res) => setTimeout(res, 20))
    expect(pulls.get(first)).toBe(3)
    await reader.cancel()
  })
})

/** Counts leases that found no released buffer (fresh memory), and poisons what comes back. */
class CountingPool extends BytePool {
  fresh = 0
  override lease(size: number, holders: number): Uint8Array {
    const idle = this.idleBytes
    const buf = super.lease(size, holders)
    if (this.idleBytes === idle) this.fresh++
    return buf
  }
  override keep(buf: Uint8Array): void {
    // A buffer given back while someone still reads a view of it shows as wrong bytes.
    buf.fill(0xee)
    super.keep(buf)
  }
}

/** Reads [start, end) as decrypt-stream does: each view used, then released once. */
async function readReleasing(r: Rig, layout: DataLayout, start: number, end: number): Promise<Uint8Array> {
  const out = new Uint8Array(end - start)
  let at = 0
  const reader = r.storage.read(layout, start, end).getReader()
  for (let i = 0; i < 1000; i++) {
    const { done, value } = await reader.read()
    if (done) break
    out.set(value, at)
    at += value.length
    releaseBytes(value)
  }
  expect(at).toBe(end - start)
  return out
}

describe('stripe reader, degraded, pooled buffers', () => {
  it('gives parity reads back and rebuilds data into pooled buffers: a second degraded read takes no fresh memory', async () => {
    const readPool = new CountingPool(64 << 20)
    const blockPool = new CountingPool(64 << 20)
    const down = new Set<string>()
    const r = await makeRig({
      readPool,
      blockPool,
      // The unit hint passes through (pooled reads need it); a down store fails every get.
      wrap: (s) => ({ ...s, get: (...a) => (down.has(s.id) ? downStore(s).get(...a) : s.get(...a)) }),
    })
    rigs.push(r)
    const block = 256 * 1024 // the default: one unit per pooled read
    const body = pseudoRandom(4 * 4 * block, 6)
    const { layout } = await r.storage.write('pooled', streamFromBytes(body))
    const stores = (layout as ErasureLayout).stores
    down.add(stores[0]!)
    down.add(stores[1]!)
    const read = (start: number, end: number) => readReleasing(r, layout, start, end)
    expect(sha256(await read(0, body.length))).toBe(sha256(body))
    expect(blockPool.fresh).toBeGreaterThan(0) // the rebuilt blocks were leased
    const fresh = { read: readPool.fresh, rebuild: blockPool.fresh }
    expect(sha256(await read(0, body.length))).toBe(sha256(body))
    // A range inside one block of a rebuilt shard: the other rebuilt and parity blocks go back too.
    const [from, to] = [block + 100, 2 * block - 100]
    expect(sha256(await read(from, to))).toBe(sha256(body.subarray(from, to)))
    expect(sha256(await read(0, body.length))).toBe(sha256(body))
    expect({ read: readPool.fresh, rebuild: blockPool.fresh }).toEqual(fresh)
  })
})

describe('stripe reader, blocks that arrive in pieces', () => {
  it('joins them into pooled buffers: a second read of a remote-like shard takes no fresh memory', async () => {
    const blockPool = new CountingPool(64 << 20)
    // As RemoteStore's streams do: the unit hint is not honoured, bytes come in 16 KiB pieces.
    const r = await makeRig({
      blockPool,
      wrap: (s) => ({ ...s, get: (n, o, l) => rechunk(s.get(n, o, l), 16 * 1024) }),
    })
    rigs.push(r)
    const block = 256 * 1024
    const body = pseudoRandom(4 * 4 * block + 1000, 9)
    const { layout } = await r.storage.write('pieces', streamFromBytes(body))
    const read = (start: number, end: number) => readReleasing(r, layout, start, end)
    expect(sha256(await read(0, body.length))).toBe(sha256(body))
    expect(blockPool.fresh).toBeGreaterThan(0) // the joined blocks were leased
    const fresh = blockPool.fresh
    expect(sha256(await read(0, body.length))).toBe(sha256(body))
    const [from, to] = [block - 100, 3 * block + 100]
    expect(sha256(await read(from, to))).toBe(sha256(body.subarray(from, to)))
    expect(sha256(await read(0, body.length))).toBe(sha256(body))
    // Released buffers came back and were leased again (poisoned on return: early reuse shows).
    expect(blockPool.fresh).toBe(fresh)
  })
})

describe('stripe reader, cancelled', () => {
  it('a read cancelled while its blocks are on their way leaves no shard stream open (no parity read starts after it)', async () => {
    const open = new Set<object>()
    let release!: () => void
    const gate = { held: Promise.resolve() }
    const r = await makeRig({ blockSize: BLOCK, wrap: (s) => openCounting(s, open, gate) })
    rigs.push(r)
    const body = pseudoRandom(6 * 4 * BLOCK, 8)
    const { layout } = await r.storage.write('obj', streamFromBytes(body))
    // Every shard read now waits at the gate: the reader's first pull is in flight when it is cancelled.
    gate.held = new Promise<void>((res) => (release = res))
    const stream = r.storage.read(layout, 0, body.length)
    for (let i = 0; i < 100 && open.size < 4; i++) await new Promise((res) => setTimeout(res, 5))
    expect(open.size).toBe(4) // the four data shards, pulled by the read-ahead
    await stream.cancel(new Error('client went away'))
    release()
    // Bounded wait for anything the cancelled pull still does (it must not open parity reads).
    for (let i = 0; i < 20; i++) await new Promise((res) => setTimeout(res, 5))
    expect(open.size).toBe(0)
  })

  it('a whole read, then a ranged one ending inside a stripe: every shard stream is closed at the end', async () => {
    const open = new Set<object>()
    const gate = { held: Promise.resolve() }
    const r = await makeRig({ blockSize: BLOCK, wrap: (s) => openCounting(s, open, gate) })
    rigs.push(r)
    const body = pseudoRandom(6 * 4 * BLOCK + 100, 9)
    const { layout } = await r.storage.write('obj', streamFromBytes(body))
    expect(sha256(await readAll(r.storage.read(layout, 0, body.length), body.length))).toBe(sha256(body))
    expect(open.size).toBe(0)
    const [from, to] = [BLOCK + 5, 4 * 4 * BLOCK + BLOCK + 3]
    expect(sha256(await readAll(r.storage.read(layout, from, to), body.length))).toBe(sha256(body.subarray(from, to)))
    expect(open.size).toBe(0)
  })
})
