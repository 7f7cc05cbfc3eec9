/**
 * The ShardStore contract: one suite every implementation must pass (DiskStore on a local drive,
 * RemoteStore talking to a storage node over HTTPS). Run by shard-store.test.ts per implementation.
 */
import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { ShardNotFound, type ShardStore } from '../../src/storage/shard-store.ts'
import { readAll, streamFromBytes } from '../../src/util/streams.ts'

export interface ShardStoreFixture {
  store: ShardStore
  cleanup(): Promise<void>
}

const MiB = 1024 * 1024

/** Deterministic pseudo-random bytes (xorshift32), so every comparison checks real data. */
export function pseudoRandom(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** `good` in 16 KiB pieces, then an error. */
function failingBody(good: Uint8Array, err: Error): ReadableStream<Uint8Array> {
  let pos = 0
  return new ReadableStream({
    pull(c) {
      if (pos >= good.length) return c.error(err)
      c.enqueue(good.slice(pos, pos + 16384))
      pos += 16384
    },
  })
}

async function names(store: ShardStore): Promise<string[]> {
  const out: string[] = []
  for await (const n of store.list()) out.push(n)
  return out.sort()
}

/** What the read of a shard rejects with (get may also throw synchronously). */
async function readError(read: () => ReadableStream<Uint8Array>): Promise<unknown> {
  try {
    await readAll(read(), 64 * MiB)
  } catch (e) {
    return e
  }
  return undefined
}

export function shardStoreContract(label: string, make: () => Promise<ShardStoreFixture>): void {
  describe(`ShardStore contract: ${label}`, () => {
    let fixture: ShardStoreFixture | undefined
    const open = async () => {
      fixture = await make()
      return fixture.store
    }
    afterEach(async () => {
      await fixture?.cleanup()
      fixture = undefined
    })

    it('stores a shard and reads it back whole and by ranges', async () => {
      const store = await open()
      const body = pseudoRandom(3 * MiB + 12345)
      await store.put('obj-1.0', streamFromBytes(body, 65536))
      expect(await store.stat('obj-1.0')).toBe(body.length)
      const n = body.length
      for (const [off, len] of [
        [0, n],
        [0, 1],
        [MiB - 3, 2 * MiB + 7],
        [n - 1, 1],
        [n, 0],
        [5, 0],
      ] as const) {
        const got = await readAll(store.get('obj-1.0', off, len), n)
        expect(got.length, `${off}+${len}`).toBe(len)
        expect(sha(got), `${off}+${len}`).toBe(sha(body.subarray(off, off + len)))
      }
    })

    it('stores an empty shard', async () => {
      const store = await open()
      await store.put('empty', streamFromBytes(new Uint8Array(0)))
      expect(await store.stat('empty')).toBe(0)
      expect((await readAll(store.get('empty', 0, 0), 10)).length).toBe(0)
    })

    it('reports a missing shard: stat undefined, reads reject with ShardNotFound', async () => {
      const store = await open()
      expect(await store.stat('nope')).toBeUndefined()
      const err = await readError(() => store.get('nope', 0, 10))
      expect(err).toBeInstanceOf(ShardNotFound)
      expect((err as ShardNotFound).shard).toBe('nope')
      expect(await readError(() => store.get('nope', 0, 0))).toBeInstanceOf(ShardNotFound)
    })

    it('refuses a range beyond the end of the shard', async () => {
      const store = await open()
      await store.put('short', streamFromBytes(pseudoRandom(1000)))
      const err = await readError(() => store.get('short', 900, 200))
      expect(err).toBeInstanceOf(Error)
      expect(err).not.toBeInstanceOf(ShardNotFound)
    })

    it('replaces a shard on a second put', async () => {
      const store = await open()
      await store.put('s', streamFromBytes(pseudoRandom(5000, 1)))
      const second = pseudoRandom(777, 2)
      await store.put('s', streamFromBytes(second, 100))
      expect(await store.stat('s')).toBe(777)
      expect(sha(await readAll(store.get('s', 0, 777), 1000))).toBe(sha(second))
    })

    it('rejects with the body’s own error when the body fails, and stores nothing', async () => {
      const store = await open()
      const boom = new Error('client went away')
      await expect(store.put('half', failingBody(pseudoRandom(200_000), boom))).rejects.toBe(boom)
      expect(await store.stat('half')).toBeUndefined()
      expect(await names(store)).toEqual([])
      // The store is still usable afterwards.
      await store.put('after', streamFromBytes(pseudoRandom(10)))
      expect(await store.stat('after')).toBe(10)
    })

    it('deletes shards; deleting a missing shard is not an error', async () => {
      const store = await open()
      await store.put('d', streamFromBytes(pseudoRandom(10)))
      await store.delete('d')
      expect(await store.stat('d')).toBeUndefined()
      await store.delete('d')
      await store.delete('never-was')
    })

    it('lists every shard exactly once', async () => {
      const store = await open()
      const want = Array.from({ length: 41 }, (_, i) => `obj-${i.toString(36)}.${i % 6}`).sort()
      for (const n of want) await store.put(n, streamFromBytes(pseudoRandom(8, want.indexOf(n) + 1)))
      expect(await names(store)).toEqual(want)
      await store.delete(want[0]!)
      expect(await names(store)).toEqual(want.slice(1))
    })

    it('refuses invalid shard names', async () => {
      const store = await open()
      for (const bad of ['', '../x', 'a/b', '.hidden', 'x'.repeat(201), 'sp ace']) {
        expect(() => store.get(bad, 0, 1), bad).toThrow(TypeError)
        await expect(store.put(bad, streamFromBytes(new Uint8Array(1))), bad).rejects.toThrow(TypeError)
        await expect(store.stat(bad), bad).rejects.toThrow(TypeError)
        await expect(store.delete(bad), bad).rejects.toThrow(TypeError)
      }
      expect(() => store.get('ok', -1, 1)).toThrow(RangeError)
      expect(() => store.get('ok', 0, 1.5)).toThrow(RangeError)
    })

    it('takes concurrent puts of different shards', async () => {
      const store = await open()
      const bodies = Array.from({ length: 8 }, (_, i) => pseudoRandom(300_000 + i * 1000, i + 1))
      await Promise.all(bodies.map((b, i) => store.put(`c.${i}`, streamFromBytes(b, 32768))))
      for (const [i, b] of bodies.entries())
        expect(sha(await readAll(store.get(`c.${i}`, 0, b.length), MiB))).toBe(sha(b))
    })

    it('survives a reader that cancels midway', async () => {
      const store = await open()
      const body = pseudoRandom(4 * MiB)
      await store.put('big', streamFromBytes(body, MiB))
      const reader = store.get('big', 0, body.length).getReader()
      const first = await reader.read()
      expect(first.done).toBe(false)
      await reader.cancel()
      expect(await store.stat('big')).toBe(body.length)
      expect(sha(await readAll(store.get('big', MiB, MiB), MiB))).toBe(sha(body.subarray(MiB, 2 * MiB)))
    })

    it('reports itself healthy', async () => {
      const store = await open()
      expect(await store.healthy()).toBe(true)
    })
  })
}
