/**
 * Shard files written and read past the OS page cache (O_DIRECT), for the Disk port's bulk files
 * (fs-disk.ts). Why: a shard is written once, in order, and read later if at all, and copying it
 * into fresh page-cache pages was most of a PUT's kernel time — on these VMs `perf` put 19 % of all
 * samples of eight 16 MiB PUTs at once in that one copy (`copy_folio_from_iter_atomic`, ≈ 0.5 GB/s:
 * the host hands back memory the guest freed, so every new page costs a host fault). Written
 * directly, the bytes go from a staging buffer to the device (docs/architecture.md §8, "Shard
 * files written with direct I/O"). MinIO writes its part files with O_DIRECT for the same reason.
 *
 * O_DIRECT wants the buffer's address, the length and the file offset aligned to the device's
 * logical block (4 KiB covers every common one). JavaScript cannot align an ArrayBuffer, but a
 * WebAssembly.Memory is mapped page-aligned: staging buffers are 4 KiB-aligned slices of such
 * arenas, never grown (growing would detach them). Each file's bytes are copied into its stage and
 * written stage by stage at aligned offsets; the last stage is zero-padded to 4 KiB and the file
 * then truncated to its real length before the fdatasync that makes data and size durable. Whether
 * a filesystem (or runtime) takes this is found out once per disk by a probe (`probeDirectIo`);
 * where it does not, files are written through the page cache as before. Files written directly
 * are read directly (directReader): a buffered first read of a shard just written filled fresh
 * page-cache pages, the very cost taken off the write.
 */
import { constants } from 'node:fs'
import { type FileHandle, open, unlink } from 'node:fs/promises'
import type { FileReader, FileWriter } from '../storage/disk.ts'

/** Alignment of addresses, lengths and offsets: the largest logical block size in common use. */
export const DIRECT_ALIGN = 4096
/**
 * One file's staging buffer, written per direct write. 512 KiB raised the peak RSS of eight 256 MiB
 * PUTs by ≈ 50 MiB (48 files at once); 256 KiB by nothing measurable, and no slower (§8).
 */
export const STAGE_BYTES = 256 * 1024
/** Stages per arena (one WebAssembly.Memory, 8 MiB). */
const ARENA_STAGES = 32
/**
 * At most this many stages at once (32 MiB of arenas): eight 256 MiB PUTs over six drives hold
 * 48. Past it a file is written through the page cache instead of waiting for a stage.
 */
const MAX_STAGES = 128
/**
 * A direct reader's window: the aligned span it read last, kept while it reads on in order. A
 * GET reads each shard a unit at a time (a 256 KiB block and its 4-byte checksum, disk-store.ts):
 * with a stage of 256 KiB, each unit took a 256 KiB read and a 4–8 KiB one for its tail, and
 * every read costs the request thread its dispatch and the kernel its setup. A window of two units
 * and their alignment serves two reads with one; four (1,088 KiB) were no faster in a same-run
 * A/B and hold twice the memory (§8, "Direct reads in windows").
 */
export const READ_WINDOW_BYTES = 528 * 1024
/** Windows per arena (8.25 MiB). */
const ARENA_WINDOWS = 16
/**
 * At most this many windows at once (16.5 MiB): eight GETs at once, each reading four shards.
 * A reader that finds none free reads through a stage.
 */
const MAX_WINDOWS = 32
const WASM_PAGE = 65536

/** O_DIRECT where the runtime's node:fs knows it (Node on Linux; absent elsewhere). */
const O_DIRECT: number | undefined = (constants as { O_DIRECT?: number }).O_DIRECT

/**
 * An arena fully free this long is let go (the GC unmaps a WebAssembly.Memory, so its pages leave
 * the RSS; freed malloc memory mostly stays). Without it, the stages of a burst of PUTs stayed
 * resident through the GETs after them and the windows of GETs through later PUTs (§8).
 */
const ARENA_IDLE_MS = 2_000

interface Arena {
  readonly free: Uint8Array[]
  /** When its last stage came back (every stage free), or 0 while any is out. */
  idleSince: number
}

/**
 * Page-aligned buffers of one size, carved from WebAssembly.Memory arenas made as needed up to a
 * cap. Leases come from the oldest arena with a free stage, so the newest drain first; an arena
 * idle for `idleMs` is let go.
 */
export class StagePool {
  private readonly arenas: Arena[] = []
  private readonly arenaOf = new WeakMap<ArrayBufferLike, Arena>()
  private trimTimer: ReturnType<typeof setTimeout> | undefined
  /** Stages leased and not given back. */
  out = 0

  constructor(
    private readonly bytes: number,
    private readonly perArena: number,
    private readonly max: number,
    private readonly idleMs = ARENA_IDLE_MS,
  ) {}

  /** Arenas held (each `perArena` stages of `bytes`). */
  get arenaCount(): number {
    return this.arenas.length
  }

