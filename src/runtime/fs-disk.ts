/**
 * The Disk port (src/storage/disk.ts) over node:fs/promises, for Node, Deno and Bun: durable
 * writes (fsync file on commit, fsync directory on rename) and paths confined to the root.
 */
import { mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import type { Disk, FileReader, FileWriter } from '../storage/disk.ts'

const errCode = (e: unknown): string | undefined => (e as { code?: string } | null)?.code

/**
 * Turns a port path ('a/b/c', '/' separators, relative) into segments; refuses anything that could
 * leave the root: absolute paths, '..', '.', empty segments, backslashes and NUL.
 */
export function pathSegments(path: string, allowRoot = false): string[] {
  if (allowRoot && (path === '' || path === '.')) return []
  const bad = (why: string) => new TypeError(`disk path ${JSON.stringify(path)} refused: ${why}`)
  if (path === '') throw bad('empty')
  if (path.startsWith('/')) throw bad('absolute paths are not allowed; use a path relative to the drive root')
  if (path.includes('\\') || path.includes('\0')) throw bad("use '/' as the only separator and no NUL")
  const segs = path.split('/')
  for (const s of segs) {
    if (s === '') throw bad('empty segment')
    if (s === '.' || s === '..') throw bad("'.' and '..' segments are not allowed")
  }
  return segs
}

/** fsyncs a directory so that a new or renamed entry in it survives a power loss. */
async function syncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r')
  try {
    await h.sync()
  } finally {
    await h.close()
  }
}

/** mkdir -p; when it created directories, fsyncs the parent of the first one so they persist. */
async function makeDirs(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true })
  if (first !== undefined) {
    // Every directory from `first` down is new: its entry in its parent must reach the disk too.
    let d = dir
    while (d.length >= first.length) {
      await syncDir(dirname(d))
      if (d === first) break
      d = dirname(d)
    }
  }
}

function fileWriter(h: FileHandle, file: string): FileWriter {
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await h.close()
  }
  return {
    async write(chunk) {
      let off = 0
      // write(2) may be short; loop until the whole chunk is handed to the OS.
      while (off < chunk.length) {
        const { bytesWritten } = await h.write(chunk, off, chunk.length - off)
        off += bytesWritten
      }
    },
    async commit() {
      try {
        await h.sync()
      } finally {
        await close()
      }
    },
    async abort() {
      await close().catch(() => {})
      await unlink(file).catch(() => {})
    },
  }
}

async function fileReader(h: FileHandle): Promise<FileReader> {
  const { size } = await h.stat()
  let closed = false
  return {
    size,
    async read(offset, length) {
      const want = Math.max(0, Math.min(length, size - offset))
      const buf = new Uint8Array(want)
      let got = 0
      while (got < want) {
        const { bytesRead } = await h.read(buf, got, want - got, offset + got)
        if (bytesRead === 0) break // the file shrank under us: return what exists
        got += bytesRead
      }
      return got === want ? buf : buf.subarray(0, got)
    },
    async close() {
      if (closed) return
      closed = true
      await h.close()
    },
  }
}

/** A Disk rooted at `root` (made absolute). Nothing touches the filesystem until a method runs. */
export function createFsDisk(root: string): Disk {
  const absRoot = resolve(root)
  const abs = (p: string, allowRoot = false) => join(absRoot, ...pathSegments(p, allowRoot))
  return {
    root: absRoot,
    async create(path) {
      const file = abs(path)
      await makeDirs(dirname(file))
      return fileWriter(await open(file, 'w'), file)
    },
    async open(path) {
      let h: FileHandle
      try {
        h = await open(abs(path), 'r')
      } catch (e) {
        if (errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR') return undefined
        throw e
      }
      try {
        return await fileReader(h)
      } catch (e) {
        await h.close().catch(() => {})
        throw e
      }
    },
    async rename(from, to) {
      const src = abs(from)
      const dst = abs(to)
      await makeDirs(dirname(dst))
      await rename(src, dst)
      await syncDir(dirname(dst))
      // A rename across directories also removed an entry from the source directory.
      if (dirname(src) !== dirname(dst)) await syncDir(dirname(src))
    },
    async remove(path) {
      try {
        await unlink(abs(path))
      } catch (e) {
        if (errCode(e) !== 'ENOENT' && errCode(e) !== 'ENOTDIR') throw e
      }
    },
    async list(dir) {
      try {
        return await readdir(abs(dir, true))
      } catch (e) {
        if (errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR') return []
        throw e
      }
    },
    async check() {
      const probe = join(absRoot, `.probe-${Date.now().toString(36)}`)
      try {
        await makeDirs(absRoot)
        const h = await open(probe, 'w')
        await h.close()
        await unlink(probe)
      } catch (e) {
        throw new Error(`drive ${absRoot} is not usable (${errCode(e) ?? String(e)}): check that it exists, is a directory and is writable, or change --data`)
      }
    },
  }
}
