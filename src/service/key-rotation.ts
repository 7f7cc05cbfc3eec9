/**
 * Key rotation (docs/architecture.md §5): the master key re-wraps namespace keys only, a namespace key re-wraps
 * object keys only; no data is re-encrypted. Both survive a crash part-way (see each function).
 */
import {
  generateKey,
  masterKeyFingerprint,
  resealUserSecret,
  rewrapKmsKey,
  rewrapNamespaceKey,
  rewrapObjectKey,
  wrapNamespaceKey,
} from '../crypto/index.ts'
import * as meta from '../meta/index.ts'
import { fromBase64, toBase64 } from '../util/bytes.ts'
import type { ServiceContext } from './context.ts'
import { parseEncryptionRecord } from './encryption.ts'
import { CorruptMetadataError, ServiceError } from './errors.ts'
import {
  FINGERPRINT_SETTING,
  getStagedKey,
  namespaceKey,
  stagedKeySetting,
  type StagedKey,
  followMasterKey,
  holdMasterKey,
  OLD_MASTER_GRACE_MS,
  releaseMasterKey,
  withKeyLock,
} from './keyring.ts'

/** Records re-wrapped per round of a namespace rotation. */
const REWRAP_PAGE = 500

/**
 * New master key: (1) written beside the key file as `<file>.new`; (2) every namespace key (and
 * staged key) and every SSE-KMS key re-wrapped, every user's secret re-sealed, plus the new fingerprint, in one
 * transaction; (3) the file replaced.
 * A crash after (2) is finished at the next start, which finds the staged file matching.
 */
export async function rotateMasterKey(ctx: ServiceContext): Promise<{ namespaces: number }> {
  return withKeyLock(ctx, async () => {
    // A rotation through another gateway first: this one must start from the key now in force.
    await followMasterKey(ctx)
    const old = ctx.keys.master
    const next = await generateKey()
    const rows = await meta.encryptedNamespaces(ctx.db)
    const updates: meta.NamespaceKeyUpdate[] = []
    const staged: { key: string; old: string; value: string }[] = []
    for (const row of rows) {
      const blob = await rewrapNamespaceKey(old, next, row.name, row.keyVersion, toBase64(row.wrappedKey!))
      updates.push({ name: row.name, oldWrappedKey: row.wrappedKey!, wrappedKey: fromBase64(blob)! })
      const s = await getStagedKey(ctx, row.name)
      if (s) {
        const value: StagedKey = {
          version: s.version,
          blob: await rewrapNamespaceKey(old, next, row.name, s.version, s.blob),
        }
        staged.push({ key: stagedKeySetting(row.name), old: JSON.stringify(s), value: JSON.stringify(value) })
      }
    }
    const secrets: meta.SecretReseal[] = []
    for (const u of await meta.sealedSecrets(ctx.db)) {
      const wrappedSecret = await resealUserSecret(old, next, u.accessKeyId, u.wrappedSecret)
      secrets.push({ accessKeyId: u.accessKeyId, old: u.wrappedSecret, wrappedSecret })
    }
    // SSE-KMS keys hang off the master key too (namespace-key rotations do not touch them).
    const kms: meta.KmsKeyRewrap[] = []
    for (const k of await meta.wrappedKmsKeys(ctx.db)) {
      kms.push({
        id: k.id,
        old: k.wrappedKey,
        wrappedKey: await rewrapKmsKey(old, next, k.namespace, k.id, k.wrappedKey),
      })
    }
    await ctx.keys.file.stage(next)
    // From the commit on, other requests may read blobs wrapped under `next` before the commit
    // resolves (it waits for the WAL sync) and before the swap below; until then they try both.
    holdMasterKey(ctx, next, Number.POSITIVE_INFINITY)
    try {
      await meta.commitMasterRotation(
        ctx.db,
        updates,
        staged,
        { key: FINGERPRINT_SETTING, value: await masterKeyFingerprint(next) },
        secrets,
        kms,
      )
    } catch (e) {
      releaseMasterKey(ctx, next)
      await ctx.keys.file.discard().catch(() => {})
      throw e
    }
    // A request that read a blob before the commit may unwrap it after the swap: the old key
    // stays usable for that, briefly (then only the new one is kept in memory).
    holdMasterKey(ctx, old, Date.now() + OLD_MASTER_GRACE_MS)
    ctx.keys.master = next
    releaseMasterKey(ctx, next)
    ctx.keys.cache.clear()
    await ctx.keys.file.promote()
    return { namespaces: rows.length }
  })
}

/**
 * The key this rotation re-wraps to: the one staged for version v+1, or a new one staged now.
 * Staged by a claim in one statement, so that gateways rotating one namespace at once all take the
 * same key — each staging its own, objects re-wrapped under the loser's would be left with a key
 * that no longer exists once the winner's commits. `done`: another gateway finished it meanwhile.
 */