  /** A 4 KiB-aligned buffer of `bytes`, or undefined when `max` are out. */
  lease(): Uint8Array | undefined {
    for (const a of this.arenas) {
      const stage = a.free.pop()
      if (stage) {
        a.idleSince = 0
        this.out++
        return stage
      }
    }
    if ((this.arenas.length + 1) * this.perArena > this.max) return undefined
    const pages = Math.ceil((this.perArena * this.bytes) / WASM_PAGE)
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer
    const arena: Arena = { free: [], idleSince: 0 }
    for (let i = this.perArena - 1; i >= 1; i--) arena.free.push(new Uint8Array(memory, i * this.bytes, this.bytes))
    this.arenas.push(arena)
    this.arenaOf.set(memory, arena)
    this.out++
    return new Uint8Array(memory, 0, this.bytes)
  }

  give(stage: Uint8Array): void {
    const arena = this.arenaOf.get(stage.buffer)
    if (!arena) return // its arena was let go while it was out: cannot happen, as out stages keep theirs
    this.out--
    arena.free.push(stage)
    if (arena.free.length === this.perArena) {
      arena.idleSince = performance.now()
      this.scheduleTrim()
    }
  }

  private scheduleTrim(): void {
    if (this.trimTimer !== undefined) return
    this.trimTimer = setTimeout(() => {
      this.trimTimer = undefined
      const now = performance.now()
      let waiting = false
      for (let i = this.arenas.length - 1; i >= 0; i--) {
        const a = this.arenas[i]!
        if (a.idleSince === 0) continue
        if (now - a.idleSince >= this.idleMs) this.arenas.splice(i, 1)
        else waiting = true
      }
      if (waiting) this.scheduleTrim()
    }, this.idleMs)
    // Node's timers can be unref'd (Deno's and Bun's global timers differ): a pending trim must not keep a process alive.
    ;(this.trimTimer as { unref?: () => void }).unref?.()
  }
}

const stages = new StagePool(STAGE_BYTES, ARENA_STAGES, MAX_STAGES)
const windows = new StagePool(READ_WINDOW_BYTES, ARENA_WINDOWS, MAX_WINDOWS)

/** A 4 KiB-aligned staging buffer, or undefined when MAX_STAGES are out. */
export function leaseStage(): Uint8Array | undefined {
  return stages.lease()
}

export function returnStage(stage: Uint8Array): void {
  stages.give(stage)
}

/** Read windows leased and not given back (for tests: a closed reader holds none). */
export function windowsOut(): number {
  return windows.out
}

/** Opens `file` for direct reads (only called once a probe has found O_DIRECT working). */
export function openDirectRead(file: string): Promise<FileHandle> {
  return open(file, constants.O_RDONLY | (O_DIRECT ?? 0))
}

/** Opens `file` for a direct write (creating, truncating); undefined where O_DIRECT is unknown. */
export async function openDirect(file: string): Promise<FileHandle | undefined> {
  if (O_DIRECT === undefined) return undefined
  return open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | O_DIRECT)
}

/**
 * Whether direct writes work in `dir`: one aligned block written through O_DIRECT and read back.
 * Any failure (EINVAL from a filesystem without O_DIRECT, a stage the runtime did not align) says no.
 */
export async function probeDirectIo(dir: string): Promise<boolean> {
  if (O_DIRECT === undefined) return false
  const file = `${dir}/.direct-probe-${process.pid}-${Math.random().toString(36).slice(2)}`
  const stage = leaseStage()
  if (!stage) return false
  let h: FileHandle | undefined
  try {
    h = await openDirect(file)
    if (!h) return false
    stage.fill(0x5a, 0, DIRECT_ALIGN)
    const { bytesWritten } = await h.write(stage, 0, DIRECT_ALIGN, 0)
    return bytesWritten === DIRECT_ALIGN
  } catch {
    return false
  } finally {
    returnStage(stage)
    await h?.close().catch(() => {})
    await unlink(file).catch(() => {})
  }
}

/**
 * A FileWriter over a handle opened by openDirect, with a stage from leaseStage (given back on
 * commit or abort). `onAbort` removes the partial file.
 */
