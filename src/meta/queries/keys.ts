/**
 * D@RE bookkeeping in metadata: settings (master-key fingerprint, staged namespace keys) and the
 * scans and guarded updates a key rotation needs. Uses the schema through drizzle only.
 */
import { and, asc, eq, exists, gt, inArray, ne, not, or, sql, type AnyColumn, type SQL } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { buckets, kmsKeys, multipartUploads, namespaces, objects, settings, users } from '../schema.ts'
import { preparedPer } from '../prepared.ts'
import { affected } from '../tx.ts'
import { kmsKeyUsable } from './kms.ts'

// Prepared once per Db (prepared.ts): a PUT reads a setting or two (bucket encryption, a staged
// namespace key), and building the query cost more than running it.
const settingQuery = preparedPer((db) =>
  db
    .select({ value: settings.value })
    .from(settings)
    .where(eq(settings.key, sql.placeholder('key')))
    .prepare(),
)

export async function getSetting(db: Db, key: string): Promise<string | undefined> {
  return (await settingQuery(db).get({ key }))?.value
}

export async function setSetting(db: Db, key: string, value: string): Promise<void> {
  await db.insert(settings).values({ key, value }).onConflictDoUpdate({ target: settings.key, set: { value } })
}

/**
 * Sets `key` to `value` only if it still holds `expected` (undefined: only if absent), in one
 * statement; true when this call set it. Gateways racing to set one value agree on the winner's.
 */
export async function claimSetting(db: Db, key: string, expected: string | undefined, value: string): Promise<boolean> {
  const res =
    expected === undefined
      ? await db.insert(settings).values({ key, value }).onConflictDoNothing()
      : await db
          .update(settings)
          .set({ value })
          .where(and(eq(settings.key, key), eq(settings.value, expected)))
  return affected(res) === 1
}

export async function deleteSetting(db: Db, key: string): Promise<void> {
  await db.delete(settings).where(eq(settings.key, key))
}

/**
 * The namespace key version a write wrapped its object key under (docs/architecture.md §5). A
 * commit carrying it succeeds only while that version can still be unwrapped: it is the
 * namespace's current version, or the one staged by a rotation in progress (the settings entry
 * `stagedSetting`, a JSON value whose `version` field names it). A rotation that committed
 * meanwhile has dropped the version, and the commit is refused instead of storing a dead pointer.
 */
export type KeyPin =
  | {
      namespace: string
      version: number
      stagedSetting: string
    }
  /** SSE-KMS: the KMS key wrapping the object key must be enabled (not disabled, not pending deletion). */
  | { kmsKeyId: string }

/** SQL that holds while `pin`'s key version exists (see KeyPin); true without a pin. */
export function keyVersionLive(db: Db, pin: KeyPin | undefined): SQL {
  if (!pin) return sql`1`
  if ('kmsKeyId' in pin) return kmsKeyUsable(db, pin.kmsKeyId)
  return or(
    exists(
      db
        .select({ one: sql`1` })
        .from(namespaces)
        .where(and(eq(namespaces.name, pin.namespace), eq(namespaces.keyVersion, pin.version))),
    ),
    exists(
      db
        .select({ one: sql`1` })
        .from(settings)
        .where(
          and(eq(settings.key, pin.stagedSetting), sql`json_extract(${settings.value}, '$.version') = ${pin.version}`),
        ),
    ),
  )!
}

export interface NamespaceKeyUpdate {
  name: string
  /** The blob as read: the batch fails if any namespace changed since. */
  oldWrappedKey: Uint8Array
  wrappedKey: Uint8Array
}

/** Thrown when a guarded batch found the rows changed since they were read; nothing was written. */
export class ConcurrentChangeError extends Error {
  override readonly name = 'ConcurrentChangeError'
}

/**
 * A statement that fails (rolling back its whole batch) unless `cond` holds: SQLite has no
 * ASSERT, but json() of a non-JSON text raises an error.
 */
const assertSql = (db: Db, cond: SQL) =>
  db.run(sql`select json(case when ${cond} then '1' else 'concurrent change' end)`)

/** A user's sealed secret as read (`old`) and re-sealed under the new master key. */
export interface SecretReseal {
  accessKeyId: string
  old: string
  wrappedSecret: string
}

/** A KMS key's material as read (`old`) and re-wrapped under the new master key. */
export interface KmsKeyRewrap {
  id: string
  old: string
  wrappedKey: string
}

/**
 * Master-key rotation commit: every namespace key re-wrapped, staged keys re-wrapped, every
 * user's sealed secret re-sealed, and the new fingerprint, in ONE transaction, which first checks
 * that no namespace and no sealed secret changed since they were read.
 */
