/**
 * DiskStore: a ShardStore over one Disk (a local drive). Owns the on-drive file layout, atomic
 * temp-fsync-rename writes, lazy ranged reads and the temp sweep. Uses only the Disk port.
 */
import { type BytePool, releaseWritten } from '../util/byte-pool.ts'
import { concatBytes, toHex } from '../util/bytes.ts'
import type { Disk, FileReader, FileWriter } from './disk.ts'
import { hash64 } from './placement.ts'
import { ShardNotFound, type ShardStore, StoreFull } from './shard-store.ts'

/** ShardStore plus the start-up chore only a local drive has. */
export interface DiskStore extends ShardStore {
  /**
   * Removes temp files left by a crash; returns how many. Call at start-up, before serving:
   * writes in flight in this process are spared, but another process's would not be.
   */
  sweepTemp(): Promise<number>
}

// FORMAT: the on-drive layout. Shards live at `shards/<2 hex>/<name>` where the two hex digits are
// the top byte of hash64(name); partial writes live at `tmp/<random>`. DO NOT CHANGE.
const SHARD_DIR = 'shards'
const TEMP_DIR = 'tmp'
/** Marks a fan-out directory created for a Disk whose rename does not make parents (never listed). */
const DIR_MARKER = '.dir'

/**
 * Bytes gathered per disk write: network bodies arrive in 16–64 KiB pieces and a stripe writer's
 * in blocks plus 4-byte checksums; a syscall per piece costs more than gathering them. The pieces
 * gathered keep their stripes alive until written, so this also bounds a write's memory: half a
 * MiB per shard, two stripes of the default geometry (eight 256 MiB PUTs at once, §8).
 */
const WRITE_CHUNK = 512 * 1024
/** Largest read per pull: big enough for throughput, small enough to bound memory per stream. */
const READ_CHUNK = 1024 * 1024
/**
 * Read size for whole-unit reads (the read path's): one 256 KiB block and its checksum at the
 * default geometry. Each shard stream holds the read in hand and one ahead, so a 4+2 GET holds
 * about 2 MiB in reads rather than 8 with 1 MiB reads, and each buffer goes back to the pool as
 * soon as its one block is used. Same CPU per byte in a same-run A/B (docs/architecture.md §8).
 */
const UNIT_READ = 256 * 1024

const SHARD_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/

/** Filesystem errors that mean "no room": the disk is full, or the quota of its user is. */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT'])

/** Shard names become file names: no separators, no dot-files, bounded length. */
export function isShardName(name: string): boolean {
  return SHARD_NAME.test(name)
}

function checkName(name: string): void {
  if (!isShardName(name))
    throw new TypeError(`invalid shard name ${JSON.stringify(name)}: use [A-Za-z0-9._-], not starting with '.'`)
}

/** The fan-out directory of a shard name: keeps any one directory to ~1/256 of the drive's files. */
export function fanOut(name: string): string {
  return (hash64(name).hi >>> 24).toString(16).padStart(2, '0')
}

const shardPath = (name: string) => `${SHARD_DIR}/${fanOut(name)}/${name}`

function randomName(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)))
}

export interface DiskStoreOptions {
  /**
   * Whole-unit reads (a `get` with a `unit` hint) go into buffers of this pool, one holder per
   * unit (block plus checksum) in the buffer: a consumer that releases each block it was handed
   * (src/util/byte-pool.ts) gives the buffer back for the next read. Without it, every read is
   * a fresh buffer.
   */
  readPool?: BytePool
}

