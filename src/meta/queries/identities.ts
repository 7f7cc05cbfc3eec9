/**
 * Namespaces and users (access keys). The service authenticates with getUser and scopes buckets
 * by the user's namespace. Uses the schema through drizzle only.
 */
import { and, asc, eq, ne, notExists, sql } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { buckets, namespaces, settings, users } from '../schema.ts'
import { affected } from '../tx.ts'

export type NamespaceRow = typeof namespaces.$inferSelect
export type UserRow = typeof users.$inferSelect
export type NewNamespace = Pick<NamespaceRow, 'name'> & Partial<Omit<NamespaceRow, 'name'>>
export type NewUser = Omit<UserRow, 'createdAt' | 'isRoot'> & Partial<Pick<UserRow, 'createdAt' | 'isRoot'>>

export const DEFAULT_NAMESPACE = 'default'

export async function ensureDefaultNamespace(db: Db): Promise<void> {
  await createNamespace(db, { name: DEFAULT_NAMESPACE })
}

export async function createNamespace(db: Db, ns: NewNamespace): Promise<'created' | 'exists'> {
  const res = await db
    .insert(namespaces)
    .values({ encrypted: false, keyVersion: 0, wrappedKey: null, createdAt: new Date(), ...ns })
    .onConflictDoNothing()
  return affected(res) === 1 ? 'created' : 'exists'
}

export async function getNamespace(db: Db, name: string): Promise<NamespaceRow | undefined> {
  return db.select().from(namespaces).where(eq(namespaces.name, name)).get()
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
  c: { accessKeyId: string; secretAccessKey: string; name?: string },
): Promise<void> {
  const now = new Date()
  await db.batch([
    db.insert(namespaces).values({ name: DEFAULT_NAMESPACE, createdAt: now }).onConflictDoNothing(),
    db
      .insert(users)
      .values({
        accessKeyId: c.accessKeyId,
        name: c.name ?? 'root',
        namespace: DEFAULT_NAMESPACE,
        secretAccessKey: c.secretAccessKey,
        isRoot: true,
        createdAt: now,
      })
      .onConflictDoUpdate({
        target: users.accessKeyId,
        set: { secretAccessKey: c.secretAccessKey, isRoot: true, namespace: DEFAULT_NAMESPACE },
      }),
    db.delete(users).where(and(eq(users.isRoot, true), ne(users.accessKeyId, c.accessKeyId))),
  ])
}

export async function getUser(db: Db, accessKeyId: string): Promise<UserRow | undefined> {
  return db.select().from(users).where(eq(users.accessKeyId, accessKeyId)).get()
}

export async function createUser(db: Db, user: NewUser): Promise<'created' | 'exists'> {
  const res = await db
    .insert(users)
    .values({ isRoot: false, createdAt: new Date(), ...user })
    .onConflictDoNothing()
  return affected(res) === 1 ? 'created' : 'exists'
}

/** All users, or those of one namespace, by access key id. */
export async function listUsers(db: Db, namespace?: string): Promise<UserRow[]> {
  return db
    .select()
    .from(users)
    .where(namespace === undefined ? undefined : eq(users.namespace, namespace))
    .orderBy(asc(users.accessKeyId))
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
  const [existing, , , gone] = await db.batch([
    db.select({ name: namespaces.name }).from(namespaces).where(eq(namespaces.name, name)),
    db.delete(users).where(and(eq(users.namespace, name), empty)),
    db.delete(settings).where(and(eq(settings.key, stagedKey), empty)),
    db.delete(namespaces).where(and(eq(namespaces.name, name), empty)),
  ])
  if (affected(gone) === 1) return 'deleted'
  return existing.length === 0 ? 'missing' : 'has-buckets'
}