export async function commitMasterRotation(
  db: Db,
  updates: readonly NamespaceKeyUpdate[],
  staged: readonly { key: string; old: string; value: string }[],
  fingerprint: { key: string; value: string },
  secrets: readonly SecretReseal[] = [],
  kms: readonly KmsKeyRewrap[] = [],
): Promise<void> {
  const same = updates.map((u) => and(eq(namespaces.name, u.name), eq(namespaces.wrappedKey, u.oldWrappedKey)))
  // One JSON parameter for the secrets: thousands of users must not hit SQLite's expression limits.
  const olds = JSON.stringify(secrets.map((s) => ({ id: s.accessKeyId, old: s.old })))
  const kmsOlds = JSON.stringify(kms.map((k) => ({ id: k.id, old: k.old })))
  const unchanged = sql`(select count(*) from ${namespaces} where ${namespaces.wrappedKey} is not null) = ${updates.length}
    and (select count(*) from ${namespaces} where ${updates.length === 0 ? sql`0` : or(...same)}) = ${updates.length}
    and (select count(*) from ${settings} where ${staged.length === 0 ? sql`0` : or(...staged.map((s) => and(eq(settings.key, s.key), eq(settings.value, s.old))))}) = ${staged.length}
    and (select count(*) from ${users} where ${users.wrappedSecret} is not null) = ${secrets.length}
    and (select count(*) from ${users}, json_each(${olds}) as w
      where ${users.accessKeyId} = json_extract(w.value, '$.id') and ${users.wrappedSecret} = json_extract(w.value, '$.old')) = ${secrets.length}
    and (select count(*) from ${kmsKeys} where ${kmsKeys.wrappedKey} is not null) = ${kms.length}
    and (select count(*) from ${kmsKeys}, json_each(${kmsOlds}) as w
      where ${kmsKeys.id} = json_extract(w.value, '$.id') and ${kmsKeys.wrappedKey} = json_extract(w.value, '$.old')) = ${kms.length}`
  try {
    await db.batch([
      assertSql(db, unchanged),
      ...updates.map((u) => db.update(namespaces).set({ wrappedKey: u.wrappedKey }).where(eq(namespaces.name, u.name))),
      ...staged.map((s) => db.update(settings).set({ value: s.value }).where(eq(settings.key, s.key))),
      ...secrets.map((s) =>
        db.update(users).set({ wrappedSecret: s.wrappedSecret }).where(eq(users.accessKeyId, s.accessKeyId)),
      ),
      ...kms.map((k) => db.update(kmsKeys).set({ wrappedKey: k.wrappedKey }).where(eq(kmsKeys.id, k.id))),
      db
        .insert(settings)
        .values(fingerprint)
        .onConflictDoUpdate({ target: settings.key, set: { value: fingerprint.value } }),
    ])
  } catch (e) {
    if (String((e as Error)?.message ?? e).includes('malformed JSON'))
      throw new ConcurrentChangeError(
        'a namespace key, a KMS key or a user changed during the master-key rotation; nothing was changed, retry',
      )
    throw e
  }
}

/**
 * The service's encryption record is opaque JSON to meta except for two fields a rotation scans
 * by: `mode` ('sse-s3' records are wrapped by the namespace key) and `nsKeyVersion`.
 */
const wrappedByOtherVersion = (column: AnyColumn, version: number): SQL =>
  and(sql`json_extract(${column}, '$.mode') = 'sse-s3'`, sql`json_extract(${column}, '$.nsKeyVersion') != ${version}`)!

const bucketsOf = (db: Db, ns: string) =>
  db.select({ name: buckets.name }).from(buckets).where(eq(buckets.namespace, ns))

export interface KeyedRecord {
  kind: 'object' | 'upload'
  bucket: string
  /** Object key, or upload id for an upload. */
  id: string
  encryption: unknown
}

/** Up to `limit` objects and open uploads of `ns` whose key is not wrapped by version `version`. */
export async function recordsToRewrap(db: Db, ns: string, version: number, limit: number): Promise<KeyedRecord[]> {
  const objs = await db
    .select({ bucket: objects.bucket, key: objects.key, encryption: objects.encryption })
    .from(objects)
    .where(and(inArray(objects.bucket, bucketsOf(db, ns)), wrappedByOtherVersion(objects.encryption, version)))
    .limit(limit)
  const ups = await db
    .select({ bucket: multipartUploads.bucket, id: multipartUploads.uploadId, encryption: multipartUploads.encryption })
    .from(multipartUploads)
    .where(
      and(
        inArray(multipartUploads.bucket, bucketsOf(db, ns)),
        wrappedByOtherVersion(multipartUploads.encryption, version),
      ),
    )
    .limit(limit)
  return [
    ...objs.map((o) => ({ kind: 'object' as const, bucket: o.bucket, id: o.key, encryption: o.encryption })),
    ...ups.map((u) => ({ kind: 'upload' as const, bucket: u.bucket, id: u.id, encryption: u.encryption })),
  ]
}

/** One record's encryption JSON replaced, if it is still what was read (an overwrite wins). */
function replaceEncryptionStmt(db: Db, r: KeyedRecord, next: unknown) {
  const expected = JSON.stringify(r.encryption)
  if (r.kind === 'object') {
    return db
      .update(objects)
      .set({ encryption: next })
      .where(and(eq(objects.bucket, r.bucket), eq(objects.key, r.id), sql`${objects.encryption} = ${expected}`))
  }
  return db
    .update(multipartUploads)
    .set({ encryption: next })
    .where(and(eq(multipartUploads.uploadId, r.id), sql`${multipartUploads.encryption} = ${expected}`))
}

