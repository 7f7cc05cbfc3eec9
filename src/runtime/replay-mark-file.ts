/**
 * The storage node's replay mark on disk (storage/remote/replay-mark.ts): `<data>/replay-mark`,
 * 16 decimal digits and a newline. Saved in place at offset 0 and fdatasynced: a 17-byte write
 * within one sector is never torn, so a save costs one small write and one flush, no rename.
 */
import { open, readFile, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { MarkFile } from '../storage/remote/replay-mark.ts'

export const REPLAY_MARK_FILE = 'replay-mark'
const DIGITS = 16

const encode = (mark: number): Uint8Array =>
  new TextEncoder().encode(`${String(Math.max(0, Math.floor(mark))).padStart(DIGITS, '0')}\n`)

/**
 * Opens (creating it durably on a first start) the mark file in `dataDir`. A file that does not
 * hold a mark (damaged by hand) is replaced by `fallback()`, and `warn` says so: the node then
 * refuses requests dated before its own start, the best it can do without the lost mark.
 */
export async function openReplayMarkFile(
  dataDir: string,
  fallback: () => number,
  warn: (message: string) => void,
): Promise<MarkFile & { close(): Promise<void> }> {
  const path = join(dataDir, REPLAY_MARK_FILE)
  let loaded: number | undefined
  let exists = true
  try {
    const text = await readFile(path, 'utf8')
    if (/^\d{1,16}\n?$/.test(text)) loaded = Number(text.trim())
    else {
      loaded = fallback()
      warn(`${path} does not hold a replay mark: refusing requests signed before this start instead`)
    }
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw e
    exists = false
  }
  const handle: FileHandle = await open(path, exists ? 'r+' : 'w+', 0o600)
  const write = async (mark: number) => {
    const bytes = encode(mark)
    await handle.write(bytes, 0, bytes.length, 0)
    await handle.datasync()
  }
  if (!exists || loaded !== undefined) {
    await write(loaded ?? 0)
    if (!exists) {
      // The new file's directory entry must survive a power loss too.
      const dir = await open(dirname(path), 'r')
      try {
        await dir.sync()
      } finally {
        await dir.close()
      }
    }
  }
  return {
    load: async () => loaded,
    save: write,
    close: () => handle.close(),
  }
}
