/**
 * The Disk port: what the storage engine needs from a filesystem. Implemented once over
 * node:fs/promises in src/runtime/fs-disk.ts (Node, Deno and Bun all provide that module).
 * Paths are relative to the disk's root directory and use '/' separators.
 */
import type { SpaceReport } from './shard-store.ts'

export interface FileWriter {
  /** The caller may reuse `chunk` once this resolves: the bytes have been handed to the OS. */
  write(chunk: Uint8Array): Promise<void>
  /**
   * Appends the chunks in order, as one gathered write (writev) where the system has it: no join.
   * The caller may reuse them once this resolves. Optional: without it, callers join and write().
   */
  writev?(chunks: readonly Uint8Array[]): Promise<void>
  /**
   * Flushes (fsync, or fdatasync: the data and the size, not the timestamps) then closes; the
   * file's bytes are durable when this resolves. Its name becomes durable through rename().
   */
  commit(): Promise<void>
  /** Close and delete the partial file; never throws. */
  abort(): Promise<void>
}

export interface FileReader {
  readonly size: number
  /**
   * Reads up to `length` bytes at `offset` (shorter only at end of file): into `into` (at least
   * `length` bytes; the result is a view of it) when given and supported, else a fresh buffer.
   * Callers must look at the result, not at `into`.
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>
  close(): Promise<void>
}

export interface CreateOptions {
  bulk?: boolean
}

export interface Disk {
  /** Absolute root, for messages and health only. */
  readonly root: string
  /**
   * Creates (truncating) a file, making parent directories as needed. `bulk`: the file is
   * written once, in order, in large pieces, and read later if at all (a shard): the Disk may
   * write it past the OS page cache (direct I/O) where the filesystem allows.
   */
  create(path: string, options?: CreateOptions): Promise<FileWriter>
  /**
   * Opens for reading; resolves undefined when the file does not exist. `bulk`: a file made as a
   * bulk file (a shard), which the Disk may read past the page cache as it wrote it.
   */
  open(path: string, options?: CreateOptions): Promise<FileReader | undefined>
  /**
   * Atomic rename within the disk (temp file → final name), creating the target's parent
   * directories as needed; then fsyncs the target's directory, so the new name survives a crash.
   * (The source directory is not synced: a crash may bring back the temp name, never lose the target.)
   */
  rename(from: string, to: string): Promise<void>
  /** Removes a file; a missing file is not an error. */
  remove(path: string): Promise<void>
  /** Names directly inside a directory; [] when it does not exist. */
  list(dir: string): Promise<string[]>
  /** Ensures the root exists and is writable; throws with a clear message otherwise. */
  check(): Promise<void>
  /** Free and total bytes of the root's filesystem (absent where the Disk cannot tell). */
  space?(): Promise<SpaceReport>
}

/**
 * The pieces still to write after a gathered write handed `written` bytes of `pieces` to the OS
 * (writev(2) may be short): the untouched ones, the first cut where the OS stopped.
 */
export function unwritten(pieces: readonly Uint8Array[], written: number): Uint8Array[] {
  let i = 0
  while (i < pieces.length && written >= pieces[i]!.length) written -= pieces[i++]!.length
  if (i === pieces.length) return []
  return [pieces[i]!.subarray(written), ...pieces.slice(i + 1)]
}