export function createDiskStore(id: string, disk: Disk, options: DiskStoreOptions = {}): DiskStore {
  const { readPool } = options
  /** Temp files of puts in progress, so a sweep never deletes them. */
  const active = new Set<string>()

  /**
   * Gathers pieces until WRITE_CHUNK bytes and hands them to the OS in one gathered write
   * (writev), so no byte is copied on its way to the file: joining them into a write buffer was a
   * copy of every byte of every shard (docs/architecture.md §8, "Big PUTs"). A Disk without
   * writev gets them joined. The pieces are the producer's: none is reused once handed over
   * (ShardStore.put's contract, disk.ts), except that a piece leased from a write pool (the stripe
   * writer's parity blocks) goes back to it once written (releaseWritten, src/util/byte-pool.ts).
   */
  async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, out: FileWriter): Promise<void> {
    let pieces: Uint8Array[] = []
    let bytes = 0
    const flush = async () => {
      const batch = pieces
      pieces = []
      bytes = 0
      if (batch.length === 1) await out.write(batch[0]!)
      else if (out.writev) await out.writev(batch)
      else await out.write(concatBytes(batch))
      for (const p of batch) releaseWritten(p)
    }
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (value.length === 0) continue
      pieces.push(value)
      bytes += value.length
      if (bytes >= WRITE_CHUNK) await flush()
    }
    if (bytes > 0) await flush()
  }

  /** Renames into place; creates the fan-out directory if the Disk's rename would not. */
  async function publish(tmp: string, name: string): Promise<void> {
    const target = shardPath(name)
    try {
      await disk.rename(tmp, target)
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err
      const marker = await disk.create(`${SHARD_DIR}/${fanOut(name)}/${DIR_MARKER}`)
      await marker.commit()
      await disk.rename(tmp, target)
    }
  }

  async function put(name: string, body: ReadableStream<Uint8Array>): Promise<void> {
    checkName(name)
    const tmp = `${TEMP_DIR}/${randomName()}`
    active.add(tmp)
    const reader = body.getReader()
    let out: FileWriter | undefined
    try {
      out = await disk.create(tmp, { bulk: true }) // a shard: written once, read later if at all
      await drain(reader, out)
      await out.commit()
      out = undefined // durable; from here a failure leaves only a temp file to remove
      await publish(tmp, name)
    } catch (err) {
      // A full filesystem is news the engine acts on (507, not 503); a body never fails with ENOSPC.
      const code = (err as { code?: unknown } | null)?.code
      const failure =
        typeof code === 'string' && NO_SPACE.has(code)
          ? new StoreFull(id, `drive ${id} is full (${code}) while storing shard ${name}`)
          : err
      // Stop the producer if the failure was ours; a body that errored itself ignores this.
      reader.cancel(failure).catch(() => {})
      if (out) await out.abort()
      else await disk.remove(tmp).catch(() => {})
      throw failure // otherwise unchanged: callers tell a body's own error (bad digest, cut connection) by identity
    } finally {
      active.delete(tmp)
    }
  }

  function get(name: string, offset: number, length: number, unit?: number): ReadableStream<Uint8Array> {
    checkName(name)
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(`invalid shard range offset=${offset} length=${length}`)
    }
    const end = offset + length
    // Whole units per read (about UNIT_READ bytes), so no block straddles two chunks.
    const whole = unit !== undefined && Number.isSafeInteger(unit) && unit > 0
    const chunk = whole ? Math.max(1, Math.round(UNIT_READ / unit)) * unit : READ_CHUNK
    const pooled = whole && readPool !== undefined
    let file: FileReader | undefined
    let pos = offset
    let next: Promise<Uint8Array> | undefined // one read ahead, so disk and consumer overlap
    let done = false

    const readNext = (f: FileReader): Promise<Uint8Array> | undefined => {
      if (pos >= end) return undefined
      const at = pos
      const n = Math.min(chunk, end - at)
      pos += n
      // A pooled buffer holds whole units only, and its holders are the units the reader will
      // cut from it (ExactReader hands each unit on as a view); a shorter last read is fresh.
      const into = pooled && n === chunk ? readPool!.lease(n, n / unit!) : undefined
      return f.read(at, n, into).then((b) => {
        if (b.length !== n)
          throw new Error(`shard ${name} on ${id} is shorter than expected (truncated at ${at + b.length})`)
        return b
      })
    }
    // Idempotent; waits for the read in flight so the handle is not closed under it.
    const finish = async () => {
      if (done) return
      done = true
      const f = file
      file = undefined
      await next?.catch(() => {})
      next = undefined
      await f?.close().catch(() => {})
    }

    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          try {
            if (!file) {
              const f = await disk.open(shardPath(name), { bulk: true })
              if (!f) throw new ShardNotFound(id, name)
              if (done) return void (await f.close()) // cancelled while opening
              file = f
              // A range past the end is an error, not a short read: a short shard means damage.
              if (end > f.size)
                throw new RangeError(`range [${offset}, ${end}) is beyond shard ${name} (${f.size} bytes) on ${id}`)
              next = readNext(f)
            }
            if (!next) {
              await finish()
              return controller.close()
            }
            const chunk = await next
            if (done) return
            next = readNext(file!)
            controller.enqueue(chunk)
            if (!next) {
              await finish()
              controller.close()
            }
          } catch (err) {
            await finish()
            throw err
          }
        },
        cancel: finish,
      },
      // Nothing is opened or read until the consumer asks.
      { highWaterMark: 0 },
    )
  }

  return {
    id,
    gathers: true,
    put,
    get,
    async stat(name) {
      checkName(name)
      const f = await disk.open(shardPath(name))
      if (!f) return undefined
      await f.close()
      return f.size
    },
    async delete(name) {
      checkName(name)
      await disk.remove(shardPath(name))
    },
    async *list() {
      const dirs = (await disk.list(SHARD_DIR)).filter((d) => /^[0-9a-f]{2}$/.test(d)).sort()
      for (const dir of dirs) {
        for (const name of await disk.list(`${SHARD_DIR}/${dir}`)) {
          // Skip markers and anything misfiled: get/delete could never reach it by name.
          if (isShardName(name) && fanOut(name) === dir) yield name
        }
      }
    },
    async healthy() {
      try {
        await disk.check()
        return true
      } catch {
        return false
      }
    },
    async space() {
      return disk.space ? await disk.space() : undefined
    },
    async sweepTemp() {
      let removed = 0
      for (const name of await disk.list(TEMP_DIR)) {
        const path = `${TEMP_DIR}/${name}`
        if (active.has(path)) continue
        await disk.remove(path)
        removed++
      }
      return removed
    },
  }
}
