/**
 * Namespaces and users (access keys). The service authenticates with getUser and scopes buckets
 * by the user's namespace. Uses the schema through drizzle only.
 */
import { and, asc, eq, exists, isNotNull, isNull, ne, notExists, sql } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { buckets, kmsKeys, namespaces, settings, users } from '../schema.ts'
import { affected, rowWhere } from '../tx.ts'
import { preparedPer } from '../prepared.ts'

/**
 * A settings entry a write requires unchanged, checked in the write's own statement: the master
 * key fingerprint a secret was sealed (or a namespace key wrapped) under. A gateway still on the
 * old key after another gateway's rotation then cannot store what nobody else could open.
 */
export interface SettingPin {
  key: string
  value: string
}

const pinHolds = (db: Db, pin: SettingPin) =>
  exists(
    db
      .select({ one: sql`1` })
      .from(settings)
      .where(and(eq(settings.key, pin.key), eq(settings.value, pin.value))),
  )

/** Whether the pin's entry still holds its value (to tell a refusal from an existing row). */
async function pinStale(db: Db, pin: SettingPin | undefined): Promise<boolean> {
  if (!pin) return false
  const row = await db.select({ value: settings.value }).from(settings).where(eq(settings.key, pin.key)).get()
  return row !== undefined && row.value !== pin.value
}

export type NamespaceRow = typeof namespaces.$inferSelect
export type UserRow = typeof users.$inferSelect
export type NewNamespace = Pick<NamespaceRow, 'name'> & Partial<Omit<NamespaceRow, 'name'>>
/** A new user: its secret arrives sealed by the master key (the service seals it), never in clear. */
export type NewUser = Omit<
  UserRow,
  'createdAt' | 'isRoot' | 'secretAccessKey' | 'wrappedSecret' | 'builtinPolicy' | 'policy'
> & {
  wrappedSecret: string
} & Partial<Pick<UserRow, 'createdAt' | 'isRoot' | 'builtinPolicy' | 'policy'>>

export const DEFAULT_NAMESPACE = 'default'

export async function ensureDefaultNamespace(db: Db): Promise<void> {
  await createNamespace(db, { name: DEFAULT_NAMESPACE })
}

/**
 * Block Public Access as new namespaces get it: all four switches on (the service's JSON shape,
 * src/service/public-access.ts). Namespaces that existed before access control have none.
 */
export const NEW_NAMESPACE_PUBLIC_ACCESS_BLOCK =
  '{"BlockPublicAcls":true,"IgnorePublicAcls":true,"BlockPublicPolicy":true,"RestrictPublicBuckets":true}'

export async function createNamespace(
  db: Db,
  ns: NewNamespace,
  pin?: SettingPin,
): Promise<'created' | 'exists' | 'stale-pin'> {
  const row = {
    encrypted: false,
    keyVersion: 0,
    wrappedKey: null,
    createdAt: new Date(),
    publicAccessBlock: NEW_NAMESPACE_PUBLIC_ACCESS_BLOCK,
    ...ns,
  }
  const res = pin
    ? await db
        .insert(namespaces)
        .select(rowWhere(namespaces, row as NamespaceRow, pinHolds(db, pin)))
        .onConflictDoNothing()
    : await db.insert(namespaces).values(row).onConflictDoNothing()
  if (affected(res) === 1) return 'created'
  return (await pinStale(db, pin)) ? 'stale-pin' : 'exists'
}

const namespaceQuery = preparedPer((db) =>
  db
    .select()
    .from(namespaces)
    .where(eq(namespaces.name, sql.placeholder('name')))
    .prepare(),
)

/** On every encrypted read (the namespace key's version): a prepared query. */
export async function getNamespace(db: Db, name: string): Promise<NamespaceRow | undefined> {
  return namespaceQuery(db).get({ name })
}

export async function listNamespaces(db: Db): Promise<NamespaceRow[]> {
  return db.select().from(namespaces).orderBy(asc(namespaces.name))
}

/**
 * Makes the operator's credentials the one root user of the default namespace. Other root keys
 * are removed in the same batch: a rotated root secret must stop working at once.
 */
export async function upsertRootUser(
  db: Db,
  c: { accessKeyId: string; wrappedSecret: string; name?: string },
): Promise<void> {
  const now = new Date()
  await db.batch([
    db
      .insert(namespaces)
      .values({ name: DEFAULT_NAMESPACE, createdAt: now, publicAccessBlock: NEW_NAMESPACE_PUBLIC_ACCESS_BLOCK })
      .onConflictDoNothing(),
    db
      .insert(users)
      .values({
        accessKeyId: c.accessKeyId,
        name: c.name ?? 'root',
        namespace: DEFAULT_NAMESPACE,
        secretAccessKey: '',
        wrappedSecret: c.wrappedSecret,
        isRoot: true,
        createdAt: now,
      })
      .onConflictDoUpdate({
        target: users.accessKeyId,
        set: { secretAccessKey: '', wrappedSecret: c.wrappedSecret, isRoot: true, namespace: DEFAULT_NAMESPACE },
      }),
    db.delete(users).where(and(eq(users.isRoot, true), ne(users.accessKeyId, c.accessKeyId))),
  ])
}

export async function getUser(db: Db, accessKeyId: string): Promise<UserRow | undefined> {
  return db.select().from(users).where(eq(users.accessKeyId, accessKeyId)).get()
}

