import { closeSync, constants, openSync, unlinkSync } from 'node:fs'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DIRECT_ALIGN, STAGE_BYTES } from './direct-io.ts'
import { openDrives } from './bootstrap.ts'
import { createFsDisk } from './fs-disk.ts'

let root: string
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-direct-'))
})
afterEach(() => rm(root, { recursive: true, force: true }))

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 7) & 255)

/** Whether the kernel takes O_DIRECT for a plain file here, found without the code under test. */
function kernelTakesDirectIo(dir: string): boolean {
  const O_DIRECT = (constants as { O_DIRECT?: number }).O_DIRECT
  if (O_DIRECT === undefined) return false
  const file = join(dir, 'raw-probe')
  try {
    closeSync(openSync(file, constants.O_WRONLY | constants.O_CREAT | O_DIRECT))
    unlinkSync(file)
    return true
  } catch {
    return false
  }
}

// Lengths around the alignment and the stage: empty, one byte, a block less/more, a stage
// less/exact/more, and several stages with an odd tail.
const lengths = [
  0,
  1,
  DIRECT_ALIGN - 1,
  DIRECT_ALIGN,
  DIRECT_ALIGN + 1,
  STAGE_BYTES - 1,
  STAGE_BYTES,
  STAGE_BYTES + 1,
  3 * STAGE_BYTES + 12_345,
]

describe('bulk files written with direct I/O', () => {
  it('are used where the filesystem takes O_DIRECT, and not when switched off', async () => {
    const direct = createFsDisk(join(root, 'a'))
    await direct.check()
    expect(await direct.bulkWrites()).toBe(kernelTakesDirectIo(root) ? 'direct' : 'buffered')
    const off = createFsDisk(join(root, 'b'), { directIo: false })
    await off.check()
    expect(await off.bulkWrites()).toBe('buffered')
  })

  it("follow the server's --direct-io setting on every drive it opens", async () => {
    const on = await openDrives(join(root, 'on'), 3, { directIo: true })
    const off = await openDrives(join(root, 'off'), 3, { directIo: false })
    expect(await Promise.all(on.map((d) => d.bulkWrites()))).toEqual(
      Array(3).fill(kernelTakesDirectIo(root) ? 'direct' : 'buffered'),
    )
    expect(await Promise.all(off.map((d) => d.bulkWrites()))).toEqual(Array(3).fill('buffered'))
  })

  for (const directIo of [true, false])
    it(`hold exactly the bytes written, for lengths around the block and the stage (directIo ${directIo})`, async () => {
      const disk = createFsDisk(join(root, 'd'), { directIo })
      await disk.check()
      for (const [i, n] of lengths.entries()) {
        const body = bytes(n, i)
        const w = await disk.create(`tmp/f${i}`, { bulk: true })
        // Pieces of uneven sizes, through write and writev, so stage edges fall inside pieces.
        let at = 0
        for (let k = 0; at < n; k++) {
          const size = Math.min(n - at, 1 + ((k * 77_777) % 300_000))
          if (k % 2) await w.write(body.subarray(at, at + size))
          else
            await w.writev!([
              body.subarray(at, at + Math.ceil(size / 2)),
              body.subarray(at + Math.ceil(size / 2), at + size),
            ])
          at += size
        }
        await w.commit()
        const got = await readFile(join(root, 'd', `tmp/f${i}`))
        // The padding of the last stage is gone: exactly n bytes, not a multiple of 4 KiB.
        expect(got.length, `length ${n}`).toBe(n)
        expect(got.equals(body), `bytes of a ${n}-byte file`).toBe(true)
      }
    })

  it('an aborted bulk file is gone, and its stage goes on to the next file', async () => {
    const disk = createFsDisk(join(root, 'e'))
    await disk.check()
    const w = await disk.create('tmp/gone', { bulk: true })
    await w.write(bytes(STAGE_BYTES + 5, 1))
    await w.abort()
    expect(await readdir(join(root, 'e', 'tmp'))).toEqual([])
    // Many files after it, more than one stage's worth each: stages are given back and reused.
    for (let i = 0; i < 40; i++) {
      const body = bytes(STAGE_BYTES + 3 * i, i)
      const next = await disk.create(`tmp/n${i}`, { bulk: true })
      await next.write(body)
      await next.commit()
      expect((await readFile(join(root, 'e', `tmp/n${i}`))).equals(body)).toBe(true)
    }
  })

  it('many bulk files at once (more than the stages there are) all hold their bytes', async () => {
    const disk = createFsDisk(join(root, 'f'))
    await disk.check()
    const bodies = Array.from({ length: 150 }, (_, i) => bytes(DIRECT_ALIGN * 3 + i, i))
    const writers = await Promise.all(bodies.map((_, i) => disk.create(`tmp/c${i}`, { bulk: true })))
    await Promise.all(writers.map((w, i) => w.write(bodies[i]!)))
    await Promise.all(writers.map((w) => w.commit()))
    for (const [i, body] of bodies.entries())
      expect((await readFile(join(root, 'f', `tmp/c${i}`))).equals(body), `file ${i}`).toBe(true)
  })
})

describe('bulk files read with direct I/O', () => {
  it('every range of a bulk file reads back its own bytes: unaligned starts and ends, across stages, past the end', async () => {
    const disk = createFsDisk(join(root, 'r'))
    await disk.check()
    const size = 3 * STAGE_BYTES + 5_000
    const body = bytes(size, 9)
    const w = await disk.create('tmp/r', { bulk: true })
    await w.write(body)
    await w.commit()
    const f = (await disk.open('tmp/r', { bulk: true }))!
    try {
      expect(f.size).toBe(size)
      const ranges: [number, number][] = [
        [0, size],
        [0, 1],
        [1, DIRECT_ALIGN],
        [DIRECT_ALIGN - 1, 2],
        [STAGE_BYTES - 3, STAGE_BYTES + 7],
        [12_345, 2 * STAGE_BYTES + 1],
        [size - 10, 100], // past the end: the bytes that exist
        [size, 10],
      ]
      for (const [offset, length] of ranges) {
        const into = new Uint8Array(length + 3)
        const got = await f.read(offset, length, into)
        const want = body.subarray(offset, Math.min(size, offset + length))
        expect(Buffer.from(got).equals(want), `read(${offset}, ${length})`).toBe(true)
        const fresh = await f.read(offset, length)
        expect(Buffer.from(fresh).equals(want), `read(${offset}, ${length}) without a buffer`).toBe(true)
      }
    } finally {
      await f.close()
    }
  })

  it('reads at once, more than the stages there are, each get their own bytes', async () => {
    const disk = createFsDisk(join(root, 's'))
    await disk.check()
    const body = bytes(2 * STAGE_BYTES + 777, 4)
    const w = await disk.create('tmp/s', { bulk: true })
    await w.write(body)
    await w.commit()
    const files = await Promise.all(Array.from({ length: 150 }, () => disk.open('tmp/s', { bulk: true })))
    try {
      const reads = await Promise.all(files.map((f, i) => f!.read(i * 1000, STAGE_BYTES + i)))
      for (const [i, got] of reads.entries())
        expect(Buffer.from(got).equals(body.subarray(i * 1000, i * 1000 + STAGE_BYTES + i)), `reader ${i}`).toBe(true)
    } finally {
      await Promise.all(files.map((f) => f!.close()))
    }
  })
})
