import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Disk } from '../storage/disk.ts'
import { createFsDisk, pathSegments } from './fs-disk.ts'

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

  it('open resolves undefined for a missing file or a missing directory', async () => {
    expect(await disk.open('nope')).toBeUndefined()
    expect(await disk.open('no/such/dir/file')).toBeUndefined()
  })

  it('rename moves atomically into a new directory and replaces an existing target', async () => {
    for (const [name, text] of [['tmp/a', 'first'], ['tmp/b', 'second']] as const) {
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
})
