/**
 * SSE-KMS with service-managed keys (docs/architecture.md §5): KMS keys per namespace in the D@RE
 * hierarchy (master key → KMS key → object key), their life cycle (enable, disable, scheduled
 * deletion that destroys the material: crypto-erase of every object under the key), and how a
 * request's key reference is resolved. Joins meta + crypto.
 *
 *   create:   kmsKey = random(32); row.wrappedKey = wrap(master, kmsKey)   (gated on the namespace
 *             and on the master key in force)
 *   use:      the row is read on every write and read: Enabled → unwrap (cached by blob);
 *             Disabled → KMS.DisabledException; PendingDeletion → KMS.KMSInvalidStateException;
 *             Deleted (material destroyed) → KMS.NotFoundException. Commits re-check Enabled in
 *             their own transaction (meta KeyPin), so a disable racing a write wins or loses whole.
 *   delete:   PendingDeletion until its date, then wrappedKey := null, and the metadata file is
 *             rebuilt so no freed page keeps the old blob
 *   default:  `alias/aws/s3`, created on first use (one per namespace: the alias is unique), managed
 *             (cannot be disabled or deleted, as AWS-managed keys)
 */
import { generateKey, unwrapKmsKey, wrapKmsKey } from '../crypto/index.ts'
import * as meta from '../meta/index.ts'
import type { ServiceContext } from './context.ts'
import { ServiceError } from './errors.ts'
import { followMasterKey, masterKeyPin, staleMasterKey, underMaster } from './keyring.ts'
import { aliasForNewKey, DEFAULT_KEY_ALIAS, type KmsKeyRef, kmsKeyArn, parseKmsKeyRef } from './kms-ids.ts'

/** AWS's bounds on a deletion's waiting period (ScheduleKeyDeletion PendingWindowInDays). */
export const KMS_DELETION_DAYS = { min: 7, max: 30, default: 30 } as const

/** What the admin API shows of a key (never its material). */
export interface KmsKeyInfo {
  keyId: string
  arn: string
  namespace: string
  alias?: string
  state: string
  managed: boolean
  createdAt: string
  deletionDate?: string
}

export const kmsArnOf = (row: meta.KmsKeyRow): string => kmsKeyArn(row.region, row.namespace, row.id)

function kmsKeyInfo(row: meta.KmsKeyRow): KmsKeyInfo {
  const out: KmsKeyInfo = {
    keyId: row.id,
    arn: kmsArnOf(row),
    namespace: row.namespace,
    state: row.state,
    managed: row.managed,
    createdAt: row.createdAt.toISOString(),
  }
  if (row.alias) out.alias = row.alias
  if (row.deletionDate) out.deletionDate = row.deletionDate.toISOString()
  return out
}

const invalidKeyId = (text: string) => new ServiceError('KMS.NotFoundException', `Invalid keyId '${text}'`)
const noSuchKey = (text: string) => new ServiceError('KMS.NotFoundException', `Key '${text}' does not exist`)

async function insertKey(
  ctx: ServiceContext,
  namespace: string,
  region: string,
  alias: string | undefined,
  managed: boolean,
): Promise<meta.KmsKeyRow | 'alias-taken'> {
  for (let attempt = 1; ; attempt++) {
    const id = crypto.randomUUID()
    const row: meta.KmsKeyRow = {
      id,
      namespace,
      region,
      alias: alias ?? null,
      managed,
      state: 'Enabled',
      wrappedKey: await wrapKmsKey(ctx.keys.master, namespace, id, await generateKey()),
      createdAt: new Date(),
      deletionDate: null,
    }
    const result = await meta.insertKmsKey(ctx.db, row, await masterKeyPin(ctx))
    if (result === 'created') return row
    if (result === 'alias-taken') return 'alias-taken'
    if (result === 'no-namespace') throw new ServiceError('NoSuchNamespace', `No namespace ${namespace}.`)
    // Wrapped under a master key another gateway has rotated away: take the new one, once.
    if (attempt > 1 || (await followMasterKey(ctx)) !== 'reloaded') throw staleMasterKey(ctx)
  }
}

/** Operators: a new key in `namespace` (`alias`: NAME or alias/NAME). */
export async function createKmsKey(
  ctx: ServiceContext,
  namespace: string,
  opts: { alias?: string; region: string },
): Promise<KmsKeyInfo> {
  let alias: string | undefined
  if (opts.alias !== undefined) {
    alias = aliasForNewKey(opts.alias)
    if (!alias)
      throw new ServiceError(
        'InvalidArgument',
        `Alias ${JSON.stringify(opts.alias)} is not valid: letters, digits, / _ - (up to 250), and not under alias/aws/, which is reserved.`,
      )
  }
  const row = await insertKey(ctx, namespace, opts.region, alias, false)
  if (row === 'alias-taken')
    throw new ServiceError(
      'InvalidArgument',
      `An alias with the name ${alias} already exists in namespace ${namespace}.`,
    )
  return kmsKeyInfo(row)
}

