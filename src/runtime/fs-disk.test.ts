import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Disk } from '../storage/disk.ts'
import { coalescing, createFsDisk, pathSegments } from './fs-disk.ts'

let root: string
let disk: Disk
const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255)

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-fsdisk-'))
  disk = createFsDisk(join(root, 'drive'))
  await disk.check()
})
afterEach(() => rm(root, { recursive: true, force: true }))

describe('fs disk', () => {
  it('create → write → commit makes a durable file with exactly the bytes written, parents created', async () => {
    const a = bytes(100_000)
    const b = bytes(3, 7)
    const w = await disk.create('x/y/z.bin')
    await w.write(a)
    await w.write(b)
    await w.commit()
    const onDisk = await readFile(join(root, 'drive/x/y/z.bin'))
    expect(onDisk.length).toBe(a.length + b.length)
    expect(Buffer.compare(onDisk.subarray(0, a.length), a)).toBe(0)
    expect(Buffer.compare(onDisk.subarray(a.length), b)).toBe(0)
  })

  it('writev appends the pieces in order after earlier writes (views into larger buffers, empty pieces, 2,000 pieces)', async () => {
    const big = bytes(10_000, 3)
    const pieces = [big.subarray(10, 5000), new Uint8Array(0), bytes(1, 9), big.subarray(5000)]
    const many = Array.from({ length: 2000 }, (_, i) => bytes(1 + (i % 7), i))
    const w = await disk.create('v/file')
    await w.write(bytes(5, 1))
    await w.writev!(pieces)
    await w.writev!(many)
    await w.commit()
    const want = Buffer.concat([bytes(5, 1), ...pieces, ...many])
    expect(Buffer.compare(await readFile(join(root, 'drive/v/file')), want)).toBe(0)
  })

  it('create truncates an existing file', async () => {
    await writeFile(join(root, 'drive/t'), 'a much longer previous content')
    const w = await disk.create('t')
    await w.write(new TextEncoder().encode('new'))
    await w.commit()
    expect(await readFile(join(root, 'drive/t'), 'utf8')).toBe('new')
  })

  it('abort removes the partial file and never throws, even twice', async () => {
    const w = await disk.create('tmp/partial')
    await w.write(bytes(10))
    await w.abort()
    await w.abort()
    expect(await disk.open('tmp/partial')).toBeUndefined()
    expect(await disk.list('tmp')).toEqual([])
  })

  it('open reads ranges, short only at end of file; size is the file size', async () => {
    const data = bytes(5000, 3)
    const w = await disk.create('r')
    await w.write(data)
    await w.commit()
    const r = (await disk.open('r'))!
    expect(r.size).toBe(5000)
    expect(Array.from(await r.read(0, 10))).toEqual(Array.from(data.subarray(0, 10)))
    expect(Array.from(await r.read(4990, 10))).toEqual(Array.from(data.subarray(4990)))
    expect((await r.read(4995, 100)).length).toBe(5)
    expect((await r.read(5000, 10)).length).toBe(0)
    expect((await r.read(6000, 10)).length).toBe(0)
    await r.close()
    await r.close()
  })

  it("read fills a caller's buffer when given one big enough, and returns a view of it", async () => {
    const data = bytes(5000, 4)
    const w = await disk.create('into')
    await w.write(data)
    await w.commit()
    const r = (await disk.open('into'))!
    const into = new Uint8Array(64).fill(0xee)
    const got = await r.read(100, 64, into)
    expect(got.buffer).toBe(into.buffer)
    expect(Array.from(got)).toEqual(Array.from(data.subarray(100, 164)))
    // Short at end of file: a view of the first bytes, the rest of the buffer untouched.
    const tail = await r.read(4990, 64, into)
    expect(tail.buffer).toBe(into.buffer)
    expect(Array.from(tail)).toEqual(Array.from(data.subarray(4990)))
    // Too small a buffer is not written past: the read gets memory of its own.
    const small = new Uint8Array(8)
    const own = await r.read(0, 64, small)
    expect(own.buffer).not.toBe(small.buffer)
    expect(Array.from(own)).toEqual(Array.from(data.subarray(0, 64)))
    await r.close()
  })

  it('open resolves undefined for a missing file or a missing directory', async () => {
    expect(await disk.open('nope')).toBeUndefined()
    expect(await disk.open('no/such/dir/file')).toBeUndefined()
  })

  it('rename moves atomically into a new directory and replaces an existing target', async () => {
    for (const [name, text] of [
      ['tmp/a', 'first'],
      ['tmp/b', 'second'],
    ] as const) {
      const w = await disk.create(name)
      await w.write(new TextEncoder().encode(text))
      await w.commit()
    }
    await disk.rename('tmp/a', 'shards/ab/obj')
    expect(await readFile(join(root, 'drive/shards/ab/obj'), 'utf8')).toBe('first')
    await disk.rename('tmp/b', 'shards/ab/obj')
    expect(await readFile(join(root, 'drive/shards/ab/obj'), 'utf8')).toBe('second')
    expect(await disk.list('tmp')).toEqual([])
  })

  it('list names the entries of a directory, [] when it does not exist, root with ""', async () => {
    for (const n of ['d/one', 'd/two', 'd/sub/three']) await (await disk.create(n)).commit()
    expect((await disk.list('d')).sort()).toEqual(['one', 'sub', 'two'])
    expect(await disk.list('missing')).toEqual([])
    expect(await disk.list('')).toEqual(['d'])
  })

  it('remove deletes a file; a missing file is not an error', async () => {
    await (await disk.create('gone')).commit()
    await disk.remove('gone')
    expect(await disk.open('gone')).toBeUndefined()
    await expect(disk.remove('gone')).resolves.toBeUndefined()
    await expect(disk.remove('no/dir/file')).resolves.toBeUndefined()
  })

  it.each(['../escape', 'a/../../escape', '/etc/passwd', 'a//b', './a', 'a/.', 'a\\..\\b', '', 'a\0b'])(
    'refuses path %j on every operation',
    async (p) => {
      await expect(disk.create(p)).rejects.toThrow(/refused/)
      await expect(disk.open(p)).rejects.toThrow(/refused/)
      await expect(disk.rename('x', p)).rejects.toThrow(/refused/)
      await expect(disk.rename(p, 'x')).rejects.toThrow(/refused/)
      await expect(disk.remove(p)).rejects.toThrow(/refused/)
      if (p !== '') await expect(disk.list(p)).rejects.toThrow(/refused/)
    },
  )

  it('nothing was written outside the root by the refused paths', async () => {
    await disk.create('../escape').catch(() => {})
    await expect(stat(join(root, 'escape'))).rejects.toThrow()
  })

  it('check creates a missing root and fails clearly when the root is a file', async () => {
    const d = createFsDisk(join(root, 'new/drive'))
    await d.check()
    expect((await stat(join(root, 'new/drive'))).isDirectory()).toBe(true)
    await writeFile(join(root, 'file'), 'x')
    await expect(createFsDisk(join(root, 'file')).check()).rejects.toThrow(/not usable.*--data/)
  })

  it('pathSegments splits valid paths', () => {
    expect(pathSegments('a/b.c/d-e')).toEqual(['a', 'b.c', 'd-e'])
    expect(pathSegments('', true)).toEqual([])
  })

  it('concurrent renames into one new directory all land, and the temp entries are gone', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `n${i}`)
    for (const n of names) {
      const w = await disk.create(`tmp/${n}`)
      await w.write(new TextEncoder().encode(n))
      await w.commit()
    }
    await Promise.all(names.map((n) => disk.rename(`tmp/${n}`, `shards/cd/${n}`)))
    expect((await disk.list('shards/cd')).sort()).toEqual([...names].sort())
    for (const n of names) expect(await readFile(join(root, `drive/shards/cd/${n}`), 'utf8')).toBe(n)
    expect(await disk.list('tmp')).toEqual([])
  })

  it('rename of a missing source fails with ENOENT', async () => {
    await expect(disk.rename('tmp/none', 'shards/ef/x')).rejects.toMatchObject({ code: 'ENOENT' })
  })
})