async function stageNamespaceKey(
  ctx: ServiceContext,
  ns: string,
  first: meta.NamespaceRow,
): Promise<{ staged: StagedKey; row: meta.NamespaceRow } | { done: number }> {
  let row = first
  for (let attempt = 0; attempt < 8; attempt++) {
    const version = row.keyVersion + 1
    const raw = await meta.getSetting(ctx.db, stagedKeySetting(ns))
    const staged = await getStagedKey(ctx, ns)
    if (staged?.version === version) return { staged, row }
    const mine: StagedKey = { version, blob: await wrapNamespaceKey(ctx.keys.master, ns, version, await generateKey()) }
    if (await meta.claimSetting(ctx.db, stagedKeySetting(ns), raw, JSON.stringify(mine))) return { staged: mine, row }
    // Lost the claim: another gateway staged (or committed) meanwhile. Look again.
    const now = await meta.getNamespace(ctx.db, ns)
    if (!now?.wrappedKey) throw new ServiceError('NoSuchNamespace', `No namespace ${ns}.`)
    if (now.keyVersion > first.keyVersion) return { done: now.keyVersion }
    row = now
  }
  throw new Error(`namespace ${ns}: could not stage a key (other rotations kept changing it); rerun the rotation`)
}

/**
 * New key (version v+1) for namespace `ns`: staged in settings (wrapped by the master key), then
 * every object and open upload re-wrapped to it, then made current in one guarded transaction.
 * Until then readers find either version (keyring.ts); a rerun after a crash resumes the stage.
 */
export async function rotateNamespaceKey(
  ctx: ServiceContext,
  ns: string,
): Promise<{ namespace: string; keyVersion: number; rewrapped: number }> {
  return withKeyLock(ctx, async () => {
    // The staged key is wrapped by the master key: the one in force, never an old one.
    await followMasterKey(ctx)
    let row = await meta.getNamespace(ctx.db, ns)
    if (!row) throw new ServiceError('NoSuchNamespace', `No namespace ${ns}.`)
    if (!row.wrappedKey)
      throw new ServiceError('InvalidArgument', `Namespace ${ns} has encryption off: it has no key to rotate.`)
    const claimed = await stageNamespaceKey(ctx, ns, row)
    if ('done' in claimed) return { namespace: ns, keyVersion: claimed.done, rewrapped: 0 }
    const staged = claimed.staged
    row = claimed.row
    const version = staged.version
    const next = await namespaceKey(ctx, row, version)
    let rewrapped = 0
    for (let round = 0; round < 1_000_000; round++) {
      const records = await meta.recordsToRewrap(ctx.db, ns, version, REWRAP_PAGE)
      if (records.length === 0) {
        if (await meta.commitNamespaceKey(ctx.db, ns, fromBase64(staged.blob)!, version, stagedKeySetting(ns))) {
          return { namespace: ns, keyVersion: version, rewrapped }
        }
        const now = await meta.getNamespace(ctx.db, ns)
        // Deleted meanwhile through another gateway: nothing is left to commit to (without this
        // the loop went round for its million rounds, holding the key lock).
        if (!now) throw new ServiceError('NoSuchNamespace', `No namespace ${ns}: deleted during its key rotation.`)
        row = now
        // Another gateway rotating this namespace at once committed the same staged key.
        if (row.keyVersion >= version) return { namespace: ns, keyVersion: row.keyVersion, rewrapped }
        continue // a write with the old key landed after the scan: take it in the next round
      }
      const changes: { record: meta.KeyedRecord; next: unknown }[] = []
      for (const r of records) {
        const rec = parseEncryptionRecord(r.encryption, `${r.kind} ${r.bucket}/${r.id}`)
        // The scan selected records of mode sse-s3 only: never empty.
        if (!rec) throw new Error(`${r.kind} ${r.bucket}/${r.id}: no encryption record to re-wrap`)
        if (rec.nsKeyVersion !== row.keyVersion)
          // Only a Coffer without the key-version commit gate could store this (issue 10): the
          // key that opens the object is gone. Said plainly, so the operator can remove the row.
          throw new CorruptMetadataError(
            `${r.kind} ${r.bucket}/${r.id} names key version ${rec.nsKeyVersion} of namespace ${ns}, which no longer exists (current ${row.keyVersion}): its data cannot be decrypted; delete it, then rerun the rotation`,
          )
        const oldKey = await namespaceKey(ctx, row, rec.nsKeyVersion)
        const wrappedKey = await rewrapObjectKey(oldKey, next, ns, rec.objectId, rec.wrappedKey, version)
        changes.push({ record: r, next: { ...rec, nsKeyVersion: version, wrappedKey } })
      }
      rewrapped += await meta.replaceEncryptions(ctx.db, changes)
    }
    throw new Error(`namespace ${ns}: rotation did not converge; rerun it to resume`)
  })
}