/** The namespace's managed default key (`alias/aws/s3`), created on first use. */
export async function defaultKmsKey(ctx: ServiceContext, namespace: string, region: string): Promise<meta.KmsKeyRow> {
  for (let i = 0; i < 3; i++) {
    const found = await meta.getKmsKeyByAlias(ctx.db, namespace, DEFAULT_KEY_ALIAS)
    if (found) return found
    const made = await insertKey(ctx, namespace, region, DEFAULT_KEY_ALIAS, true)
    // A concurrent first use created it: read that one (one default key per namespace).
    if (made !== 'alias-taken') return made
  }
  throw new ServiceError('Unavailable', `The default KMS key of namespace ${namespace} could not be read; retry.`)
}

/**
 * The key a request names (`text`: key id, alias, or either as an ARN), seen from `namespace`:
 * an ARN of another namespace (account) is AccessDenied; a key that is not there is
 * KMS.NotFoundException. `alias/aws/s3` is created on first use.
 */
export async function resolveKmsKey(
  ctx: ServiceContext,
  namespace: string,
  text: string,
  region: string,
): Promise<meta.KmsKeyRow> {
  const ref = parseKmsKeyRef(text)
  if (!ref) throw invalidKeyId(text)
  if (ref.account !== undefined && ref.account !== namespace)
    throw new ServiceError(
      'AccessDenied',
      `The KMS key ${text} belongs to another account (namespace ${ref.account}): it cannot be used from namespace ${namespace}.`,
    )
  const row = await findKey(ctx, namespace, ref, region)
  if (!row || row.namespace !== namespace || (ref.region !== undefined && ref.region !== row.region))
    throw noSuchKey(text)
  return row
}

async function findKey(
  ctx: ServiceContext,
  namespace: string,
  ref: KmsKeyRef,
  region: string,
): Promise<meta.KmsKeyRow | undefined> {
  if (ref.kind === 'id') return meta.getKmsKey(ctx.db, ref.id)
  if (ref.alias === DEFAULT_KEY_ALIAS) return defaultKmsKey(ctx, namespace, ref.region ?? region)
  return meta.getKmsKeyByAlias(ctx.db, namespace, ref.alias)
}

/**
 * The material of `row` if it may be used now, else AWS's error for its state. A key whose
 * deletion date has passed is destroyed first (the sweep also runs on a timer).
 */
export async function usableKmsKey(ctx: ServiceContext, row: meta.KmsKeyRow): Promise<Uint8Array> {
  if (row.state === 'PendingDeletion' && row.deletionDate && row.deletionDate.getTime() <= Date.now()) {
    await destroyDueKmsKeys(ctx)
    row = (await meta.getKmsKey(ctx.db, row.id)) ?? { ...row, state: 'Deleted', wrappedKey: null }
  }
  const arn = kmsArnOf(row)
  if (row.state === 'Disabled') throw new ServiceError('KMS.DisabledException', `${arn} is disabled.`)
  if (row.state === 'PendingDeletion')
    throw new ServiceError('KMS.KMSInvalidStateException', `${arn} is pending deletion.`)
  if (row.state !== 'Enabled' || !row.wrappedKey)
    throw new ServiceError(
      'KMS.NotFoundException',
      `Key '${arn}' does not exist: it was deleted, and the data encrypted under it cannot be decrypted.`,
    )
  const id = `kms\u0000${row.id}\u0000${row.wrappedKey}`
  const hit = ctx.keys.cache.get(id)
  if (hit) return hit
  const wrapped = row.wrappedKey
  const key = await underMaster(ctx, (master) => unwrapKmsKey(master, row.namespace, row.id, wrapped))
  if (ctx.keys.cache.size >= 1024) ctx.keys.cache.clear()
  ctx.keys.cache.set(id, key)
  return key
}

/** The material of key `id` for a read of data stored under it. */
export async function kmsKeyForRead(ctx: ServiceContext, id: string): Promise<Uint8Array> {
  const row = await meta.getKmsKey(ctx.db, id)
  if (!row) throw new ServiceError('KMS.NotFoundException', `Key '${id}' does not exist.`)
  return usableKmsKey(ctx, row)
}

// ── operators ───────────────────────────────────────────────────────────────────────────────

/** A key named by the operator: id or ARN, or an alias with its namespace. */
async function operatorKey(ctx: ServiceContext, text: string, namespace?: string): Promise<meta.KmsKeyRow> {
  await destroyDueKmsKeys(ctx)
  const ref = parseKmsKeyRef(text)
  if (!ref) throw invalidKeyId(text)
  const ns = ref.account ?? namespace
  let row: meta.KmsKeyRow | undefined
  if (ref.kind === 'id') row = await meta.getKmsKey(ctx.db, ref.id)
  else if (ns === undefined)
    throw new ServiceError('InvalidArgument', `An alias names a key within a namespace: give the namespace.`)
  else row = await meta.getKmsKeyByAlias(ctx.db, ns, ref.alias)
  if (!row || (ns !== undefined && row.namespace !== ns)) throw noSuchKey(text)
  return row
}