/**
 * Replaces the encryption JSON of a page of records, each only if it is still as read (an
 * overwrite wins), in one transaction (one commit, one fsync); returns how many were replaced.
 */
export async function replaceEncryptions(
  db: Db,
  changes: readonly { record: KeyedRecord; next: unknown }[],
): Promise<number> {
  const [first, ...rest] = changes.map((c) => replaceEncryptionStmt(db, c.record, c.next))
  if (!first) return 0
  const results = await db.batch([first, ...rest])
  return results.reduce((n, r) => n + affected(r), 0)
}

/**
 * Namespace-key rotation commit: the namespace row takes the staged key (version `version`) and
 * the staging entry goes, only if no object or upload of the namespace still needs the old key.
 */
export async function commitNamespaceKey(
  db: Db,
  ns: string,
  wrappedKey: Uint8Array,
  version: number,
  stagedKey: string,
): Promise<boolean> {
  const nsBuckets = bucketsOf(db, ns)
  const stale = or(
    exists(
      db
        .select({ one: sql`1` })
        .from(objects)
        .where(and(inArray(objects.bucket, nsBuckets), wrappedByOtherVersion(objects.encryption, version))),
    ),
    exists(
      db
        .select({ one: sql`1` })
        .from(multipartUploads)
        .where(
          and(inArray(multipartUploads.bucket, nsBuckets), wrappedByOtherVersion(multipartUploads.encryption, version)),
        ),
    ),
  )!
  const [updated] = await db.batch([
    db
      .update(namespaces)
      .set({ wrappedKey, keyVersion: version })
      .where(and(eq(namespaces.name, ns), ne(namespaces.keyVersion, version), not(stale))),
    db.delete(settings).where(
      and(
        eq(settings.key, stagedKey),
        exists(
          db
            .select({ one: sql`1` })
            .from(namespaces)
            .where(and(eq(namespaces.name, ns), eq(namespaces.keyVersion, version))),
        ),
      ),
    ),
  ])
  return affected(updated) === 1
}

/** Every namespace with a wrapped key, by name (master rotation walks these). */
export async function encryptedNamespaces(db: Db) {
  return db.select().from(namespaces).where(sql`${namespaces.wrappedKey} is not null`).orderBy(asc(namespaces.name))
}

/** Object keys of a bucket after `after`, a page at a time (namespace deletion walks these). */
export async function objectKeysPage(db: Db, bucket: string, after: string, limit: number): Promise<string[]> {
  const rows = await db
    .select({ key: objects.key })
    .from(objects)
    .where(and(eq(objects.bucket, bucket), gt(objects.key, after)))
    .orderBy(asc(objects.key))
    .limit(limit)
  return rows.map((r) => r.key)
}

/**
 * Removes the settings under `prefix` whose JSON value has an `expiresAt` (epoch ms) at or
 * before `nowMs`: console sessions (src/service/console-sessions.ts), so the table holds only
 * live ones. One statement; returns how many went.
 */
export async function deleteExpiredSettings(db: Db, prefix: string, nowMs: number): Promise<number> {
  const res = await db
    .delete(settings)
    .where(
      and(
        sql`substr(${settings.key}, 1, ${prefix.length}) = ${prefix}`,
        sql`json_extract(${settings.value}, '$.expiresAt') <= ${nowMs}`,
      ),
    )
  return affected(res)
}

/** How many settings rows have this key prefix. */
export async function countSettings(db: Db, prefix: string): Promise<number> {
  const row = await db
    .select({ n: sql<number>`count(*)` })
    .from(settings)
    .where(sql`substr(${settings.key}, 1, ${prefix.length}) = ${prefix}`)
    .get()
  return Number(row?.n ?? 0)
}

/**
 * Counts one event in a windowed counter stored as `{"count": n, "expiresAt": ms}`: in one
 * statement (so gateways counting at once never lose a count), the row's count goes up while its
 * window is open, and a row whose window has ended starts again at 1 with a new window. With
 * `create` false an absent row is not made (the caller's table is full), only a live one counted.
 */
export async function countInWindow(
  db: Db,
  key: string,
  nowMs: number,
  windowMs: number,
  create = true,
): Promise<void> {
  const fresh = JSON.stringify({ count: 1, expiresAt: nowMs + windowMs })
  const live = sql`json_extract(${settings.value}, '$.expiresAt') > ${nowMs}`
  const bumped = sql`json_set(${settings.value}, '$.count', coalesce(json_extract(${settings.value}, '$.count'), 0) + 1)`
  if (!create) {
    await db
      .update(settings)
      .set({ value: bumped })
      .where(and(eq(settings.key, key), live))
    return
  }
  await db
    .insert(settings)
    .values({ key, value: fresh })
    .onConflictDoUpdate({
      target: settings.key,
      set: { value: sql`CASE WHEN ${live} THEN ${bumped} ELSE excluded.value END` },
    })
}
