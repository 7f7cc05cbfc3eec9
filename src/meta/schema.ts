/**
 * The metadata schema (drizzle `sqliteTable`): identities, buckets, objects, multipart uploads,
 * settings, the GC queue. drizzle-kit generates src/meta/migrations from this file; drizzle only.
 */
import { sql } from 'drizzle-orm'
import { customType, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

// JSON columns are `unknown` here: rows.ts checks the shapes of those this layer owns as rows are
// read (headers, user metadata, checksums, parts); layout, encryption and crypto are the service's.

/**
 * Raw bytes as Uint8Array on every runtime. drizzle's `blob({ mode: 'buffer' })` is typed as
 * Node's Buffer, which is not a global under Deno; libSQL hands back an ArrayBuffer.
 */
const bytes = customType<{ data: Uint8Array; driverData: ArrayBuffer | Uint8Array }>({
  dataType: () => 'blob',
  toDriver: (v) => v,
  fromDriver: (v) => (v instanceof Uint8Array ? v : new Uint8Array(v)),
})

/** Milliseconds since the epoch in the database, `Date` in TypeScript. */
const timestamp = (name: string) => integer(name, { mode: 'timestamp_ms' })

// ── identities ───────────────────────────────────────────────────────────────────────────────

export const namespaces = sqliteTable('namespaces', {
  name: text('name').primaryKey(),
  /** D@RE on/off. Fixed at creation: turning it on later would leave plaintext objects behind. */
  encrypted: integer('encrypted', { mode: 'boolean' }).notNull().default(false),
  /** The namespace key wrapped by the master key (docs/architecture.md §5); null when not encrypted. */
  wrappedKey: bytes('wrapped_key'),
  /** Which master key wrapped `wrappedKey`, so a master-key rotation can resume where it stopped. */
  keyVersion: integer('key_version').notNull().default(0),
  createdAt: timestamp('created_at').notNull(),
  /**
   * Namespace-wide Block Public Access, the service's JSON (four switches). Null: none, as for
   * namespaces that existed before access control (migration 0006); new ones get it switched on.
   */
  publicAccessBlock: text('public_access_block'),
})

export const users = sqliteTable(
  'users',
  {
    accessKeyId: text('access_key_id').primaryKey(),
    name: text('name').notNull(),
    namespace: text('namespace')
      .notNull()
      .references(() => namespaces.name),
    /**
     * Legacy: the secret in clear, as Coffer stored it before migration 0003. '' once the secret
     * is in `wrappedSecret` (start-up moves every row there); NOT NULL stays because SQLite cannot
     * relax it without rebuilding the table.
     */
    secretAccessKey: text('secret_access_key').notNull(),
    /**
     * The secret sealed by the master key (base64 key blob of kind 4, docs/formats.md §3): SigV4
     * needs the secret itself, so it cannot be hashed. Null only in a row not yet migrated.
     */
    wrappedSecret: text('wrapped_secret'),
    isRoot: integer('is_root', { mode: 'boolean' }).notNull().default(false),
    createdAt: timestamp('created_at').notNull(),
    /**
     * A built-in policy attached by name (readonly, readwrite, writeonly, admin). Users that
     * existed before access control were given 'readwrite' (migration 0006); new users get none.
     */
    builtinPolicy: text('builtin_policy'),
    /** The user's own policy document (IAM JSON as the operator gave it), validated on write. */
    policy: text('policy'),
  },
  (t) => [index('users_namespace_idx').on(t.namespace, t.accessKeyId)],
)

// ── buckets and objects ──────────────────────────────────────────────────────────────────────

export const buckets = sqliteTable(
  'buckets',
  {
    /** Bucket names are unique across the whole service (as in S3), hence the PK on name alone. */
    name: text('name').primaryKey(),
    /**
     * Immutable and never reused: a name is reused when a bucket is deleted and created again,
     * so every commit checks the bucket it was admitted to by this id, never by name alone
     * (docs/architecture.md §4). Nullable in SQL only because ALTER TABLE cannot add a NOT NULL
     * column to existing rows; the migration fills every row and insertBucket always sets it.
     */
    id: text('id').unique('buckets_id_unique'),
    namespace: text('namespace')
      .notNull()
      .references(() => namespaces.name),
    /** Access key id of the creator; not a foreign key, so deleting a user keeps its buckets. */
    owner: text('owner').notNull(),
    region: text('region').notNull(),
    createdAt: timestamp('created_at').notNull(),
    /**
     * S3 versioning: null = never enabled (unversioned), 'Enabled' or 'Suspended'. Once set it
     * never goes back to null, as in S3 (docs/architecture.md §4, versions).
     */
    versioning: text('versioning'),
    /** Object Lock configuration JSON (enabled flag, default retention); null = lock not enabled. */
    objectLock: text('object_lock', { mode: 'json' }).$type<unknown>(),
    /** The bucket policy (IAM JSON as PutBucketPolicy gave it, validated); null when none. */
    policy: text('policy'),
    /** The bucket's Block Public Access (the service's JSON, four switches); null when none. */
    publicAccessBlock: text('public_access_block'),
    /** Object Ownership (BucketOwnerEnforced, BucketOwnerPreferred, ObjectWriter); null reads as BucketOwnerEnforced. */
    ownership: text('ownership'),
    /** The bucket's tag set (PutBucketTagging): JSON `[{ key, value }]`, checked on write; null when none. */
    tags: text('tags', { mode: 'json' }).$type<unknown>(),
    /** The lifecycle configuration (PutBucketLifecycleConfiguration), the service's JSON; null when none. */
    lifecycle: text('lifecycle', { mode: 'json' }).$type<unknown>(),
    /** The bucket ACL (the service's JSON: owner and grants); null reads as the owner's full control. */
    acl: text('acl'),
  },
  (t) => [index('buckets_namespace_idx').on(t.namespace, t.name)],
)

export const objects = sqliteTable(
  'objects',
  {
    bucket: text('bucket')
      .notNull()
      .references(() => buckets.name),
    /**
     * TEXT with SQLite's default BINARY collation: memcmp over UTF-8, i.e. the byte order S3 lists
     * keys in. Never declare NOCASE or another collation here; listing depends on it.
     */
    key: text('key').notNull(),
    /**
     * One row per version of a key (docs/architecture.md §4, versions). 'null' is S3's id of the
     * version written while the bucket was unversioned or suspended (at most one per key);
     * others are opaque ids drawn at write time (newVersionId in ./queries/versions.ts).
     */
    versionId: text('version_id').notNull().default('null'),
    /**
     * The version's place among its key's versions, newest first in ascending order: each new
     * version takes the key's smallest `ord` minus one, computed inside the committing
     * transaction, so commit order (not clock order) decides which version is newest.
     */
    ord: integer('ord').notNull().default(0),
    /** The key's current version (at most one per key: objects_latest_idx). */
    latest: integer('latest', { mode: 'boolean' }).notNull().default(true),
    /** A delete marker: a version without data (size 0, layout null). */
    deleteMarker: integer('delete_marker', { mode: 'boolean' }).notNull().default(false),
    size: integer('size').notNull(),
    /** Quoted as S3 shows it: `"<md5 hex>"` or `"<md5 of md5s>-<parts>"`; '' for a delete marker. */
    etag: text('etag').notNull(),
    lastModified: timestamp('last_modified').notNull(),
    contentType: text('content_type').notNull().default('binary/octet-stream'),
    headers: text('headers', { mode: 'json' }).$type<unknown>().notNull(),
    /** x-amz-meta-* without the prefix, lower-case names. */
    userMeta: text('user_meta', { mode: 'json' }).$type<unknown>().notNull(),
    checksum: text('checksum', { mode: 'json' }).$type<unknown>(),
    /** Null for single-PUT objects. */
    parts: text('parts', { mode: 'json' }).$type<unknown>(),
    /** Opaque here: the service's storage layout value (where the bytes are); null for a delete marker. */
    layout: text('layout', { mode: 'json' }).$type<unknown>(),
    /** Opaque here: the wrapped object key and its parameters; null when not encrypted. */
    encryption: text('encryption', { mode: 'json' }).$type<unknown>(),
    /** Object Lock of this version: `{ mode, until }` retention and/or `{ legalHold }`; null when none. */
    lock: text('lock', { mode: 'json' }).$type<unknown>(),
    /**
     * The multipart upload this version was completed from (null for a single PUT): a retried
     * CompleteMultipartUpload finds its result here after the upload is gone.
     */
    uploadId: text('upload_id'),
    /**
     * This version's tag set (PutObjectTagging, x-amz-tagging): JSON `[{ key, value }]`; null when
     * none. On the version row itself, so a version's tags are written in its commit and go with it.
     */
    tags: text('tags', { mode: 'json' }).$type<unknown>(),
    /** This version's ACL (the service's JSON: owner and grants); null reads as the bucket owner's full control. */
    acl: text('acl'),
  },
  (t) => [
    // The PK's index is the versions listing index: (bucket, key) in key order, each key's
    // versions newest first — ListObjectVersions is a range seek on it.
    primaryKey({ name: 'objects_pk', columns: [t.bucket, t.key, t.ord] }),
    // GET/HEAD/DELETE ?versionId=: one seek.
    uniqueIndex('objects_version_idx').on(t.bucket, t.key, t.versionId),
    // The current version of a key (GET/HEAD, conditional writes): one seek, and never two.
    uniqueIndex('objects_latest_idx').on(t.bucket, t.key).where(sql`latest = 1`),
    // ListObjects v1/v2: current versions that are not delete markers, in key order, so a page
    // of a bucket full of old versions and markers costs what it did without them.
    index('objects_current_idx').on(t.bucket, t.key).where(sql`latest = 1 and delete_marker = 0`),
  ],
)

/**
 * Proof, inside one transaction (one db.batch), that its gate held when it was first checked:
 * the first statement inserts a fresh token under the gate, later statements (which change what
 * the gate reads, e.g. the current version) are gated on the token, and the last removes it. Empty
 * between transactions.
 */
export const commitTokens = sqliteTable('commit_tokens', {
  id: text('id').primaryKey(),
})

// ── multipart uploads ────────────────────────────────────────────────────────────────────────

export const multipartUploads = sqliteTable(
  'multipart_uploads',
  {
    /** Random (not time-ordered): ListMultipartUploads orders a key's uploads by this id. */
    uploadId: text('upload_id').primaryKey(),
    bucket: text('bucket')
      .notNull()
      .references(() => buckets.name),
    key: text('key').notNull(),
    initiatedAt: timestamp('initiated_at').notNull(),
    /** Access key id that created the upload (ListMultipartUploads shows it as Initiator). */
    initiator: text('initiator').notNull(),
    /** Null when CreateMultipartUpload sent none; completion applies S3's default. */
    contentType: text('content_type'),
    headers: text('headers', { mode: 'json' }).$type<unknown>().notNull(),
    userMeta: text('user_meta', { mode: 'json' }).$type<unknown>().notNull(),
    checksumAlgorithm: text('checksum_algorithm'),
    checksumType: text('checksum_type'),
    /** Opaque here, as objects.encryption: chosen at creation so every part uses the same key. */
    encryption: text('encryption', { mode: 'json' }).$type<unknown>(),
    /** Object Lock asked for at creation (as objects.lock), given to the completed version. */
    lock: text('lock', { mode: 'json' }).$type<unknown>(),
    /** x-amz-tagging sent at creation (as objects.tags), given to the completed version. */
    tags: text('tags', { mode: 'json' }).$type<unknown>(),
    /** The ACL asked for at creation (as objects.acl), given to the completed version. */
    acl: text('acl'),
  },
  (t) => [index('multipart_uploads_listing_idx').on(t.bucket, t.key, t.uploadId)],
)

export const parts = sqliteTable(
  'parts',
  {
    /**
     * Deliberately no foreign key: completeUpload deletes the upload row first, as the gate of
     * its batch, and only then the parts; an immediate FK check would refuse that order.
     */
    uploadId: text('upload_id').notNull(),
    partNumber: integer('part_number').notNull(),
    size: integer('size').notNull(),
    etag: text('etag').notNull(),
    lastModified: timestamp('last_modified').notNull(),
    checksum: text('checksum', { mode: 'json' }).$type<unknown>(),
    /** Opaque storage layout of this part's bytes. */
    layout: text('layout', { mode: 'json' }).$type<unknown>().notNull(),
    /** Opaque here: this part's D@RE parameters (nonce prefix, part number); null when not encrypted. */
    crypto: text('crypto', { mode: 'json' }).$type<unknown>(),
  },
  (t) => [primaryKey({ name: 'parts_pk', columns: [t.uploadId, t.partNumber] })],
)

// ── settings ────────────────────────────────────────────────────────────────────────────────

/**
 * Service-wide key/value facts, e.g. the master key's fingerprint (never the key itself), and a
 * namespace key staged by a rotation in progress (wrapped by the master key, like every ns key).
 */
export const settings = sqliteTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
})