export async function listKmsKeys(ctx: ServiceContext, namespace?: string): Promise<KmsKeyInfo[]> {
  await destroyDueKmsKeys(ctx)
  return (await meta.listKmsKeys(ctx.db, namespace)).map(kmsKeyInfo)
}

export async function describeKmsKey(ctx: ServiceContext, text: string, namespace?: string): Promise<KmsKeyInfo> {
  return kmsKeyInfo(await operatorKey(ctx, text, namespace))
}

const refuseManaged = (row: meta.KmsKeyRow, what: string) => {
  if (row.managed)
    throw new ServiceError(
      'InvalidArgument',
      `${kmsArnOf(row)} is the namespace's managed default key (${DEFAULT_KEY_ALIAS}): it cannot be ${what}, as AWS-managed keys cannot.`,
    )
}

async function transition(
  ctx: ServiceContext,
  row: meta.KmsKeyRow,
  from: readonly meta.KmsKeyState[],
  to: meta.KmsKeyState,
  deletionDate: Date | null = null,
): Promise<KmsKeyInfo> {
  if (!(await meta.setKmsKeyState(ctx.db, row.id, from, to, deletionDate))) {
    const now = (await meta.getKmsKey(ctx.db, row.id)) ?? row
    throw new ServiceError('KMS.KMSInvalidStateException', `${kmsArnOf(now)} is ${now.state}: it cannot become ${to}.`)
  }
  return kmsKeyInfo((await meta.getKmsKey(ctx.db, row.id)) ?? row)
}

export async function disableKmsKey(ctx: ServiceContext, text: string, namespace?: string): Promise<KmsKeyInfo> {
  const row = await operatorKey(ctx, text, namespace)
  refuseManaged(row, 'disabled')
  return transition(ctx, row, ['Enabled', 'Disabled'], 'Disabled')
}

export async function enableKmsKey(ctx: ServiceContext, text: string, namespace?: string): Promise<KmsKeyInfo> {
  const row = await operatorKey(ctx, text, namespace)
  return transition(ctx, row, ['Enabled', 'Disabled'], 'Enabled')
}

/**
 * Schedules the destruction of the key's material after `days` (7–30, default 30; a day is
 * 86,400 s, or COFFER_KMS_DAY_SECONDS for tests and demos). Until then the key refuses every use
 * and the deletion can be cancelled.
 */
export async function scheduleKmsKeyDeletion(
  ctx: ServiceContext,
  text: string,
  namespace: string | undefined,
  days: number = KMS_DELETION_DAYS.default,
): Promise<KmsKeyInfo> {
  if (!Number.isInteger(days) || days < KMS_DELETION_DAYS.min || days > KMS_DELETION_DAYS.max)
    throw new ServiceError(
      'InvalidArgument',
      `The waiting period is ${KMS_DELETION_DAYS.min} to ${KMS_DELETION_DAYS.max} days, got ${days}.`,
    )
  const row = await operatorKey(ctx, text, namespace)
  refuseManaged(row, 'deleted')
  const seconds = days * (ctx.tuning.kmsDaySeconds > 0 ? ctx.tuning.kmsDaySeconds : 86_400)
  return transition(ctx, row, ['Enabled', 'Disabled'], 'PendingDeletion', new Date(Date.now() + seconds * 1000))
}

/** As AWS's CancelKeyDeletion: the key comes back Disabled. */
export async function cancelKmsKeyDeletion(ctx: ServiceContext, text: string, namespace?: string): Promise<KmsKeyInfo> {
  const row = await operatorKey(ctx, text, namespace)
  return transition(ctx, row, ['PendingDeletion'], 'Disabled')
}

/**
 * Destroys the material of every key whose deletion date has passed, then rebuilds the metadata
 * file (VACUUM, WAL truncated) so that no freed page still holds a destroyed blob. A crash in
 * between leaves the blob only in free pages until the next destruction or a start-up purge.
 */
export async function destroyDueKmsKeys(ctx: ServiceContext): Promise<number> {
  const now = new Date()
  let destroyed = 0
  for (const row of await meta.kmsKeysDue(ctx.db, now)) {
    if (await meta.destroyKmsKey(ctx.db, row.id, now)) {
      destroyed++
      for (const id of ctx.keys.cache.keys()) if (id.startsWith(`kms\u0000${row.id}\u0000`)) ctx.keys.cache.delete(id)
      ctx.logger.log('info', 'KMS key destroyed (scheduled deletion)', { key: kmsArnOf(row) })
    }
  }
  if (destroyed > 0) {
    try {
      await meta.purgeDeletedBytes(ctx.db)
    } catch (e) {
      // A metadata server (sqld) may refuse VACUUM: the key is gone from every row all the same.
      ctx.logger.log('warn', 'a KMS key was destroyed, but the metadata file could not be rebuilt', {
        error: e instanceof Error ? e.message : String(e),
      })
    }
  }
  return destroyed
}
