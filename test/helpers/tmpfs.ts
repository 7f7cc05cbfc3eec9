/**
 * A small filesystem for disk-full tests: a tmpfs of a given size mounted on a fresh directory
 * (needs root, as on this project's machines and CI). Node only; every command is bounded.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, statfs } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface SmallDisk {
  dir: string
  /** Bytes still free (statfs `bavail`). */
  free(): Promise<number>
  /** Unmounts and removes the directory (call once every process using it has stopped). */
  remove(): Promise<void>
}

/** Mounts a tmpfs of `mib` MiB; resolves with why not when mounting is not allowed here. */
export async function mountSmallDisk(mib: number): Promise<SmallDisk | { problem: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'coffer-small-'))
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${mib}m,mode=0700`, 'tmpfs', dir], { timeout: 10_000 })
  } catch (e) {
    await rm(dir, { recursive: true, force: true })
    return { problem: `cannot mount a ${mib} MiB tmpfs (needs root): ${(e as Error).message.split('\n')[0]}` }
  }
  return {
    dir,
    free: async () => {
      const s = await statfs(dir)
      return s.bavail * s.bsize
    },
    remove: async () => {
      await run('umount', [dir], { timeout: 10_000 }).catch(() => run('umount', ['-l', dir], { timeout: 10_000 }))
      await rm(dir, { recursive: true, force: true })
    },
  }
}