// ── garbage collection ───────────────────────────────────────────────────────────────────────

/** Storage layouts no row points at any more: overwritten objects, aborted uploads, old parts. */
export const gcQueue = sqliteTable('gc_queue', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  layout: text('layout', { mode: 'json' }).$type<unknown>().notNull(),
  reason: text('reason').notNull(),
  enqueuedAt: timestamp('enqueued_at').notNull(),
  /**
   * A lease: takeGc pushes this into the future so that two collectors do not take the same
   * entry and a failed removal is retried later instead of blocking the head of the queue
   * (retryGcLater shortens it for a removal that failed, backing off while it keeps failing).
   */
  retryAt: timestamp('retry_at').notNull().default(sql`0`),
})

// ── small objects stored in the metadata ───────────────────────────────────────────────────

/**
 * The stored bytes of small objects (docs/architecture.md §2, inline objects): ciphertext when the
 * object is encrypted. A side table, not a column of `objects`: listing and every scan of
 * `objects` read whole table pages, and a blob of up to --inline-max in each row would spread a
 * page of keys over as many pages. `id` is the storage write id the object row's layout names
 * (its segment's `inline.id`); the row is inserted by the commit of that object row, in the same
 * transaction, and deleted by GC once no row points at it (its layout goes to gc_queue like
 * shards do, so a reader that already has the row finishes).
 */