export function directWriter(h: FileHandle, stage: Uint8Array, onAbort: () => Promise<void>): FileWriter {
  let held: Uint8Array | undefined = stage
  let fill = 0
  /** Bytes already on the device: always a multiple of STAGE_BYTES. */
  let written = 0
  let closed = false

  const close = async () => {
    if (closed) return
    closed = true
    if (held) returnStage(held)
    held = undefined
    await h.close()
  }
  /** Writes the stage's first `n` bytes (a multiple of DIRECT_ALIGN) at the aligned offset `written`. */
  const flush = async (n: number) => {
    // A direct write is never split into a short one but at a full device: report that as the error.
    const { bytesWritten } = await h.write(held!, 0, n, written)
    if (bytesWritten !== n)
      throw Object.assign(new Error(`short direct write (${bytesWritten} of ${n})`), { code: 'ENOSPC' })
  }
  const write = async (chunk: Uint8Array) => {
    if (!held) throw new Error('direct writer used after it closed')
    let at = 0
    while (at < chunk.length) {
      const n = Math.min(STAGE_BYTES - fill, chunk.length - at)
      held.set(n === chunk.length ? chunk : chunk.subarray(at, at + n), fill)
      fill += n
      at += n
      if (fill === STAGE_BYTES) {
        await flush(STAGE_BYTES)
        written += STAGE_BYTES
        fill = 0
      }
    }
  }
  return {
    write,
    async writev(chunks) {
      for (const c of chunks) await write(c)
    },
    async commit() {
      try {
        if (fill > 0) {
          const padded = Math.ceil(fill / DIRECT_ALIGN) * DIRECT_ALIGN
          held!.fill(0, fill, padded)
          await flush(padded)
        }
        // The padding goes; then data and size are made durable together.
        await h.truncate(written + fill)
        await h.datasync()
      } finally {
        await close()
      }
    },
    async abort() {
      await close().catch(() => {})
      await onAbort()
    },
  }
}

/**
 * A FileReader over a handle opened by openDirectRead. A read that starts where the one before it
 * ended reads a whole window (READ_WINDOW_BYTES from the aligned offset below it) and the reads
 * that follow inside it are copied from there; any other read reads just the 4 KiB-aligned span
 * around its range, into its window or, without one, a stage (at most STAGE_BYTES at a time). One
 * copy from memory already resident, where a buffered read of a cold file filled fresh page-cache
 * pages. The window is the reader's until it closes. A read that finds no stage free goes to
 * `fallback`, a buffered reader of the same file opened the first time one is needed.
 */
export async function directReader(h: FileHandle, fallback: () => Promise<FileReader>): Promise<FileReader> {
  const { size } = await h.stat()
  const fileEnd = Math.ceil(size / DIRECT_ALIGN) * DIRECT_ALIGN
  let buffered: Promise<FileReader> | undefined
  let closed = false
  /** The window, once leased; `start`/`length`: the file bytes it holds (length 0: none). */
  let win: Uint8Array | undefined
  let winStart = 0
  let winLength = 0
  /** A read is filling the window: another read at the same time takes a stage instead. */
  let winBusy = false
  /** Where the last read ended: a read starting there is taken for reading in order. */
  let lastEnd = -1

  /**
   * Reads `want` bytes at `offset` into `buf` through `stage` (`ahead`: read the whole stage, not
   * just the span); fewer only at end of file. Returns the bytes read and the stage's last span.
   */
  const readInto = async (stage: Uint8Array, buf: Uint8Array, offset: number, want: number, ahead: boolean) => {
    let got = 0
    let start = 0
    let bytesRead = 0
    while (got < want) {
      const pos = offset + got
      start = pos - (pos % DIRECT_ALIGN)
      const exact = Math.ceil((offset + want - start) / DIRECT_ALIGN) * DIRECT_ALIGN
      const span = Math.min(stage.length, ahead ? Math.max(exact, fileEnd - start) : exact)
      ;({ bytesRead } = await h.read(stage, 0, span, start))
      const usable = bytesRead - (pos - start)
      if (usable <= 0) break // the file shrank under us: return what exists
      const n = Math.min(usable, want - got)
      buf.set(stage.subarray(pos - start, pos - start + n), got)
      got += n
    }
    return { got, start, bytesRead }
  }
  return {
    size,
    async read(offset, length, into) {
      const want = Math.max(0, Math.min(length, size - offset))
      const buf = into && into.length >= want ? into : new Uint8Array(want)
      const inOrder = offset === lastEnd
      lastEnd = offset + want
      if (win && !winBusy && offset >= winStart && offset + want <= winStart + winLength) {
        buf.set(win.subarray(offset - winStart, offset - winStart + want))
        return want === buf.length ? buf : buf.subarray(0, want)
      }
      if (!winBusy && !closed) {
        win ??= windows.lease()
        if (win) {
          winBusy = true
          winLength = 0
          try {
            const r = await readInto(win, buf, offset, want, inOrder)
            // A window still open holds its last span for the reads that follow.
            if (!closed) [winStart, winLength] = [r.start, r.bytesRead]
            return r.got === buf.length ? buf : buf.subarray(0, r.got)
          } finally {
            winBusy = false
            if (closed && win) {
              windows.give(win)
              win = undefined
            }
          }
        }
      }
      const stage = leaseStage()
      if (!stage) {
        buffered ??= fallback()
        return (await buffered).read(offset, length, into)
      }
      try {
        const { got } = await readInto(stage, buf, offset, want, false)
        return got === buf.length ? buf : buf.subarray(0, got)
      } finally {
        returnStage(stage)
      }
    },
    async close() {
      if (closed) return
      closed = true
      // A read filling the window gives it back when it ends.
      if (win && !winBusy) {
        windows.give(win)
        win = undefined
      }
      await Promise.all([h.close(), buffered?.then((b) => b.close())])
    },
  }
}
