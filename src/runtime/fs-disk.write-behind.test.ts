/**
 * Write-behind (fs-disk.ts `fileWriter`): the early fdatasyncs started while a file is written
 * must never stand in for the last one, and a failed one must fail the commit. The handle here
 * models what a power loss leaves, as Linux behaves: a sync writes out the bytes written before it
 * began; a sync that fails loses the bytes it was writing (the kernel marks those pages clean and
 * reports the error once), and later syncs succeed without them. A real file is written through
 * createFsDisk with the same sizes at the end.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createFsDisk, fileWriter, WRITE_BEHIND, type WritableHandle } from './fs-disk.ts'

const KiB = 1024
function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 10)) & 255
  return b
}

/** A file handle over a page cache and a disk; `crash()` is the file a power loss now leaves. */
function powerLossHandle(failSyncs: ReadonlySet<number> = new Set()) {
  let cache = new Uint8Array(0)
  let length = 0
  let disk = new Uint8Array(0) // what the disk holds; never-written bytes read back as zeros
  let clean = 0 // the page cache up to here has been written out (or lost) by a sync
  let syncs = 0
  let inFlight = 0
  let closed = false
  let closedUnderSync = false
  const turn = () => new Promise((r) => setImmediate(r))
  const append = (b: Uint8Array) => {
    if (closed) throw Object.assign(new Error('EBADF: file closed'), { code: 'EBADF' })
    if (length + b.length > cache.length) {
      const next = new Uint8Array(Math.max(2 * cache.length, length + b.length))
      next.set(cache.subarray(0, length))
      cache = next
    }
    cache.set(b, length)
    length += b.length
  }
  const handle = {
    async write(b: Uint8Array, off = 0, len = b.length - off) {
      await turn()
      append(b.subarray(off, off + len))
      return { bytesWritten: len, buffer: b }
    },
    async writev(chunks: readonly Uint8Array[]) {
      await turn()
      let n = 0
      for (const c of chunks) {
        append(c)
        n += c.length
      }
      return { bytesWritten: n, buffers: chunks }
    },
    async datasync() {
      if (closed) throw Object.assign(new Error('EBADF: file closed'), { code: 'EBADF' })
      const n = syncs++
      const from = clean
      const to = length // what was written before the sync began
      inFlight++
      await turn()
      await turn()
      inFlight--
      clean = Math.max(clean, to)
      if (failSyncs.has(n)) throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })
      if (to > disk.length) {
        const next = new Uint8Array(to)
        next.set(disk)
        disk = next
      }
      disk.set(cache.subarray(from, to), from)
    },
    async close() {
      // A descriptor closed under a running sync may be reused by the next open(): never do that.
      if (inFlight > 0) closedUnderSync = true
      closed = true
    },
  }
  return {
    handle: handle as unknown as WritableHandle,
    syncs: () => syncs,
    closedUnderSync: () => closedUnderSync,
    crash(): Uint8Array {
      const out = new Uint8Array(length)
      out.set(disk.subarray(0, length))
      return out
    },
  }
}

/** Writes `data` in 256 KiB gathered writes, as the disk store hands a shard over. */
async function writeAll(w: ReturnType<typeof fileWriter>, data: Uint8Array): Promise<void> {
  for (let at = 0; at < data.length; at += 256 * KiB)
    await w.writev!([data.subarray(at, at + 128 * KiB), data.subarray(at + 128 * KiB, at + 256 * KiB)])
}

describe('fs-disk write-behind', () => {
  it('starts syncs while the file is written, and a committed file survives a power loss whole', async () => {
    const data = bytes(3 * WRITE_BEHIND + 300 * KiB)
    const f = powerLossHandle()
    const w = fileWriter(f.handle, '/nowhere/shard')
    await writeAll(w, data)
    const early = f.syncs()
    expect(early).toBeGreaterThan(0) // the kernel was asked to write out while bytes were arriving
    await w.commit()
    expect(f.syncs()).toBe(early + 1) // and commit's own sync ran after the last write
    expect(Buffer.compare(f.crash(), data)).toBe(0)
  })

  it('a failed write-behind sync fails the commit: the later sync succeeds but those bytes are gone', async () => {
    const data = bytes(3 * WRITE_BEHIND)
    const f = powerLossHandle(new Set([0]))
    const w = fileWriter(f.handle, '/nowhere/shard')
    await writeAll(w, data)
    // Were the error dropped, commit would acknowledge a file whose first MiB the disk never got.
    await expect(w.commit()).rejects.toMatchObject({ code: 'EIO' })
    expect(Buffer.compare(f.crash(), data)).not.toBe(0)
  })

  it('commit and abort wait for a write-behind sync still in flight before closing', async () => {
    for (const end of ['commit', 'abort'] as const) {
      const f = powerLossHandle()
      const w = fileWriter(f.handle, '/nowhere/shard')
      await w.writev!([bytes(WRITE_BEHIND)]) // starts a sync, which takes two more turns
      if (end === 'commit') await w.commit()
      else await w.abort()
      expect(f.syncs()).toBe(end === 'commit' ? 2 : 1)
      expect(f.closedUnderSync()).toBe(false)
    }
  })

  it('files below the threshold get only the sync of commit', async () => {
    const f = powerLossHandle()
    const w = fileWriter(f.handle, '/nowhere/shard')
    await writeAll(w, bytes(WRITE_BEHIND - 256 * KiB))
    await w.commit()
    expect(f.syncs()).toBe(1)
  })

  it('a real file written past several write-behind syncs reads back exactly', async () => {
    const root = await mkdtemp(join(tmpdir(), 'coffer-wb-'))
    try {
      const disk = createFsDisk(root)
      const data = bytes(4 * WRITE_BEHIND + 12_345, 5)
      const w = await disk.create('d/big')
      await writeAll(w, data)
      await w.commit()
      expect(Buffer.compare(await readFile(join(root, 'd/big')), data)).toBe(0)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})
