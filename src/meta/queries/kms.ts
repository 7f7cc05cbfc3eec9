/**
 * SSE-KMS keys (kms_keys): creation gated on the namespace, state changes, the scheduled
 * destruction of key material, and the guard a commit under a KMS key carries. Drizzle only.
 */
import { and, asc, eq, exists, isNotNull, lte, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { kmsKeys, namespaces, settings } from '../schema.ts'
import { affected, rowWhere } from '../tx.ts'

export type KmsKeyRow = typeof kmsKeys.$inferSelect
export type KmsKeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'Deleted'

/**
 * Stores a new key, only while its namespace exists (a key created racing the namespace's
 * deletion would otherwise outlive it and be found again by a namespace of the same name).
 * 'alias-taken': another key of the namespace has the alias (the managed default key created by
 * a concurrent first use included: the caller reads that one). 'stale-pin': the master key that
 * wrapped it is no longer the one in force (`pin`: its fingerprint setting, as for namespaces).
 */
export async function insertKmsKey(
  db: Db,
  row: KmsKeyRow,
  pin: { key: string; value: string },
): Promise<'created' | 'alias-taken' | 'no-namespace' | 'stale-pin'> {
  const nsExists = exists(db.select({ one: sql`1` }).from(namespaces).where(eq(namespaces.name, row.namespace)))
  const pinned = exists(
    db
      .select({ one: sql`1` })
      .from(settings)
      .where(and(eq(settings.key, pin.key), eq(settings.value, pin.value))),
  )
  const result = await db
    .insert(kmsKeys)
    .select(rowWhere(kmsKeys, row, and(nsExists, pinned)!))
    .onConflictDoNothing()
  if (affected(result) === 1) return 'created'
  const ns = await db.select({ name: namespaces.name }).from(namespaces).where(eq(namespaces.name, row.namespace))
  if (ns.length === 0) return 'no-namespace'
  const fp = await db.select({ value: settings.value }).from(settings).where(eq(settings.key, pin.key)).get()
  return fp !== undefined && fp.value !== pin.value ? 'stale-pin' : 'alias-taken'
}

export async function getKmsKey(db: Db, id: string): Promise<KmsKeyRow | undefined> {
  return db.select().from(kmsKeys).where(eq(kmsKeys.id, id)).get()
}

export async function getKmsKeyByAlias(db: Db, namespace: string, alias: string): Promise<KmsKeyRow | undefined> {
  return db
    .select()
    .from(kmsKeys)
    .where(and(eq(kmsKeys.namespace, namespace), eq(kmsKeys.alias, alias)))
    .get()
}

export async function listKmsKeys(db: Db, namespace?: string): Promise<KmsKeyRow[]> {
  return db
    .select()
    .from(kmsKeys)
    .where(namespace === undefined ? undefined : eq(kmsKeys.namespace, namespace))
    .orderBy(asc(kmsKeys.namespace), asc(kmsKeys.createdAt), asc(kmsKeys.id))
}

/** Moves a key from one of `from` to `to` (with its deletion date); false when it was in no state of `from`. */
export async function setKmsKeyState(
  db: Db,
  id: string,
  from: readonly KmsKeyState[],
  to: KmsKeyState,
  deletionDate: Date | null = null,
): Promise<boolean> {
  const result = await db
    .update(kmsKeys)
    .set({ state: to, deletionDate })
    .where(and(eq(kmsKeys.id, id), sql`${kmsKeys.state} in ${from}`))
  return affected(result) === 1
}

/** Keys whose waiting period ended: their material is to be destroyed. */
export async function kmsKeysDue(db: Db, now: Date): Promise<KmsKeyRow[]> {
  return db
    .select()
    .from(kmsKeys)
    .where(and(eq(kmsKeys.state, 'PendingDeletion'), isNotNull(kmsKeys.deletionDate), lte(kmsKeys.deletionDate, now)))
}

/**
 * Destroys the material of a key still pending deletion whose date has passed (a cancellation
 * that won the race keeps it): the wrapped key goes, the alias is freed, the row stays as a
 * tombstone so reads say the key was deleted. True when this call destroyed it.
 */
export async function destroyKmsKey(db: Db, id: string, now: Date): Promise<boolean> {
  const result = await db
    .update(kmsKeys)
    .set({ state: 'Deleted', wrappedKey: null, alias: null })
    .where(and(eq(kmsKeys.id, id), eq(kmsKeys.state, 'PendingDeletion'), lte(kmsKeys.deletionDate, now)))
  return affected(result) === 1
}

/** SQL that holds while KMS key `id` is enabled: a commit of data under it is refused otherwise. */
export function kmsKeyUsable(db: Db, id: string): SQL {
  return exists(
    db
      .select({ one: sql`1` })
      .from(kmsKeys)
      .where(and(eq(kmsKeys.id, id), eq(kmsKeys.state, 'Enabled'), isNotNull(kmsKeys.wrappedKey))),
  )
}

/** Every KMS key still holding material (a master-key rotation re-wraps them all). */
export async function wrappedKmsKeys(db: Db): Promise<{ id: string; namespace: string; wrappedKey: string }[]> {
  const rows = await db
    .select({ id: kmsKeys.id, namespace: kmsKeys.namespace, wrappedKey: kmsKeys.wrappedKey })
    .from(kmsKeys)
    .where(isNotNull(kmsKeys.wrappedKey))
  return rows.map((r) => ({ ...r, wrappedKey: r.wrappedKey! }))
}
