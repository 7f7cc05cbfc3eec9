import { afterEach, describe, expect, it } from 'vitest'
import { BytePool, releaseBytes } from '../util/byte-pool.ts'
import { readAll, streamFromBytes } from '../util/streams.ts'
import type { Disk } from './disk.ts'
import { createDiskStore, fanOut } from './disk-store.ts'
import { ShardNotFound, StoreFull } from './shard-store.ts'
import { createTestDisk, type TestDisk, type TestDiskOptions } from './disk.testkit.ts'

const MiB = 1024 * 1024
const disks: TestDisk[] = []
afterEach(async () => {
  for (const d of disks.splice(0)) await d.destroy()
})
async function newDisk(opts?: TestDiskOptions): Promise<TestDisk> {
  const d = await createTestDisk(opts)
  disks.push(d)
  return d
}

/** Deterministic pseudo-random bytes (xorshift32), so every range check compares real data. */
function data(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** Emits `good` in 16 KiB pieces, then errors with `err`. */
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

async function names(store: { list(): AsyncIterable<string> }): Promise<string[]> {
  const out: string[] = []
  for await (const n of store.list()) out.push(n)
  return out.sort()
}

describe('DiskStore put/get', () => {
  it('reads back whole objects and ranges at the start, middle and end', async () => {
    const disk = await newDisk()
    const store = createDiskStore('d0', disk)
    const body = data(3 * MiB + 12345)
    await store.put('obj-1', streamFromBytes(body, 65536))
    expect(await store.stat('obj-1')).toBe(body.length)
    const n = body.length
    for (const [off, len] of [
      [0, n],
      [0, 1],
      [0, MiB + 1],
      [MiB - 3, 2 * MiB + 7],
      [n - 1, 1],
      [n - 10, 10],
      [n, 0],
      [5, 0],
    ] as const) {
      const got = await readAll(store.get('obj-1', off, len), n)
      expect(got.length, `${off}+${len}`).toBe(len)
      expect(Buffer.from(got).equals(Buffer.from(body.subarray(off, off + len))), `${off}+${len}`).toBe(true)
    }
    expect(disk.openFiles()).toBe(0)
    // The file sits in its fan-out directory under the FORMAT path.
    expect(await disk.list(`shards/${fanOut('obj-1')}`)).toEqual(['obj-1'])
  })

  it('with a unit hint, every chunk but the last holds whole units (blocks never straddle chunks)', async () => {
    const disk = await newDisk()
    const store = createDiskStore('d0', disk)
    const unit = 256 * 1024 + 4 // a block and its checksum
    const body = data(9 * unit + 100)
    await store.put('obj-u', streamFromBytes(body, 65536))
    const chunks: Uint8Array[] = []
    const reader = store.get('obj-u', 0, body.length, unit).getReader()
    for (let i = 0; i < 100; i++) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
    }
    expect(chunks.slice(0, -1).every((c) => c.length % unit === 0)).toBe(true)
    expect(chunks.length).toBeGreaterThan(1)
    expect(Buffer.concat(chunks).equals(Buffer.from(body))).toBe(true)
    // Without the hint the store cuts at 1 MiB, which splits such a block.
    const plain = await store.get('obj-u', 0, body.length).getReader().read()
    expect(plain.value!.length % unit).not.toBe(0)
  })

  it('with a read pool, whole-unit reads reuse a buffer only once each of its units was released', async () => {
    const disk = await newDisk()
    const readPool = new BytePool(8 * MiB)
    const store = createDiskStore('d0', disk, { readPool })
    const unit = 64 * 1024 + 4 // small blocks: several units per read, so several holders per buffer
    const body = data(12 * unit)
    await store.put('obj-p', streamFromBytes(body, 65536))
    const read = async () => {
      const chunks: Uint8Array[] = []
      const reader = store.get('obj-p', 0, body.length, unit).getReader()
      for (let i = 0; i < 100; i++) {
        const { done, value } = await reader.read()
        if (done) break
        chunks.push(value)
      }
      return chunks
    }
    const first = await read()
    expect(Buffer.concat(first).equals(Buffer.from(body))).toBe(true)
    // Nothing released: a second read must get memory of its own.
    const second = await read()
    for (const c of second) expect(first.some((f) => f.buffer === c.buffer)).toBe(false)
    // One unit short of every unit: still held.
    const chunk = first[0]!
    const units = chunk.length / unit
    expect(units).toBeGreaterThan(1)
    for (let u = 0; u < units - 1; u++) releaseBytes(chunk.subarray(u * unit, (u + 1) * unit))
    expect(readPool.idleBytes).toBe(0)
    releaseBytes(chunk.subarray((units - 1) * unit))
    expect(readPool.idleBytes).toBe(chunk.length)
    const third = await read()
    expect(third.some((c) => c.buffer === chunk.buffer)).toBe(true)
    expect(Buffer.concat(third).equals(Buffer.from(body))).toBe(true)
    // Reads without the hint never touch the pool.
    const plain = await store.get('obj-p', 0, body.length).getReader().read()
    expect(readPool.idleBytes).toBe(0)
    expect(plain.value!.buffer).not.toBe(chunk.buffer)
  })

  it('stores a zero-length object', async () => {
    const store = createDiskStore('d0', await newDisk())
    await store.put('empty', streamFromBytes(new Uint8Array(0)))
    expect(await store.stat('empty')).toBe(0)
    expect(await readAll(store.get('empty', 0, 0), 0)).toEqual(new Uint8Array(0))
    expect(await names(store)).toEqual(['empty'])
  })

  it('errors (RangeError) on a range beyond the end instead of truncating, before any byte', async () => {
    const disk = await newDisk()
    const store = createDiskStore('d0', disk)
    await store.put('small', streamFromBytes(data(100)))
    const reader = store.get('small', 90, 11).getReader()
    await expect(reader.read()).rejects.toBeInstanceOf(RangeError)
    await expect(readAll(store.get('small', 101, 0), 1000)).rejects.toBeInstanceOf(RangeError)
    expect(() => store.get('small', -1, 5)).toThrow(RangeError)
    expect(disk.openFiles()).toBe(0)
  })

  it('gathers small network chunks into 512 KiB writes, each one writev of the pieces themselves (no copy)', async () => {
    const disk = await newDisk()
    const calls: Uint8Array[][] = []
    const store = createDiskStore(
      'd0',
      onWrite(disk, (pieces) => void calls.push(pieces)),
    )
    const body = data(4 * MiB + 100)
    const sent: Uint8Array[] = []
    const source = streamFromBytes(body, 16384).pipeThrough(
      new TransformStream({
        transform(c, out) {
          sent.push(c)
          out.enqueue(c)
        },
      }),
    )
    await store.put('c', source)
    expect(calls.map((c) => c.reduce((n, p) => n + p.length, 0))).toEqual([...Array(8).fill(MiB / 2), 100])
    // The very chunks the producer sent, in order: nothing was joined into a buffer of ours.
    expect(calls.flat().length).toBe(sent.length)
    expect(calls.flat().every((p, i) => p === sent[i])).toBe(true)
    expect(Buffer.from(await readAll(store.get('c', 0, body.length), body.length)).equals(Buffer.from(body))).toBe(true)
  })

  it('a small shard is one write of its pieces (header, block, checksum, trailer); a Disk without writev gets them joined', async () => {
    for (const gathered of [true, false]) {
      const disk = await newDisk()
      const calls: Uint8Array[][] = []
      const store = createDiskStore(
        'd0',
        onWrite(disk, (pieces) => void calls.push(pieces), gathered),
      )
      // The shape of a small object's shard: header, one block, its checksum, the trailer.
      const parts = [data(60, 1), data(1024, 2), data(4, 3), data(16, 4)]
      const total = parts.reduce((n, p) => n + p.length, 0)
      await store.put(
        'small',
        new ReadableStream({
          start: (c) => {
            for (const p of parts) c.enqueue(p)
            c.close()
          },
        }),
      )
      expect(calls.length).toBe(1)
      expect(calls[0]!.map((p) => p.length)).toEqual(gathered ? parts.map((p) => p.length) : [total])
      const got = await readAll(store.get('small', 0, total), total)
      let off = 0
      for (const p of parts) {
        expect(Buffer.from(got.subarray(off, off + p.length)).equals(Buffer.from(p))).toBe(true)
        off += p.length
      }
    }
  })

  it('a body error leaves nothing behind and is re-thrown unchanged', async () => {
    const disk = await newDisk()
    const store = createDiskStore('d0', disk)
    const boom = new Error('digest mismatch')
    const err = await store.put('x', failingBody(data(3 * MiB), boom)).catch((e) => e)
    expect(err).toBe(boom)
    expect(await names(store)).toEqual([])
    expect(await disk.list('tmp')).toEqual([])
    expect(disk.openFiles()).toBe(0)
  })

  it('a failed overwrite keeps the previous version intact', async () => {
    const disk = await newDisk()
    const store = createDiskStore('d0', disk)
    const v1 = data(2 * MiB, 1)
    await store.put('x', streamFromBytes(v1, 65536))
    await expect(store.put('x', failingBody(data(MiB, 2), new Error('cut')))).rejects.toThrow('cut')
    expect(Buffer.from(await readAll(store.get('x', 0, v1.length), v1.length)).equals(Buffer.from(v1))).toBe(true)
    expect(await disk.list('tmp')).toEqual([])
  })

  it('a disk write failure cancels the body and leaves nothing', async () => {
    const disk = await newDisk()
    let cancelled: unknown
    const full = new Error('ENOSPC')
    const failing: Disk = {
      ...disk,
      async create(path) {
        const w = await disk.create(path)
        let n = 0
        return {
          ...w,
          write: (c) => (++n > 1 ? Promise.reject(full) : w.write(c)),
          writev: (c) => (++n > 1 ? Promise.reject(full) : w.writev!(c)),
        }
      },
    }
    const store = createDiskStore('d0', failing)
    const body = new ReadableStream<Uint8Array>({
      pull: (c) => c.enqueue(new Uint8Array(65536)),
      cancel: (r) => {
        cancelled = r
      },
    })
    expect(await store.put('y', body).catch((e) => e)).toBe(full)
    expect(cancelled).toBe(full)
    expect(await names(store)).toEqual([])
    expect(await disk.list('tmp')).toEqual([])
    expect(disk.openFiles()).toBe(0)
  })

  it('a full filesystem (ENOSPC) is StoreFull: the body is cancelled with it, nothing is left', async () => {
    const disk = await newDisk()
    let cancelled: unknown
    const enospc = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
    const failing: Disk = {
      ...disk,
      async create(path) {
        const w = await disk.create(path)
        let n = 0
        return {
          ...w,
          write: (c) => (++n > 1 ? Promise.reject(enospc) : w.write(c)),
          writev: (c) => (++n > 1 ? Promise.reject(enospc) : w.writev!(c)),
        }
      },
    }
    const store = createDiskStore('d0', failing)
    const body = new ReadableStream<Uint8Array>({
      pull: (c) => c.enqueue(new Uint8Array(2 * MiB)),
      cancel: (r) => {
        cancelled = r
      },
    })
    const err = await store.put('y', body).catch((e) => e)
    expect(err).toBeInstanceOf(StoreFull)
    expect((err as StoreFull).message).toMatch(/drive d0 is full \(ENOSPC\)/)
    expect(cancelled).toBe(err)
    expect(await names(store)).toEqual([])
    expect(await disk.list('tmp')).toEqual([])
    expect(disk.openFiles()).toBe(0)
  })

  it('concurrent puts of one name end with exactly one complete body', async () => {
    const disk = await newDisk()
    const store = createDiskStore('d0', disk)
    const a = data(2 * MiB + 1, 11)
    const b = data(2 * MiB + 1, 22)
    await Promise.all([store.put('same', streamFromBytes(a, 65536)), store.put('same', streamFromBytes(b, 16384))])
    const got = Buffer.from(await readAll(store.get('same', 0, a.length), a.length))
    expect(got.equals(Buffer.from(a)) || got.equals(Buffer.from(b))).toBe(true)
    expect(await names(store)).toEqual(['same'])
    expect(await disk.list('tmp')).toEqual([])
  })

  it('works with a Disk whose rename does not create the fan-out directory', async () => {
    const disk = await newDisk({ renameMakesDirs: false })
    const store = createDiskStore('d0', disk)
    await store.put('p', streamFromBytes(data(10)))
    await store.put('q', streamFromBytes(data(10)))
    expect(await names(store)).toEqual(['p', 'q'])
    expect(await readAll(store.get('p', 0, 10), 10)).toEqual(data(10))
  })

  it('rejects names that are not plain file names', async () => {
    const store = createDiskStore('d0', await newDisk())
    for (const bad of ['', '.', '..', '.hidden', 'a/b', '../x', 'a b', 'x'.repeat(201)]) {
      await expect(store.put(bad, streamFromBytes(data(1)))).rejects.toBeInstanceOf(TypeError)
      expect(() => store.get(bad, 0, 0)).toThrow(TypeError)
    }
  })
})

