import { closeSync, constants, openSync, unlinkSync } from 'node:fs'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { FileHandle } from 'node:fs/promises'
import {
  DIRECT_ALIGN,
  directReader,
  openDirectRead,
  READ_WINDOW_BYTES,
  STAGE_BYTES,
  StagePool,
  windowsOut,
} from './direct-io.ts'
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

  /** A shard's read unit at the default geometry: a 256 KiB block and its 4-byte checksum. */
  const UNIT = 256 * 1024 + 4

  /** A bulk file of `units` read units and a short tail, written through the disk; its path and bytes. */
  async function unitFile(dir: string, units: number) {
    const disk = createFsDisk(join(root, dir))
    await disk.check()
    const body = bytes(units * UNIT + 1_234, units)
    const w = await disk.create('tmp/u', { bulk: true })
    await w.write(body)
    await w.commit()
    return { disk, body, path: join(root, dir, 'tmp/u') }
  }

  /** A direct reader of `path` whose handle counts its reads (the syscalls a GET pays for). */
  async function countingReader(path: string) {
    const h = await openDirectRead(path)
    const counter = { reads: 0 }
    const counted = new Proxy(h, {
      get(target, p) {
        const v = Reflect.get(target, p, target)
        if (p === 'read')
          return (...args: unknown[]) => {
            counter.reads++
            return v.apply(target, args)
          }
        return typeof v === 'function' ? v.bind(target) : v
      },
    }) as FileHandle
    const reader = await directReader(counted, () => Promise.reject(new Error('no buffered fallback expected')))
    return { reader, counter }
  }

  it('reading in order, unit by unit, reads a window at a time: its bytes exact, a read per window, not two per unit', async () => {
    if (!kernelTakesDirectIo(root)) return // direct reads need O_DIRECT here
    const units = 40
    const { body, path } = await unitFile('w', units)
    const { reader, counter } = await countingReader(path)
    try {
      for (let at = 0; at < body.length; at += UNIT) {
        const got = await reader.read(at, UNIT, new Uint8Array(UNIT))
        expect(Buffer.from(got).equals(body.subarray(at, at + UNIT)), `unit at ${at}`).toBe(true)
      }
      // The first read is exact (nothing says the reads go on in order); then a read per window.
      const perWindow = Math.floor((READ_WINDOW_BYTES - DIRECT_ALIGN) / UNIT)
      expect(perWindow).toBeGreaterThanOrEqual(2)
      expect(counter.reads).toBeLessThanOrEqual(1 + Math.ceil(units / perWindow) + 1)
      expect(windowsOut()).toBe(1)
    } finally {
      await reader.close()
    }
    expect(windowsOut()).toBe(0)
  })

  it('reads out of order, repeated, and longer than a window read their own bytes through the window', async () => {
    if (!kernelTakesDirectIo(root)) return
    const units = 12
    const { body, path } = await unitFile('o', units)
    const { reader } = await countingReader(path)
    try {
      const order = [5, 6, 2, 2, 11, 0, 1, 7, 12, 3]
      for (const u of order) {
        const got = await reader.read(u * UNIT, UNIT)
        expect(Buffer.from(got).equals(body.subarray(u * UNIT, (u + 1) * UNIT)), `unit ${u}`).toBe(true)
      }
      const long = await reader.read(100, 3 * READ_WINDOW_BYTES + 17)
      expect(Buffer.from(long).equals(body.subarray(100, 100 + 3 * READ_WINDOW_BYTES + 17))).toBe(true)
      const next = await reader.read(100 + long.length, UNIT)
      expect(Buffer.from(next).equals(body.subarray(100 + long.length, 100 + long.length + UNIT))).toBe(true)
    } finally {
      await reader.close()
    }
  })

  it('more readers in order at once than there are windows each read their own bytes, and give every window back', async () => {
    if (!kernelTakesDirectIo(root)) return
    const units = 9
    const { disk, body } = await unitFile('m', units)
    const files = await Promise.all(Array.from({ length: 60 }, () => disk.open('tmp/u', { bulk: true })))
    try {
      await Promise.all(
        files.map(async (f, i) => {
          // Each reader starts elsewhere, so the windows hold different spans of the same file.
          for (let u = i % units; u < units; u++) {
            const got = await f!.read(u * UNIT, UNIT, new Uint8Array(UNIT))
            expect(Buffer.from(got).equals(body.subarray(u * UNIT, (u + 1) * UNIT)), `reader ${i} unit ${u}`).toBe(true)
          }
        }),
      )
      expect(windowsOut()).toBeGreaterThan(0)
    } finally {
      await Promise.all(files.map((f) => f!.close()))
    }
    expect(windowsOut()).toBe(0)
  })

  it('a reader closed while a read fills its window gives the window back when that read ends', async () => {
    if (!kernelTakesDirectIo(root)) return
    const { body, path } = await unitFile('c', 8)
    const { reader } = await countingReader(path)
    await reader.read(0, UNIT)
    const inFlight = reader.read(UNIT, UNIT) // in order: fills the window
    const closing = reader.close()
    const got = await inFlight.catch(() => undefined)
    await closing
    // The read may finish or fail on the closed handle; it never returns wrong bytes.
    if (got) expect(Buffer.from(got).equals(body.subarray(UNIT, 2 * UNIT))).toBe(true)
    expect(windowsOut()).toBe(0)
  })
})

describe('stage pools', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

  it('lend at most their cap, and the oldest arena first', () => {
    const pool = new StagePool(DIRECT_ALIGN, 2, 4, 60_000)
    const leased = Array.from({ length: 4 }, () => pool.lease())
    expect(leased.every((s) => s?.length === DIRECT_ALIGN)).toBe(true)
    expect(pool.lease()).toBeUndefined()
    expect(pool.arenaCount).toBe(2)
    expect(pool.out).toBe(4)
    // Stages of one arena share its memory; a stage given back is lent again before a newer arena's.
    expect(leased[0]!.buffer).toBe(leased[1]!.buffer)
    pool.give(leased[3]!)
    pool.give(leased[0]!)
    expect(pool.lease()!.buffer).toBe(leased[0]!.buffer)
  })

  it('let an arena go once all its stages have been back for the idle time, and keep one with a stage out', async () => {
    const pool = new StagePool(DIRECT_ALIGN, 2, 8, 40)
    const [a1, a2, b1] = [pool.lease()!, pool.lease()!, pool.lease()!]
    expect(pool.arenaCount).toBe(2)
    pool.give(a1)
    pool.give(a2)
    await sleep(150)
    expect(pool.arenaCount).toBe(1) // the first went; the second still has b1 out
    // b1 is still usable memory of a held arena, and comes back as usual.
    b1.fill(7)
    pool.give(b1)
    await sleep(150)
    expect(pool.arenaCount).toBe(0)
    expect(pool.out).toBe(0)
    // A pool let go of everything makes a new arena on the next lease.
    expect(pool.lease()?.length).toBe(DIRECT_ALIGN)
    expect(pool.arenaCount).toBe(1)
  })

  it('keep an arena that was lent again before its idle time ran out', async () => {
    const pool = new StagePool(DIRECT_ALIGN, 1, 4, 80)
    pool.give(pool.lease()!)
    await sleep(20)
    const again = pool.lease()!
    await sleep(150)
    expect(pool.arenaCount).toBe(1)
    pool.give(again)
  })
})
