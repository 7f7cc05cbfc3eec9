/**
 * TEST ONLY: an in-memory Disk that models what a power loss leaves. A file's bytes survive only
 * as of its last commit() (fdatasync); a name survives only once its directory was synced, which
 * the port does in rename() for the target's directory (src/storage/disk.ts). `crash()` returns a
 * fresh Disk holding exactly that image: every write not synced is dropped. Never imported by src.
 */
import type { Disk, FileReader, FileWriter } from './disk.ts'

interface Inode {
  /** What the page cache holds: every write so far. */
  data: Uint8Array
  /** What the disk holds: the bytes as of the last commit(); undefined before the first. */
  durable?: Uint8Array
}

export interface PowerLossDisk extends Disk {
  /** The disk as a power loss now would leave it (this disk carries on unchanged). */
  crash(): PowerLossDisk
  /** How many gathered writes (FileWriter.writev) this disk has taken. */
  gatheredWrites(): number
}

const dirOf = (path: string): string => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '')

export function createPowerLossDisk(name: string, image: Map<string, Uint8Array> = new Map()): PowerLossDisk {
  const live = new Map<string, Inode>()
  let gathered = 0
  const durable = new Map<string, Inode>()
  for (const [path, bytes] of image) {
    const inode: Inode = { data: bytes, durable: bytes }
    live.set(path, inode)
    durable.set(path, inode)
  }

  /** fsync of a directory: its entries on disk become exactly the live ones. */
  function syncDir(dir: string): void {
    for (const path of [...durable.keys()]) if (dirOf(path) === dir && !live.has(path)) durable.delete(path)
    for (const [path, inode] of live) if (dirOf(path) === dir) durable.set(path, inode)
  }

  function writer(path: string, inode: Inode): FileWriter {
    const write = async (chunk: Uint8Array) => {
      const next = new Uint8Array(inode.data.length + chunk.length)
      next.set(inode.data)
      next.set(chunk, inode.data.length)
      inode.data = next
    }
    return {
      write,
      async writev(chunks) {
        gathered++
        // The bytes land a turn of the event loop later, as a write on the thread pool does: a
        // caller that did not wait for it would fsync (commit) before they are in the file.
        await new Promise((r) => setImmediate(r))
        for (const c of chunks) await write(c)
      },
      async commit() {
        inode.durable = inode.data.slice()
      },
      async abort() {
        if (live.get(path) === inode) live.delete(path)
      },
    }
  }

  return {
    root: `power-loss:${name}`,
    async create(path) {
      const inode: Inode = { data: new Uint8Array(0) }
      live.set(path, inode)
      return writer(path, inode)
    },
    async open(path): Promise<FileReader | undefined> {
      const inode = live.get(path)
      if (!inode) return undefined
      const data = inode.data
      return {
        size: data.length,
        async read(offset, length) {
          return data.slice(offset, Math.min(data.length, offset + length))
        },
        async close() {},
      }
    },
    async rename(from, to) {
      const inode = live.get(from)
      if (!inode) throw Object.assign(new Error(`ENOENT: ${from}`), { code: 'ENOENT' })
      live.delete(from)
      live.set(to, inode)
      syncDir(dirOf(to))
    },
    async remove(path) {
      live.delete(path)
    },
    async list(dir) {
      const prefix = dir === '' ? '' : `${dir}/`
      const names = new Set<string>()
      for (const path of live.keys()) if (path.startsWith(prefix)) names.add(path.slice(prefix.length).split('/')[0]!)
      return [...names]
    },
    async check() {},
    crash() {
      const survived = new Map<string, Uint8Array>()
      // A name that reached the disk whose bytes never did reads back empty.
      for (const [path, inode] of durable) survived.set(path, inode.durable?.slice() ?? new Uint8Array(0))
      return createPowerLossDisk(`${name}'`, survived)
    },
    gatheredWrites: () => gathered,
  }
}
