/**
 * openDb: the libSQL client (embedded file:, :memory:, or a sqld http(s)/libsql URL) wrapped by
 * drizzle, migrated and tuned. Uses @libsql/client and drizzle-orm only; no side effect at import.
 */
// The node entry explicitly: under Deno the package's default condition has mapped to the web
// client in some versions, and the web client cannot open file: URLs.
import { createClient, type Client, type InArgs, type InStatement, type TransactionMode } from '@libsql/client/node'
import { drizzle } from 'drizzle-orm/libsql/node'
import type { LibSQLDatabase } from 'drizzle-orm/libsql/driver-core'
import { applyMigrations } from './migrate.ts'

export type Db = LibSQLDatabase

export interface Meta {
  db: Db
  /** The underlying client, for health checks and tests (counting statements). */
  client: Client
  close(): Promise<void>
}

export interface OpenDbOptions {
  authToken?: string
}

/**
 * Embedded files commit with synchronous=FULL: in WAL mode SQLite then fsyncs the WAL before a
 * commit returns, so an acknowledged PUT's row survives a power loss (NORMAL syncs only at
 * checkpoints, and a power loss may lose the last commits). It is also SQLite's default, so a
 * connection the client opens later without tune() still syncs. test/cluster/power-loss.test.ts
 * checks it against a simulated power loss; bench/storage.ts measures what it costs.
 */
const SYNCHRONOUS = 'FULL'

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

const isEmbedded = (url: string): boolean => url.startsWith('file:') || url === ':memory:'

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
  client.batch = (stmts: Array<InStatement | [string, InArgs?]>, mode: TransactionMode = 'write') => batch(stmts, mode)
  try {
    if (embedded) await tune(client, url)
    await applyMigrations(client)
    const db = drizzle({ client })
    return { db, client, close: async () => client.close() }
  } catch (e) {
    client.close()
    throw e
  }
}

async function tune(client: Client, url: string): Promise<void> {
  if (url !== ':memory:' && !url.startsWith('file::memory:')) {
    // WAL: readers never block the writer nor each other; the setting persists in the file.
    await client.execute('PRAGMA journal_mode=WAL')
    await client.execute(`PRAGMA synchronous=${SYNCHRONOUS}`)
    await client.execute(`PRAGMA busy_timeout=${BUSY_TIMEOUT_MS}`)
  }
  // Off by default in SQLite. Queries never rely on it (sqld connections may not have it), but
  // on an embedded file it turns a bug into an error instead of a dangling row.
  await client.execute('PRAGMA foreign_keys=ON')
}
