/**
 * openDb: the libSQL client (embedded file:, :memory:, or a sqld http(s)/libsql URL) wrapped by
 * drizzle, migrated and tuned. Uses @libsql/client and drizzle-orm only; no side effect at import.
 */
// The node entry explicitly: under Deno the package's default condition has mapped to the web
// client in some versions, and the web client cannot open file: URLs.
import {
  createClient,
  type Client,
  type InArgs,
  type InStatement,
  type ResultSet,
  type TransactionMode,
} from '@libsql/client/node'
import { drizzle } from 'drizzle-orm/libsql/node'
import type { LibSQLDatabase } from 'drizzle-orm/libsql/driver-core'
import { coalescing } from '../util/coalescing.ts'
import { applyMigrations } from './migrate.ts'
import { writeLane } from './write-lane.ts'

export type Db = LibSQLDatabase

/**
 * The WAL sync of group commit failed (EIO, ENOSPC on a thin volume, a vanished disk). The
 * commits it covered are already visible in SQLite's page cache, but may not be on disk, and
 * after a failed fsync the kernel may have dropped the dirty pages' error (a retried fsync can
 * "succeed" without the data): nothing read or written through this handle can be trusted any
 * more. As PostgreSQL does, the handle refuses everything from then on (503 to clients, never a
 * row that a power loss could take back); reopening the file (restarting the gateway) lets
 * SQLite recover from what is really on disk.
 */
export class WalSyncError extends Error {
  override readonly name = 'WalSyncError'
  constructor(
    readonly wal: string,
    cause: unknown,
  ) {
    super(
      `the metadata WAL ${wal} could not be synced to disk (${cause instanceof Error ? cause.message : String(cause)}): metadata refused until the gateway restarts`,
      { cause },
    )
  }
}

export interface Meta {
  db: Db
  /** The underlying client, for health checks and tests (counting statements). */
  client: Client
  close(): Promise<void>
}

export interface OpenDbOptions {
  authToken?: string
  /**
   * Group commit for an embedded file (the runtime's `syncWalFile`): flushes the file at `path`
   * (the WAL) to stable storage off the request thread, and its directory when the file is new.
   * Given, commits run with synchronous=NORMAL (SQLite writes the WAL but does not fsync it) and
   * every write through the client resolves only after a sync of the WAL that began after its
   * COMMIT — concurrent writers share one sync. Absent, every commit fsyncs on this thread
   * (synchronous=FULL).
   */
  syncFile?: (path: string) => Promise<void>
}

/**
 * Embedded files opened without a syncer commit with synchronous=FULL: in WAL mode SQLite then
 * fsyncs the WAL before a commit returns, so an acknowledged write survives a power loss (NORMAL
 * syncs only at checkpoints, and a power loss may lose the last commits). It is also SQLite's
 * default, so a connection the client opens later without tune() still syncs. The server passes
 * a syncer (OpenDbOptions.syncFile) and gets the same guarantee through group commit instead.
 * test/cluster/power-loss.test.ts checks it against a simulated power loss; bench/storage.ts
 * measures what a commit costs.
 */
const SYNCHRONOUS = 'FULL'
/** With a group-committed WAL sync (OpenDbOptions.syncFile): durability comes from that sync. */
const SYNCHRONOUS_GROUPED = 'NORMAL'

/**
 * How long an embedded writer waits for another *process* holding the write lock. Within one
 * process it never waits: every write is a single synchronous batch (see below).
 */
const BUSY_TIMEOUT_MS = 5_000

/**
 * Longest a request to sqld may take before the gateway gives up on it (and answers 503): a
 * stalled or unreachable sqld must not hold S3 requests until the client's own timeout.
 */
export const META_REQUEST_TIMEOUT_MS = 10_000

/** Write batches one gateway keeps in flight to sqld: SQLite has one writer anyway. */
const SQLD_WRITE_BATCHES = 1

const isEmbedded = (url: string): boolean => url.startsWith('file:') || url === ':memory:'
const isMemory = (url: string): boolean => url === ':memory:' || url.startsWith('file::memory:')

/** The WAL of an embedded file URL (`file:<path>[?options]`); undefined for an in-memory one. */
export function walOf(url: string): string | undefined {
  if (!url.startsWith('file:') || isMemory(url)) return undefined
  const path = url.slice('file:'.length).replace(/\?.*$/, '')
  return path.startsWith('//') ? undefined : `${path}-wal` // file://host/… is not a local path we know
}

/** A statement that can only read: it writes no WAL frame, so it needs no sync. */
const readOnly = (stmt: InStatement | string): boolean =>
  /^\s*select\b/i.test(typeof stmt === 'string' ? stmt : stmt.sql)

