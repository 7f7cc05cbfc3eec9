/**
 * Durable names: a rename or a new file or directory is atomic, but reaches the disk only with
 * its directory, so each one here is followed by an fsync of that directory. Used by the Disk
 * port (fs-disk.ts) and by every file Coffer writes beside it: the master key, the root
 * credentials, the TLS CA and certificates, the cluster file. Without it a power loss can undo
 * a rename that the process already acted on (a master-key rotation commits metadata wrapped
 * under `master.key.new` once that file is staged: test/dare/key-file-power-loss.test.ts).
 */
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'

/** fsyncs a directory so that a new, renamed or removed entry in it survives a power loss. */
export async function syncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r')
  try {
    await h.sync()
  } finally {
    await h.close()
  }
}

/** mkdir -p; when it created directories, fsyncs the parent of each new one so they persist. */
export async function makeDirs(dir: string, sync: (dir: string) => Promise<void> = syncDir): Promise<void> {
  const first = await mkdir(dir, { recursive: true })
  if (first !== undefined) {
    // Every directory from `first` down is new: its entry in its parent must reach the disk too.
    let d = dir
    while (d.length >= first.length) {
      await sync(dirname(d))
      if (d === first) break
      d = dirname(d)
    }
  }
}

/**
 * rename(2), durable when it resolves: the target's directory is synced (and the source's, when
 * it is another one, so the old name cannot come back beside the new).
 */
export async function renameDurably(from: string, to: string): Promise<void> {
  await rename(from, to)
  await syncDir(dirname(to))
  if (dirname(from) !== dirname(to)) await syncDir(dirname(from))
}

export interface DurableWriteOptions {
  /** The file's mode, set exactly (the umask does not narrow it; a leftover temp file's is reset). */
  mode: number
  /** The temp file beside `path`; default `<path>.tmp`. */
  tmp?: string
  /** Create the temp file only if it does not exist (O_EXCL), for a random temp name. */
  exclusive?: boolean
}

/**
 * Replaces `path` with `data`, whole or not at all, durable when it resolves: temp file with the
 * mode from the start (a secret is never readable by others), written, fsynced, renamed over
 * `path`, directory fsynced. The temp file is removed if a step after its creation fails.
 */
export async function writeFileDurably(
  path: string,
  data: string | Uint8Array,
  opts: DurableWriteOptions,
): Promise<void> {
  const tmp = opts.tmp ?? `${path}.tmp`
  // Outside the cleanup: a temp file this call did not create (exclusive) is not its to remove.
  const fh = await open(tmp, opts.exclusive ? 'wx' : 'w', opts.mode)
  try {
    try {
      await fh.chmod(opts.mode)
      await fh.writeFile(data)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await renameDurably(tmp, path)
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {})
    throw e
  }
}
