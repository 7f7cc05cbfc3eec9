/**
 * TEST ONLY: a Disk over node:fs/promises for the storage tests, with counters for open files.
 * The production Disk lives in src/runtime/fs-disk.ts; this file is never imported by src code.
 */
import { mkdir, open, readdir, rename, rm, mkdtemp } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { type Disk, type FileReader, type FileWriter, unwritten } from './disk.ts'

export interface TestDisk extends Disk {
  /** Files currently open (readers and writers) through this disk. */
  openFiles(): number
  /** Removes the whole temp directory. */
  destroy(): Promise<void>
}

export interface TestDiskOptions {
  /** Whether rename creates the target's parent directory (default true). */
  renameMakesDirs?: boolean
}

export async function createTestDisk(opts: TestDiskOptions = {}): Promise<TestDisk> {
  const root = await mkdtemp(join(tmpdir(), 'coffer-disk-'))
  let openCount = 0
  const abs = (p: string) => join(root, ...p.split('/'))

  async function syncDir(dir: string): Promise<void> {
    const h = await open(dir, 'r')
    try {
      await h.sync()
    } finally {
      await h.close()
    }
  }

  function writer(h: FileHandle, path: string): FileWriter {
    let closed = false
    const close = async () => {
      if (closed) return
      closed = true
      openCount--
      await h.close()
    }
    return {
      async write(chunk) {
        let off = 0
        while (off < chunk.length) {
          const { bytesWritten } = await h.write(chunk, off, chunk.length - off)
          off += bytesWritten
        }
      },
      async writev(chunks) {
        let rest = chunks.filter((c) => c.length > 0)
        while (rest.length > 0) rest = unwritten(rest, (await h.writev(rest)).bytesWritten)
      },
      async commit() {
        await h.sync()
        await close()
      },
      async abort() {
        await close().catch(() => {})
        await rm(path, { force: true }).catch(() => {})
      },
    }
  }

  return {
    root,
    openFiles: () => openCount,
    destroy: () => rm(root, { recursive: true, force: true }),
    async create(path) {
      const file = abs(path)
      await mkdir(dirname(file), { recursive: true })
      const h = await open(file, 'w')
      openCount++
      return writer(h, file)
    },
    async open(path): Promise<FileReader | undefined> {
      let h: FileHandle
      try {
        h = await open(abs(path), 'r')
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOENT') return undefined
        throw err
      }
      openCount++
      const { size } = await h.stat()
      let closed = false
      return {
        size,
        async read(offset, length, into) {
          const buf = into && into.length >= length ? into.subarray(0, length) : new Uint8Array(length)
          let got = 0
          while (got < length) {
            const { bytesRead } = await h.read(buf, got, length - got, offset + got)
            if (bytesRead === 0) break
            got += bytesRead
          }
          return got === length ? buf : buf.subarray(0, got)
        },
        async close() {
          if (closed) return
          closed = true
          openCount--
          await h.close()
        },
      }
    },
    async rename(from, to) {
      const target = abs(to)
      if (opts.renameMakesDirs ?? true) await mkdir(dirname(target), { recursive: true })
      await rename(abs(from), target)
      await syncDir(dirname(target))
    },
    async remove(path) {
      await rm(abs(path), { force: true })
    },
    async list(dir) {
      try {
        return await readdir(abs(dir))
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOENT') return []
        throw err
      }
    },
    async check() {
      await mkdir(root, { recursive: true })
      const probe = await open(join(root, '.probe'), 'w')
      await probe.close()
      await rm(join(root, '.probe'), { force: true })
    },
  }
}