/**
 * Group commit: every write method of the client resolves only once a sync of the WAL that began
 * after the write's COMMIT has finished. The WAL is append-only between checkpoints (and SQLite
 * fsyncs it itself before a checkpoint copies it into the database), so one fdatasync covers
 * every commit written before it started: writers arriving while a sync runs share the next one
 * (`coalescing`), and the fsync runs on the runtime's thread pool instead of blocking the request
 * thread inside COMMIT. A failed statement leaves nothing to sync; its error wins.
 */
function groupCommit(client: Client, wal: string, syncFile: (path: string) => Promise<void>): void {
  const sync = coalescing(syncFile)
  // A failed WAL sync poisons this handle for good (see WalSyncError): every later statement,
  // reads included, is refused until the gateway reopens the file.
  let failed: WalSyncError | undefined
  const synced = async <T>(result: T): Promise<T> => {
    try {
      await sync(wal)
    } catch (e) {
      failed ??= new WalSyncError(wal, e)
      throw failed
    }
    return result
  }
  const healthy = (): Promise<void> => (failed ? Promise.reject(failed) : Promise.resolve())
  const execute = client.execute.bind(client) as (stmt: InStatement | string, args?: InArgs) => Promise<ResultSet>
  client.execute = ((stmt: InStatement | string, args?: InArgs) =>
    healthy()
      .then(() => execute(stmt, args))
      .then((r) => (readOnly(stmt) ? r : synced(r)))) as Client['execute']
  const batch = client.batch.bind(client)
  client.batch = (stmts, mode) =>
    healthy()
      .then(() => batch(stmts, mode))
      .then(synced)
  const migrate = client.migrate.bind(client)
  client.migrate = (stmts) =>
    healthy()
      .then(() => migrate(stmts))
      .then(synced)
  const executeMultiple = client.executeMultiple.bind(client)
  client.executeMultiple = (sql) =>
    healthy()
      .then(() => executeMultiple(sql))
      .then(synced)
  const transaction = client.transaction.bind(client)
  client.transaction = (async (mode?: TransactionMode) => {
    await healthy()
    const tx = await transaction(mode)
    const commit = tx.commit.bind(tx)
    tx.commit = () => commit().then(synced)
    return tx
  }) as Client['transaction']
}

export async function openDb(url: string, opts: OpenDbOptions = {}): Promise<Meta> {
  const embedded = isEmbedded(url)
  const client = createClient({
    url,
    authToken: opts.authToken,
    // Embedded statements run synchronously on this thread, so more connections add no
    // parallelism; one connection also means the per-connection PRAGMAs below cover every query.
    ...(embedded
      ? { concurrency: 1 }
      : { fetch: (req: Request) => fetch(req, { signal: AbortSignal.timeout(META_REQUEST_TIMEOUT_MS) }) }),
  })
  // Every multi-statement write in src/meta is one batch (never an interactive transaction: on an
  // embedded DB those hold the only connection across awaits). Batches default to BEGIN DEFERRED,
  // whose read-then-write can fail with SQLITE_BUSY against another writer; BEGIN IMMEDIATE
  // takes the write lock up front and waits for it instead.
  const batch = client.batch.bind(client)
  // On sqld, one write batch of this gateway in flight at a time (write-lane.ts says why).
  const lane = embedded ? undefined : writeLane(SQLD_WRITE_BATCHES, META_REQUEST_TIMEOUT_MS)
  client.batch = (stmts: Array<InStatement | [string, InArgs?]>, mode: TransactionMode = 'write') =>
    lane && mode !== 'read' ? lane(() => batch(stmts, mode)) : batch(stmts, mode)
  const walPath = embedded && opts.syncFile ? walOf(url) : undefined
  if (walPath && opts.syncFile) groupCommit(client, walPath, opts.syncFile)
  try {
    if (embedded) await tune(client, url, walPath ? SYNCHRONOUS_GROUPED : SYNCHRONOUS)
    await applyMigrations(client)
    const db = drizzle({ client })
    return { db, client, close: async () => client.close() }
  } catch (e) {
    client.close()
    throw e
  }
}

async function tune(client: Client, url: string, synchronous: string): Promise<void> {
  if (!isMemory(url)) {
    // WAL: readers never block the writer nor each other; the setting persists in the file.
    await client.execute('PRAGMA journal_mode=WAL')
    await client.execute(`PRAGMA synchronous=${synchronous}`)
    await client.execute(`PRAGMA busy_timeout=${BUSY_TIMEOUT_MS}`)
  }
  // Off by default in SQLite. Queries never rely on it (sqld connections may not have it), but
  // on an embedded file it turns a bug into an error instead of a dangling row.
  await client.execute('PRAGMA foreign_keys=ON')
}
