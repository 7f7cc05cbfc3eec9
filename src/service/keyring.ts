/**
 * The service's hold on D@RE keys: the master key (checked against its fingerprint at start),
 * the AEAD the runtime chose, and unwrapped namespace keys cached in memory. Joins meta + crypto.
 *
 *   start:        fp = settings['master-key-fingerprint']
 *                 none      → first start: save the key file, then store fp(master)
 *                 fp(file)  → go on (a staged <file>.new left by a crashed rotation is discarded)
 *                 fp(staged)→ the rotation committed but the file was not renamed: promote it
 *                 else      → refuse to start (MasterKeyMismatchError); nothing is written
 *   ns key v:     unwrap(master, nsRow.wrappedKey) when v = nsRow.keyVersion, else the key staged
 *                 by a rotation in progress (settings['ns-key-staged/<ns>'] = {version, blob})
 *   new wrapping: the newest version (staged if a rotation is in progress, else current)
 */
import {
  blobInfo,
  generateKey,
  KeyUnwrapError,
  masterKeyFingerprint,
  unwrapNamespaceKey,
  wrapNamespaceKey,
  fingerprintsEqual,
} from '../crypto/index.ts'
import * as meta from '../meta/index.ts'
import { fromBase64, toBase64 } from '../util/bytes.ts'
import { isCount, isRecord } from '../util/shape.ts'
import type { MasterKeyFile, ServiceContext } from './context.ts'
import { CorruptMetadataError, ServiceError } from './errors.ts'

export class MasterKeyMismatchError extends Error {
  override readonly name = 'MasterKeyMismatchError'
}

export const FINGERPRINT_SETTING = 'master-key-fingerprint'
export const stagedKeySetting = (ns: string): string => `ns-key-staged/${ns}`
/** Plenty for every namespace of a deployment; cleared whole when full rather than tracking use. */
const CACHE_LIMIT = 1024

export interface StagedKey {
  version: number
  blob: string
}

/** Checks the master key against metadata (see the header); returns the key to use. */
export async function checkMasterKey(db: meta.Db, file: MasterKeyFile): Promise<Uint8Array> {
  const stored = await meta.getSetting(db, FINGERPRINT_SETTING)
  if (stored === undefined) {
    if (file.generated) await file.save()
    await meta.setSetting(db, FINGERPRINT_SETTING, await masterKeyFingerprint(file.key))
    return file.key
  }
  if (!file.generated && fingerprintsEqual(await masterKeyFingerprint(file.key), stored)) {
    if (file.staged) await file.discard()
    return file.key
  }
  if (file.staged && fingerprintsEqual(await masterKeyFingerprint(file.staged), stored)) {
    await file.promote()
    return file.staged
  }
  throw new MasterKeyMismatchError(
    file.generated
      ? `no master key file at ${file.where}, but this data was encrypted under a master key: restore the file from your backup (or point COFFER_MASTER_KEY_FILE at it); nothing was changed`
      : `the master key in ${file.where} is not the one this data was encrypted with (fingerprint mismatch): restore the right key file from your backup (or fix COFFER_MASTER_KEY_FILE); nothing was changed`,
  )
}

/**
 * Keeps this gateway on the master key the metadata names. Another gateway's rotation stores a
 * new fingerprint; then this one reads its key file again (and `<file>.new`) and takes the key
 * whose fingerprint matches. Without it, it refuses with a clear error rather than sealing new
 * users or wrapping new namespace keys under a key nobody else has (callers: a timer in
 * background.ts, and every write that seals or wraps under the master key).
 */
/**
 * `open` (an unwrap under a master key) with the key in force, then with any key a master-key
 * rotation in this process has in flight (KeyRing.inFlight): between the rotation's commit and
 * its swap of `ctx.keys.master`, and for a grace after it, a blob may be wrapped under either.
 */
export async function underMaster<T>(ctx: ServiceContext, open: (master: Uint8Array) => Promise<T>): Promise<T> {
  const master = ctx.keys.master
  try {
    return await open(master)
  } catch (e) {
    if (!(e instanceof KeyUnwrapError)) throw e
    // The keys as they are now, not as they were before the await: a rotation may have swapped
    // in its next key meanwhile and released it from the held keys, so the blob's key is then
    // the master, in neither the first try nor the held list (the soak's last 500s, seed 476785).
    const now = Date.now()
    const candidates = [ctx.keys.master, ...(ctx.keys.inFlight ?? []).filter((o) => o.until >= now).map((o) => o.key)]
    const tried = [master]
    for (const key of candidates) {
      if (tried.some((t) => sameKey(t, key))) continue
      tried.push(key)
      try {
        return await open(key)
      } catch (e2) {
        if (!(e2 instanceof KeyUnwrapError)) throw e2
      }
    }
    throw e
  }
}

/**
 * Keeps `key` usable by underMaster until `until` (a rotation's next key from its commit on, a
 * replaced key for a grace). Entries accumulate: two rotations in quick succession must not drop
 * the key a request read its blob under before the first one (the soak found 500s there).
 */
export function holdMasterKey(ctx: ServiceContext, key: Uint8Array, until: number): void {
  const now = Date.now()
  const kept = (ctx.keys.inFlight ?? []).filter((e) => e.until >= now && !sameKey(e.key, key))
  kept.push({ key, until })
  ctx.keys.inFlight = kept
}