/** With `pin`, the user is stored only while the pinned setting (the master key fingerprint) holds. */
export async function createUser(db: Db, user: NewUser, pin?: SettingPin): Promise<'created' | 'exists' | 'stale-pin'> {
  const row = { isRoot: false, createdAt: new Date(), ...user, secretAccessKey: '' }
  const res = pin
    ? await db
        .insert(users)
        .select(rowWhere(users, row as UserRow, pinHolds(db, pin)))
        .onConflictDoNothing()
    : await db.insert(users).values(row).onConflictDoNothing()
  if (affected(res) === 1) return 'created'
  return (await pinStale(db, pin)) ? 'stale-pin' : 'exists'
}

/** All users, or those of one namespace, by access key id. */
export async function listUsers(db: Db, namespace?: string): Promise<UserRow[]> {
  return db
    .select()
    .from(users)
    .where(namespace === undefined ? undefined : eq(users.namespace, namespace))
    .orderBy(asc(users.accessKeyId))
}

/** The user's policies: a built-in one by name and/or its own document; null clears either. */
export async function setUserPolicies(
  db: Db,
  accessKeyId: string,
  p: { builtinPolicy?: string | null; policy?: string | null },
): Promise<boolean> {
  const set: Partial<Pick<UserRow, 'builtinPolicy' | 'policy'>> = {}
  if (p.builtinPolicy !== undefined) set.builtinPolicy = p.builtinPolicy
  if (p.policy !== undefined) set.policy = p.policy
  if (Object.keys(set).length === 0) return (await getUser(db, accessKeyId)) !== undefined
  return affected(await db.update(users).set(set).where(eq(users.accessKeyId, accessKeyId))) === 1
}

/** The namespace's Block Public Access (the service's JSON), null to remove it. */
export async function setNamespacePublicAccessBlock(db: Db, name: string, value: string | null): Promise<boolean> {
  return affected(await db.update(namespaces).set({ publicAccessBlock: value }).where(eq(namespaces.name, name))) === 1
}

/** True when a user was deleted. */
export async function deleteUser(db: Db, accessKeyId: string): Promise<boolean> {
  return affected(await db.delete(users).where(eq(users.accessKeyId, accessKeyId))) === 1
}

/**
 * Deletes a namespace that holds no buckets, with its users and its wrapped key (crypto-erase:
 * every object key under it becomes unrecoverable), in one transaction. `stagedKey` names a
 * settings entry holding a key staged by a rotation, deleted too.
 */
export async function deleteNamespace(
  db: Db,
  name: string,
  stagedKey: string,
): Promise<'deleted' | 'has-buckets' | 'missing'> {
  const empty = notExists(db.select({ one: sql`1` }).from(buckets).where(eq(buckets.namespace, name)))
  const [existing, , , , gone] = await db.batch([
    db.select({ name: namespaces.name }).from(namespaces).where(eq(namespaces.name, name)),
    db.delete(users).where(and(eq(users.namespace, name), empty)),
    // Its KMS keys go with it (crypto-erase of their objects, as for the namespace key).
    db.delete(kmsKeys).where(and(eq(kmsKeys.namespace, name), empty)),
    db.delete(settings).where(and(eq(settings.key, stagedKey), empty)),
    db.delete(namespaces).where(and(eq(namespaces.name, name), empty)),
  ])
  if (affected(gone) === 1) return 'deleted'
  return existing.length === 0 ? 'missing' : 'has-buckets'
}

/** A user row still holding its secret in clear (written before migration 0003, or by an older gateway). */
export interface ClearSecret {
  accessKeyId: string
  secretAccessKey: string
}

/** Every user whose secret is not sealed yet. */
export async function clearSecrets(db: Db): Promise<ClearSecret[]> {
  return db
    .select({ accessKeyId: users.accessKeyId, secretAccessKey: users.secretAccessKey })
    .from(users)
    .where(isNull(users.wrappedSecret))
}

/**
 * Moves secrets from clear to sealed, in one transaction: each row only if it is still the clear
 * secret that was read (a row replaced meanwhile is left alone), and the settings entry
 * `pendingSetting` set when any row changed (the caller then purges the file of the old bytes).
 * Idempotent; returns how many rows were sealed.
 */
export async function sealSecrets(
  db: Db,
  sealed: readonly (ClearSecret & { wrappedSecret: string })[],
  pendingSetting: string,
): Promise<number> {
  const updates = sealed.map((u) =>
    db
      .update(users)
      .set({ secretAccessKey: '', wrappedSecret: u.wrappedSecret })
      .where(
        and(
          eq(users.accessKeyId, u.accessKeyId),
          isNull(users.wrappedSecret),
          eq(users.secretAccessKey, u.secretAccessKey),
        ),
      ),
  )
  const [first, ...rest] = updates
  if (!first) return 0
  const results = await db.batch([
    first,
    ...rest,
    db.insert(settings).values({ key: pendingSetting, value: '1' }).onConflictDoNothing(),
  ])
  return results.slice(0, updates.length).reduce((n, r) => n + affected(r), 0)
}

/** Every sealed secret, for a master-key rotation to re-seal. */
export async function sealedSecrets(db: Db): Promise<{ accessKeyId: string; wrappedSecret: string }[]> {
  const rows = await db
    .select({ accessKeyId: users.accessKeyId, wrappedSecret: users.wrappedSecret })
    .from(users)
    .where(isNotNull(users.wrappedSecret))
  return rows.map((r) => ({ accessKeyId: r.accessKeyId, wrappedSecret: r.wrappedSecret! }))
}

/**
 * Rewrites an embedded database file so that bytes of deleted or replaced values (a secret moved
 * out of clear) are gone from it: VACUUM builds the file anew from live rows, and a TRUNCATE
 * checkpoint copies the result into the file and empties the WAL, which held the old pages too.
 */
export async function purgeDeletedBytes(db: Db): Promise<void> {
  await db.run(sql`VACUUM`)
  await db.run(sql`PRAGMA wal_checkpoint(TRUNCATE)`)
}