describe('coalescing directory syncs', () => {
  /** A sync function whose calls finish only when the test says so. */
  function manual() {
    const calls: { key: string; finish: (err?: Error) => void }[] = []
    const sync = (key: string) =>
      new Promise<void>((resolve, reject) => {
        calls.push({ key, finish: (err) => (err ? reject(err) : resolve()) })
      })
    return { calls, sync }
  }
  const tick = () => new Promise((r) => setTimeout(r, 0))

  it('runs one sync at a time per key; callers arriving meanwhile share the next one', async () => {
    const { calls, sync } = manual()
    const shared = coalescing(sync)
    const order: string[] = []
    const first = shared('a').then(() => order.push('first'))
    await tick()
    expect(calls.length).toBe(1)
    // Arrive while the first sync runs: it may predate their change, so they wait for another.
    const late = [shared('a'), shared('a'), shared('a')].map((p, i) => p.then(() => order.push(`late${i}`)))
    await tick()
    expect(calls.length).toBe(1)
    calls[0]!.finish()
    await first
    await tick()
    expect(order).toEqual(['first'])
    expect(calls.length).toBe(2) // one shared follow-up for the three late callers
    calls[1]!.finish()
    await Promise.all(late)
    expect(order).toEqual(['first', 'late0', 'late1', 'late2'])
    expect(calls.length).toBe(2)
  })

  it('keeps keys independent, reports errors to the callers of the failed sync, and starts afresh', async () => {
    const { calls, sync } = manual()
    const shared = coalescing(sync)
    const a = shared('a')
    const b = shared('b')
    await tick()
    expect(calls.map((c) => c.key)).toEqual(['a', 'b'])
    calls[0]!.finish(new Error('EIO'))
    calls[1]!.finish()
    await expect(a).rejects.toThrow('EIO')
    await expect(b).resolves.toBeUndefined()
    await tick()
    const again = shared('a')
    await tick()
    expect(calls.length).toBe(3)
    calls[2]!.finish()
    await expect(again).resolves.toBeUndefined()
  })

  it('a follow-up sync that fails rejects every caller that shared it', async () => {
    const { calls, sync } = manual()
    const shared = coalescing(sync)
    const first = shared('d')
    await tick()
    const joined = [shared('d'), shared('d')]
    calls[0]!.finish()
    await first
    await tick()
    calls[1]!.finish(new Error('ENOSPC'))
    for (const p of joined) await expect(p).rejects.toThrow('ENOSPC')
  })
})
