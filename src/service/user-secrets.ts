/**
 * Users' S3 secret keys at rest (docs/architecture.md §5). SigV4 needs the secret itself, so it
 * cannot be hashed: it is sealed by the master key (key blob kind 4, bound to the access key id)
 * and opened when a request is authenticated. A copy of the metadata alone then gives no access.
 *
 *   create user / root at start:  users.wrapped_secret = seal(master, accessKeyId, secret)
 *   start:    rows still in clear (written before migration 0003) are sealed, in one transaction
 *             that also records that the file must be purged; the embedded file is then rebuilt
 *             (VACUUM) and its WAL emptied, so the old bytes are gone; a crash in between is
 *             finished at the next start (the purge is recorded with the sealing)
 *   rotate master:  every sealed secret re-sealed in the rotation's one transaction (key-rotation.ts)
 */
import { KeyUnwrapError, openUserSecret, sealUserSecret } from '../crypto/index.ts'
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import { followMasterKey, underMaster } from './keyring.ts'

/** Set, in the sealing transaction, until the file has been purged of the clear secrets. */
export const PURGE_PENDING_SETTING = 'user-secrets-purge-pending'

export const sealSecret = (ctx: ServiceContext, accessKeyId: string, secret: string): Promise<string> =>
  sealUserSecret(ctx.keys.master, accessKeyId, secret)

/** The secret of a user row, for SigV4. */
export async function openSecret(ctx: ServiceContext, user: meta.UserRow): Promise<string> {
  if (user.wrappedSecret !== null) {
    try {
      return await underMaster(ctx, (master) => openUserSecret(master, user.accessKeyId, user.wrappedSecret!))
    } catch (e) {
      // Resealed by a master-key rotation through another gateway: follow it (the key file read
      // again), or refuse with what to do (503) rather than deny a user whose secret is fine.
      if (!(e instanceof KeyUnwrapError) || (await followMasterKey(ctx)) === 'current') throw e
      return openUserSecret(ctx.keys.master, user.accessKeyId, user.wrappedSecret)
    }
  }
  // Only a row that an older gateway sharing the metadata wrote: sealed at the next start here.
  if (user.secretAccessKey === '') throw new KeyUnwrapError(`user ${user.accessKeyId} has no secret`)
  return user.secretAccessKey
}

/**
 * Start-up: seals every secret still in clear, then purges the embedded file of the old bytes
 * (see the header). Idempotent; returns how many secrets were sealed now.
 */
export async function sealClearSecrets(ctx: ServiceContext): Promise<number> {
  const clear = await meta.clearSecrets(ctx.db)
  const sealed = await Promise.all(
    clear.map(async (u) => ({ ...u, wrappedSecret: await sealSecret(ctx, u.accessKeyId, u.secretAccessKey) })),
  )
  const count = await meta.sealSecrets(ctx.db, sealed, PURGE_PENDING_SETTING)
  if ((await meta.getSetting(ctx.db, PURGE_PENDING_SETTING)) !== undefined) {
    try {
      await meta.purgeDeletedBytes(ctx.db)
      await meta.deleteSetting(ctx.db, PURGE_PENDING_SETTING)
    } catch (e) {
      // A metadata server (sqld) may refuse VACUUM: the secrets are sealed, but its files may
      // still hold the old bytes until it compacts them. Tried again at every start.
      ctx.logger.log('warn', 'user secrets are sealed, but the metadata file could not be purged of the old copies', {
        error: String(e),
      })
    }
  }
  return count
}