export const inlineData = sqliteTable('inline_data', {
  id: text('id').primaryKey(),
  data: bytes('data').notNull(),
})

// ── durability bookkeeping ──────────────────────────────────────────────────────────────────

/**
 * Writes in flight: recorded before any shard is stored, cleared once metadata points at the
 * data (or the data was removed). An entry that outlives the grace period marks the shards of a
 * crashed or abandoned write, which orphan GC removes.
 */
export const writeIntents = sqliteTable('write_intents', {
  id: text('id').primaryKey(),
  startedAt: timestamp('started_at').notNull(),
})

/** Stored data whose redundancy is reduced (degraded write or read, failed check): heal it. */
export const healQueue = sqliteTable(
  'heal_queue',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    layout: text('layout', { mode: 'json' }).$type<unknown>().notNull(),
    reason: text('reason').notNull(),
    enqueuedAt: timestamp('enqueued_at').notNull(),
    /** Leased like gc_queue; a heal that could not finish (a store still down) is retried later. */
    retryAt: timestamp('retry_at').notNull().default(sql`0`),
    attempts: integer('attempts').notNull().default(0),
  },
  (t) => [index('heal_queue_retry_idx').on(t.retryAt)],
)

// ── cluster layout ──────────────────────────────────────────────────────────────────────────