describe('DiskStore get lifecycle', () => {
  it('opens nothing until read, and cancel closes the file', async () => {
    const disk = await newDisk()
    const store = createDiskStore('d0', disk)
    await store.put('big', streamFromBytes(data(5 * MiB), MiB))
    const stream = store.get('big', 0, 5 * MiB)
    await new Promise((r) => setTimeout(r, 20))
    expect(disk.openFiles()).toBe(0) // lazy: nothing opened yet
    const reader = stream.getReader()
    const first = await reader.read()
    expect(first.value!.length).toBe(MiB)
    expect(disk.openFiles()).toBe(1)
    await reader.cancel()
    expect(disk.openFiles()).toBe(0)
  })

  it('a missing shard errors with ShardNotFound; stat is undefined; delete is fine', async () => {
    const disk = await newDisk()
    const store = createDiskStore('d7', disk)
    const err = await readAll(store.get('nope', 0, 10), 100).catch((e) => e)
    expect(err).toBeInstanceOf(ShardNotFound)
    expect(err).toMatchObject({ store: 'd7', shard: 'nope' })
    expect(await store.stat('nope')).toBeUndefined()
    await store.delete('nope')
    expect(disk.openFiles()).toBe(0)
  })

  it('delete removes a shard; list walks every fan-out directory', async () => {
    const store = createDiskStore('d0', await newDisk())
    const all = Array.from({ length: 40 }, (_, i) => `obj-${i}`)
    for (const n of all) await store.put(n, streamFromBytes(data(3)))
    expect(new Set(all.map(fanOut)).size).toBeGreaterThan(10)
    expect(await names(store)).toEqual([...all].sort())
    await store.delete('obj-3')
    expect(await names(store)).toEqual(all.filter((n) => n !== 'obj-3').sort())
  })
})

