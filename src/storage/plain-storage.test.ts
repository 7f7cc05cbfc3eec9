import { afterEach, describe, expect, it } from 'vitest'
import { readAll, streamFromBytes } from '../util/streams.ts'
import { createDiskStore } from './disk-store.ts'
import type { PlainLayout } from './object-storage.ts'
import { rank } from './placement.ts'
import { createPlainStorage, NoHealthyStore } from './plain-storage.ts'
import { ShardNotFound, type ShardStore } from './shard-store.ts'
import { createTestDisk, type TestDisk } from './test-disk.ts'

const disks: TestDisk[] = []
afterEach(async () => {
  for (const d of disks.splice(0)) await d.destroy()
})

async function sixStores(): Promise<{ stores: ShardStore[]; disks: TestDisk[] }> {
  const mine: TestDisk[] = []
  for (let i = 0; i < 6; i++) mine.push(await createTestDisk())
  disks.push(...mine)
  return { stores: mine.map((d, i) => createDiskStore(String(i), d)), disks: mine }
}

const data = (n: number, seed = 3) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 7 + (i >> 8)) & 0xff)

async function shardsOn(stores: ShardStore[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {}
  for (const s of stores) for await (const n of s.list()) (out[s.id] ??= []).push(n)
  return out
}

describe('PlainStorage', () => {
  it('writes to the first store in rank order and reads any range back', async () => {
    const { stores } = await sixStores()
    const storage = createPlainStorage(stores)
    const id = '3f1c9a52-7a4e-4c1b-9d7e-0b6a1c2d3e4f'
    const body = data(300_000)
    const { layout, size } = await storage.write(id, streamFromBytes(body, 16384))
    const expected = rank(id, stores.map((s) => s.id))[0]
    expect(layout).toEqual({ v: 1, scheme: 'plain', store: expected, shard: id, size: body.length })
    expect(size).toBe(body.length)
    expect(await shardsOn(stores)).toEqual({ [expected!]: [id] })
    // JSON round trip: the layout lives in metadata.
    const stored = JSON.parse(JSON.stringify(layout)) as PlainLayout
    for (const [start, end] of [[0, body.length], [0, 1], [1000, 200_000], [body.length - 5, body.length], [7, 7]] as const) {
      const got = await readAll(storage.read(stored, start, end), body.length)
      expect(Buffer.from(got).equals(body.subarray(start, end)), `[${start}, ${end})`).toBe(true)
    }
    expect(() => storage.read(stored, 10, 5)).toThrow(RangeError)
    expect(() => storage.read(stored, 0, body.length + 1)).toThrow(RangeError)
  })

  it('stores an empty payload', async () => {
    const { stores } = await sixStores()
    const storage = createPlainStorage(stores)
    const { layout, size } = await storage.write('empty-1', streamFromBytes(new Uint8Array(0)))
    expect(size).toBe(0)
    expect(await readAll(storage.read(layout, 0, 0), 0)).toEqual(new Uint8Array(0))
  })

  it('skips unhealthy stores, in rank order', async () => {
    const { stores } = await sixStores()
    const id = 'obj-unhealthy'
    const order = rank(id, stores.map((s) => s.id))
    const down = new Set(order.slice(0, 2))
    const wrapped = stores.map((s) => (down.has(s.id) ? { ...s, healthy: async () => false } : s))
    const { layout } = await createPlainStorage(wrapped).write(id, streamFromBytes(data(10)))
    expect((layout as PlainLayout).store).toBe(order[2])
  })

  it('fails with NoHealthyStore and cancels the body when every store is down', async () => {
    const { stores } = await sixStores()
    let cancelled = false
    const body = new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(data(10)), cancel: () => void (cancelled = true) })
    const storage = createPlainStorage(stores.map((s) => ({ ...s, healthy: async () => false })))
    await expect(storage.write('x', body)).rejects.toBeInstanceOf(NoHealthyStore)
    expect(cancelled).toBe(true)
  })

  it('re-throws a body error unchanged and leaves no shard or temp file anywhere', async () => {
    const { stores, disks: ds } = await sixStores()
    const boom = new Error('BadDigest')
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      pull: (c) => (sent++ < 40 ? c.enqueue(data(65536, sent)) : c.error(boom)),
    })
    expect(await createPlainStorage(stores).write('obj-err', body).catch((e) => e)).toBe(boom)
    expect(await shardsOn(stores)).toEqual({})
    for (const d of ds) expect(await d.list('tmp')).toEqual([])
  })

  it('removes payloads; missing shards and unknown stores are fine', async () => {
    const { stores } = await sixStores()
    const storage = createPlainStorage(stores)
    const { layout } = await storage.write('obj-rm', streamFromBytes(data(100)))
    await storage.remove(layout)
    expect(await shardsOn(stores)).toEqual({})
    await storage.remove(layout)
    await storage.remove({ ...(layout as PlainLayout), store: 'gone' })
    // Reading it now fails as a missing shard.
    await expect(readAll(storage.read(layout, 0, 100), 100)).rejects.toBeInstanceOf(ShardNotFound)
    await expect(readAll(storage.read({ ...(layout as PlainLayout), store: 'gone' }, 0, 100), 100)).rejects.toBeInstanceOf(ShardNotFound)
  })

  it('validates ids, layouts and store ids', async () => {
    const { stores } = await sixStores()
    const storage = createPlainStorage(stores)
    for (const bad of ['', '../etc', 'a/b', '.x', 'sp ace']) {
      await expect(storage.write(bad, streamFromBytes(data(1)))).rejects.toBeInstanceOf(TypeError)
    }
    const alien = { v: 2, scheme: 'rs', store: '0', shard: 'x', size: 1 } as unknown as PlainLayout
    expect(() => storage.read(alien, 0, 1)).toThrow(TypeError)
    await expect(storage.remove(alien)).rejects.toBeInstanceOf(TypeError)
    expect(() => createPlainStorage([stores[0]!, stores[0]!])).toThrow(/duplicate store id/)
  })
})
