/**
 * The Disk port (src/storage/disk.ts) over node:fs/promises, for Node, Deno and Bun: durable
 * writes (fdatasync file on commit, fsync target directory on rename) and paths confined to the root.
 */
import { open, readdir, rename, stat, statfs, unlink, type FileHandle } from 'node:fs/promises'
import {
  directReader,
  directWriter,
  leaseStage,
  openDirect,
  openDirectRead,
  probeDirectIo,
  returnStage,
} from './direct-io.ts'
import { dirname, join, resolve } from 'node:path'
import { makeDirs, syncDir } from './durable-file.ts'
import { type Disk, type FileReader, type FileWriter, unwritten } from '../storage/disk.ts'
import type { SpaceReport } from '../storage/shard-store.ts'
import { coalescing } from '../util/coalescing.ts'

export { coalescing }

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

/**
 * Makes a file that another handle (SQLite's) wrote durable: fdatasync through a handle of our
 * own — the kernel flushes the file's dirty pages whichever descriptor wrote them — and, the
 * first time each inode is seen, an fsync of its directory, so a newly created file's name
 * survives too. A missing file has nothing to flush. For the metadata's group commit
 * (OpenDbOptions.syncFile): it runs on the thread pool, not on the request thread.
 */
export function fileSyncer(): (path: string) => Promise<void> {
  const known = new Map<string, number>()
  return async (path) => {
    let h: FileHandle
    try {
      h = await open(path, 'r')
    } catch (e) {
      if (errCode(e) === 'ENOENT') return
      throw e
    }
    let ino: number
    try {
      await h.datasync()
      ino = (await h.stat()).ino
    } finally {
      await h.close()
    }
    if (known.get(path) !== ino) {
      await syncDir(dirname(path))
      known.set(path, ino)
    }
  }
}

/** Runs `op`; on ENOENT (a missing parent directory) makes the parents of `file` and runs it again. */
async function withParents<T>(file: string, op: () => Promise<T>, sync: (dir: string) => Promise<void>): Promise<T> {
  try {
    return await op()
  } catch (e) {
    if (errCode(e) !== 'ENOENT') throw e
  }
  // Parents exist for nearly every call: trying first saves a mkdir per file on the write path.
  await makeDirs(dirname(file), sync)
  return op()
}