/** Drops `key` from the held keys (a rotation whose commit failed: its next key never existed). */
export function releaseMasterKey(ctx: ServiceContext, key: Uint8Array): void {
  const kept = (ctx.keys.inFlight ?? []).filter((e) => !sameKey(e.key, key))
  ctx.keys.inFlight = kept.length > 0 ? kept : undefined
}

const sameKey = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i])

/** How long a replaced master key still opens blobs read before the rotation's commit. */
export const OLD_MASTER_GRACE_MS = 30_000

export async function followMasterKey(ctx: ServiceContext): Promise<'current' | 'reloaded'> {
  const from = ctx.keys.master
  const stored = await meta.getSetting(ctx.db, FINGERPRINT_SETTING)
  if (stored === undefined || fingerprintsEqual(await masterKeyFingerprint(from), stored)) return 'current'
  const found = await ctx.keys.file.reload?.()
  for (const key of [found?.key, found?.staged]) {
    if (key && fingerprintsEqual(await masterKeyFingerprint(key), stored)) {
      // A rotation in this process swapped the key while this check awaited: `stored` may be
      // older than that swap, and taking it would put this gateway back on a replaced key.
      if (ctx.keys.master !== from) return 'current'
      // A blob this gateway read just before may still be wrapped under the key it replaces.
      holdMasterKey(ctx, ctx.keys.master, Date.now() + OLD_MASTER_GRACE_MS)
      ctx.keys.master = key
      ctx.keys.cache.clear()
      ctx.logger.log('info', 'master key: took the rotated key from the key file', { file: ctx.keys.file.where })
      return 'reloaded'
    }
  }
  throw staleMasterKey(ctx)
}

export const staleMasterKey = (ctx: ServiceContext): ServiceError =>
  new ServiceError(
    'Unavailable',
    `The master key was rotated through another gateway, and this gateway's key file ${ctx.keys.file.where} still holds the old key: copy the new key file there (it is read again within seconds, no restart), and retry.`,
  )

/** The setting a write that seals or wraps under the master key requires: its fingerprint, unchanged. */
export async function masterKeyPin(ctx: ServiceContext): Promise<{ key: string; value: string }> {
  return { key: FINGERPRINT_SETTING, value: await masterKeyFingerprint(ctx.keys.master) }
}

/** Runs `task` after every earlier locked task of this process (rotations, namespace deletion). */
export function withKeyLock<T>(ctx: ServiceContext, task: () => Promise<T>): Promise<T> {
  const run = ctx.keys.lock.then(task, task)
  ctx.keys.lock = run.catch(() => {})
  return run
}

/** A fresh namespace key wrapped by the master key: what createNamespace stores (version 1). */
export async function newNamespaceKey(
  ctx: ServiceContext,
  ns: string,
): Promise<{ wrappedKey: Uint8Array; keyVersion: number }> {
  return { wrappedKey: fromBase64(await wrapNamespaceKey(ctx.keys.master, ns, 1, await generateKey()))!, keyVersion: 1 }
}

const isStagedKey = (v: unknown): v is StagedKey => isRecord(v) && isCount(v.version) && typeof v.blob === 'string'

export async function getStagedKey(ctx: ServiceContext, ns: string): Promise<StagedKey | undefined> {
  const raw = await meta.getSetting(ctx.db, stagedKeySetting(ns))
  if (raw === undefined) return undefined
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    value = raw
  }
  if (isStagedKey(value)) return value
  // The value itself is not shown: it holds a wrapped key.
  throw new CorruptMetadataError(`the staged key of namespace ${ns} is malformed (not {version, blob})`)
}

/**
 * The namespace key new wrappings use: the one staged by a rotation in progress, else the current
 * one. Writes that start once a rotation has staged its key add nothing for it to re-wrap, so the
 * rotation converges however busy the namespace is (docs/architecture.md §5).
 */
export async function newestNamespaceKey(
  ctx: ServiceContext,
  ns: meta.NamespaceRow,
): Promise<{ version: number; key: Uint8Array }> {
  const staged = await getStagedKey(ctx, ns.name)
  const version = staged && staged.version > ns.keyVersion ? staged.version : ns.keyVersion
  return { version, key: await namespaceKey(ctx, ns, version) }
}

/** Namespace key `version` of `ns` (the current one, or one staged by a rotation in progress). */
export async function namespaceKey(ctx: ServiceContext, ns: meta.NamespaceRow, version: number): Promise<Uint8Array> {
  let blob: string | undefined
  if (ns.wrappedKey && version === ns.keyVersion) blob = toBase64(ns.wrappedKey)
  else {
    const staged = await getStagedKey(ctx, ns.name)
    if (staged?.version === version) blob = staged.blob
  }
  if (blob === undefined)
    throw new KeyUnwrapError(
      `namespace ${JSON.stringify(ns.name)} has no key version ${version} (deleted namespace, or a rotation raced this read)`,
    )
  const id = `${ns.name}\u0000${version}\u0000${blob}`
  const hit = ctx.keys.cache.get(id)
  if (hit) return hit
  if (blobInfo(blob).keyVersion !== version)
    throw new KeyUnwrapError(`namespace ${JSON.stringify(ns.name)}: key blob version mismatch`)
  const key = await underMaster(ctx, (master) => unwrapNamespaceKey(master, ns.name, version, blob))
  if (ctx.keys.cache.size >= CACHE_LIMIT) ctx.keys.cache.clear()
  ctx.keys.cache.set(id, key)
  return key
}
