import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { makeDirs, writeFileDurably } from './durable-file.ts'

// Durability itself (the fsyncs and their order) is checked from strace: test/dare/key-file-power-loss.test.ts,
// test/cluster/power-loss.test.ts. These cases are the rest of the contract.
describe('writeFileDurably', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'coffer-durable-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('replaces the file whole, with exactly the mode asked, even over a leftover temp file of another mode', async () => {
    const file = join(dir, 'secret')
    await writeFile(file, 'old')
    await writeFile(`${file}.tmp`, 'half a secret from a crash, and longer than the new one', { mode: 0o644 })
    await writeFileDurably(file, 'new', { mode: 0o600 })
    expect(await readFile(file, 'utf8')).toBe('new')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(await readdir(dir)).toEqual(['secret'])
  })

  it('exclusive: refuses a temp name that exists, and leaves that file and the target alone', async () => {
    const file = join(dir, 'cluster.json')
    const tmp = join(dir, 'cluster.json.abc.tmp')
    await writeFile(file, 'kept')
    await writeFile(tmp, 'not ours')
    await expect(writeFileDurably(file, 'new', { mode: 0o600, tmp, exclusive: true })).rejects.toMatchObject({
      code: 'EEXIST',
    })
    expect(await readFile(tmp, 'utf8')).toBe('not ours')
    expect(await readFile(file, 'utf8')).toBe('kept')
  })

  it('removes its temp file when the rename fails', async () => {
    const file = join(dir, 'no-such-dir', 'f')
    const tmp = join(dir, 'f.tmp')
    await expect(writeFileDurably(file, 'x', { mode: 0o600, tmp })).rejects.toMatchObject({ code: 'ENOENT' })
    expect(await readdir(dir)).toEqual([])
  })
})

describe('makeDirs', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'coffer-durable-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('syncs the parent of every directory it made, and nothing when they all existed', async () => {
    const synced: string[] = []
    const sync = async (d: string) => {
      synced.push(d)
    }
    await makeDirs(join(dir, 'a', 'b', 'c'), sync)
    expect(synced.sort()).toEqual([dir, join(dir, 'a'), join(dir, 'a', 'b')])
    synced.length = 0
    await makeDirs(join(dir, 'a', 'b'), sync)
    expect(synced).toEqual([])
  })
})