function fileWriter(h: FileHandle, file: string): FileWriter {
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await h.close()
  }
  const write = async (chunk: Uint8Array) => {
    let off = 0
    // write(2) may be short; loop until the whole chunk is handed to the OS.
    while (off < chunk.length) {
      const { bytesWritten } = await h.write(chunk, off, chunk.length - off)
      off += bytesWritten
    }
  }
  return {
    write,
    async writev(chunks) {
      // writev(2) may be short too; a runtime without FileHandle.writev gets one joined write.
      if (typeof h.writev !== 'function') return write(Buffer.concat(chunks))
      let rest = chunks.filter((c) => c.length > 0)
      while (rest.length > 0) {
        const { bytesWritten } = await h.writev(rest)
        if (bytesWritten <= 0) throw new Error(`writev to ${file} wrote nothing`)
        rest = unwritten(rest, bytesWritten)
      }
    },
    async commit() {
      try {
        // fdatasync: flushes the data and the metadata needed to read it back (the new size, the
        // block map); only timestamps are left to the next journal commit. Enough for a file
        // that becomes visible by a rename which is itself made durable by a directory fsync.
        await h.datasync()
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
    async read(offset, length, into) {
      const want = Math.max(0, Math.min(length, size - offset))
      const buf = into && into.length >= want ? into : new Uint8Array(want)
      let got = 0
      while (got < want) {
        const { bytesRead } = await h.read(buf, got, want - got, offset + got)
        if (bytesRead === 0) break // the file shrank under us: return what exists
        got += bytesRead
      }
      return got === buf.length ? buf : buf.subarray(0, got)
    },
    async close() {
      if (closed) return
      closed = true
      await h.close()
    },
  }
}

/**
 * Free and total bytes of the filesystem holding `path`, named by its device number so that
 * drives (and the metadata) on one filesystem are counted together. `bavail`: what a writer
 * without root's reserved blocks may use, the figure that decides when writes must stop.
 */
export async function fsSpace(path: string): Promise<SpaceReport> {
  const [fs, st] = await Promise.all([statfs(path), stat(path)])
  return { free: fs.bavail * fs.bsize, total: fs.blocks * fs.bsize, fs: `dev:${st.dev}` }
}

export interface FsDiskOptions {
  /**
   * Write bulk files (Disk.create's `bulk`: shards) with direct I/O where the filesystem takes it
   * (direct-io.ts; probed once). Default true; false writes everything through the page cache.
   */
  directIo?: boolean
}

/** How a Disk writes bulk files: past the page cache, or through it. */
export type BulkMode = 'direct' | 'buffered'

/** A Disk rooted at `root` (made absolute). Nothing touches the filesystem until a method runs. */
export function createFsDisk(root: string, options: FsDiskOptions = {}): Disk & { bulkWrites(): Promise<BulkMode> } {
  const absRoot = resolve(root)
  const abs = (p: string, allowRoot = false) => join(absRoot, ...pathSegments(p, allowRoot))
  // Concurrent renames into one directory share its fsync (one Disk per drive, so per drive).
  const syncShared = coalescing(syncDir)
  let bulkMode: Promise<BulkMode> | undefined
  /**
   * Probed once, at the first bulk file read or written, in the disk's root (so on its
   * filesystem); a probe that cannot even make that directory says nothing and is tried again.
   */
  const bulkWrites = (): Promise<BulkMode> => {
    if (options.directIo === false) return Promise.resolve('buffered')
    bulkMode ??= makeDirs(absRoot, syncShared).then(
      async () => ((await probeDirectIo(absRoot)) ? 'direct' : 'buffered'),
      (e) => {
        bulkMode = undefined
        throw e
      },
    )
    return bulkMode
  }
  const buffered = async (file: string) => fileWriter(await withParents(file, () => open(file, 'w'), syncShared), file)
  return {
    root: absRoot,
    async create(path, o) {
      const file = abs(path)
      if (!o?.bulk || (await bulkWrites().catch(() => 'buffered')) === 'buffered') return buffered(file)
      const stage = leaseStage()
      if (!stage) return buffered(file) // MAX_STAGES files at once: this one through the page cache
      try {
        const h = await withParents(file, async () => (await openDirect(file))!, syncShared)
        return directWriter(h, stage, () =>
          unlink(file).then(
            () => {},
            () => {},
          ),
        )
      } catch (e) {
        returnStage(stage)
        throw e
      }
    },
    /** How bulk files are written (probes when nothing has asked yet). */
    bulkWrites,
    async open(path, o) {
      const file = abs(path)
      // Read as written: past the page cache where bulk files are written so (the first read of
      // a shard just written would otherwise fill fresh page-cache pages, the cost direct writes
      // took off the PUT; §8 "Shard files written with direct I/O").
      const direct = o?.bulk === true && (await bulkWrites().catch(() => 'buffered')) === 'direct'
      let h: FileHandle
      try {
        h = direct ? await openDirectRead(file) : await open(file, 'r')
      } catch (e) {
        if (errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR') return undefined
        throw e
      }
      try {
        return direct ? await directReader(h, async () => fileReader(await open(file, 'r'))) : await fileReader(h)
      } catch (e) {
        await h.close().catch(() => {})
        throw e
      }
    },
    async rename(from, to) {
      const src = abs(from)
      const dst = abs(to)
      await withParents(dst, () => rename(src, dst), syncShared)
      // Durable once the target directory is synced: the new entry points at a file whose data
      // was synced before the rename. The source directory is not synced: at worst a crash
      // brings back its old entry (a temp name), which the start-up temp sweep removes — the
      // renamed file itself cannot be lost through it.
      await syncShared(dirname(dst))
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
    space: () => fsSpace(absRoot),
    async check() {
      const probe = join(absRoot, `.probe-${Date.now().toString(36)}`)
      try {
        await makeDirs(absRoot)
        const h = await open(probe, 'w')
        await h.close()
        await unlink(probe)
      } catch (e) {
        throw new Error(
          `drive ${absRoot} is not usable (${errCode(e) ?? String(e)}): check that it exists, is a directory and is writable, or change --data`,
        )
      }
    },
  }
}
