/**
 * The D@RE master key file: <data>/master.key (32 random bytes, mode 0600, created at first
 * start) or the operator's COFFER_MASTER_KEY_FILE. Uses node:fs; the service decides when to write.
 */
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { MasterKeyFile } from '../service/index.ts'
import { renameDurably, writeFileDurably } from './durable-file.ts'

export const MASTER_KEY_FILE = 'master.key'
const KEY_BYTES = 32
/** Where a rotation stages the next key until the metadata commit says it is the one. */
const stagedPath = (path: string) => `${path}.new`

/**
 * A key file holds the 32 bytes themselves, or (easier to hand-make) 64 hex digits or base64
 * text of them, with optional surrounding whitespace.
 */
export function parseKeyFile(content: Uint8Array, where: string): Uint8Array {
  if (content.length === KEY_BYTES) return new Uint8Array(content)
  const text = new TextDecoder().decode(content).trim()
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Uint8Array.from(text.match(/../g)!, (h) => parseInt(h, 16))
  if (/^[A-Za-z0-9+/]{43}=?$/.test(text)) {
    const bytes = Uint8Array.from(atob(text.endsWith('=') ? text : `${text}=`), (c) => c.charCodeAt(0))
    if (bytes.length === KEY_BYTES) return bytes
  }
  throw new Error(`${where} is not a master key: it must hold exactly 32 bytes (raw, 64 hex digits or base64)`)
}

async function readKey(path: string): Promise<Uint8Array | undefined> {
  try {
    return parseKeyFile(await readFile(path), path)
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined
    throw e
  }
}

/**
 * Writes `key` with mode 0600: temp file, fsync, rename, directory fsync. Durable when it
 * resolves, which the service counts on: it stores the key's fingerprint after save(), and
 * commits blobs wrapped under the staged key after stage().
 */
const writeKey = (path: string, key: Uint8Array) => writeFileDurably(path, key, { mode: 0o600 })

/**
 * Loads the key file (generating a key, not yet written, when there is none) for openService.
 * An operator-named file must exist: silently creating a new key there would hide a typo.
 */
export async function loadMasterKeyFile(
  dataDir: string,
  env: Record<string, string | undefined>,
): Promise<MasterKeyFile> {
  const given = env.COFFER_MASTER_KEY_FILE || undefined
  const path = given ?? join(dataDir, MASTER_KEY_FILE)
  let key = await readKey(path)
  const generated = key === undefined
  if (!key) {
    if (given)
      throw new Error(
        `COFFER_MASTER_KEY_FILE names ${given}, which does not exist: restore it from your backup, or unset the variable to use ${join(dataDir, MASTER_KEY_FILE)}`,
      )
    key = crypto.getRandomValues(new Uint8Array(KEY_BYTES))
  }
  const staged = await readKey(stagedPath(path)).catch(() => undefined)
  const file: MasterKeyFile = {
    key,
    generated,
    staged,
    where: path,
    save: () => writeKey(path, file.key),
    stage: (next) => writeKey(stagedPath(path), next),
    // Durable before the caller goes on: a start that promotes must not find the old key again.
    promote: () => renameDurably(stagedPath(path), path),
    // Not synced: a discarded file that comes back matches no fingerprint, and is discarded again.
    discard: () => rm(stagedPath(path), { force: true }),
    reload: async () => ({
      key: await readKey(path).catch(() => undefined),
      staged: await readKey(stagedPath(path)).catch(() => undefined),
    }),
  }
  return file
}