/**
 * Versions of the cluster layout (storage nodes, capacity, zone, rack, state): opaque JSON here,
 * the storage layer's format. The newest version is the layout; a change inserts the next
 * version, so two gateways changing it at once cannot both win (the primary key decides).
 */
export const clusterLayouts = sqliteTable('cluster_layouts', {
  version: integer('version').primaryKey(),
  layout: text('layout', { mode: 'json' }).$type<unknown>().notNull(),
  createdAt: timestamp('created_at').notNull(),
})
// ── SSE-KMS ─────────────────────────────────────────────────────────────────────────────────

/**
 * KMS keys with service-managed material (docs/architecture.md §5): one row per key, per
 * namespace (the ARN's account). `wrappedKey` is the key wrapped by the master key; null once the
 * key was destroyed by a scheduled deletion (crypto-erase of every object under it: the row
 * stays, so a read can say why). `alias` is `alias/NAME`, unique in its namespace; the managed
 * default key (`managed`) has `alias/aws/s3`, as AWS's.
 */
export const kmsKeys = sqliteTable(
  'kms_keys',
  {
    id: text('id').primaryKey(),
    namespace: text('namespace').notNull(),
    region: text('region').notNull(),
    alias: text('alias'),
    managed: integer('managed', { mode: 'boolean' }).notNull().default(false),
    /** 'Enabled', 'Disabled', 'PendingDeletion' or 'Deleted'. */
    state: text('state').notNull(),
    wrappedKey: text('wrapped_key'),
    createdAt: timestamp('created_at').notNull(),
    /** When a scheduled deletion destroys the key material (state PendingDeletion). */
    deletionDate: timestamp('deletion_date'),
  },
  (t) => [
    uniqueIndex('kms_keys_alias_idx').on(t.namespace, t.alias),
    index('kms_keys_deletion_idx').on(t.deletionDate),
  ],
)