describe('DiskStore maintenance', () => {
  it('sweepTemp removes crash leftovers but spares writes in flight', async () => {
    const disk = await newDisk()
    const store = createDiskStore('d0', disk)
    for (const n of ['a1', 'b2']) await (await disk.create(`tmp/${n}`)).commit()
    // A put paused mid-body holds a temp file.
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    let step = 0
    const slow = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (step++ === 0) return c.enqueue(data(100))
        await gate
        c.close()
      },
    })
    const pending = store.put('slow', slow)
    for (let i = 0; i < 100 && (await disk.list('tmp')).length < 3; i++) await new Promise((r) => setTimeout(r, 5))
    expect(await store.sweepTemp()).toBe(2)
    release()
    await pending
    expect(await disk.list('tmp')).toEqual([])
    expect(await readAll(store.get('slow', 0, 100), 100)).toEqual(data(100))
  })

  it('healthy() follows disk.check()', async () => {
    const disk = await newDisk()
    expect(await createDiskStore('d0', disk).healthy()).toBe(true)
    const broken: Disk = { ...disk, check: () => Promise.reject(new Error('read-only file system')) }
    expect(await createDiskStore('d0', broken).healthy()).toBe(false)
  })
})

/** The Disk with every write (write or writev) reported to `seen` as its pieces; `gathered` false drops writev. */
function onWrite(disk: Disk, seen: (pieces: Uint8Array[]) => void, gathered = true): Disk {
  return {
    ...disk,
    async create(path) {
      const w = await disk.create(path)
      return {
        ...w,
        write: (c) => {
          seen([c])
          return w.write(c)
        },
        writev: gathered
          ? (c) => {
              seen([...c])
              return w.writev!(c)
            }
          : undefined,
      }
    },
  }
}
