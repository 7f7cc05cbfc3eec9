/**
 * Applies the drizzle-kit migrations in ./migrations at start-up (idempotent: applied ones are
 * skipped), once even when several gateways start together. drizzle-orm reads the folder with
 * the runtime's fs.
 */
import type { Client } from '@libsql/client/node'
import { readMigrationFiles } from 'drizzle-orm/migrator'

/**
 * The folder beside this module as a file-system path, resolved from import.meta.url so it works
 * under tsx, Deno and Bun alike. node:url's fileURLToPath is off limits outside src/runtime.
 */
export function migrationsFolder(base: string | URL = import.meta.url): string {
  const url = new URL('./migrations/', base)
  if (url.protocol !== 'file:')
    throw new Error(`migrations must be on disk, got ${url.href}: run from source, not a bundle`)
  const path = decodeURIComponent(url.pathname)
  // Windows: /C:/dir/ → C:/dir/
  return /^\/[A-Za-z]:\//.test(path) ? path.slice(1) : path
}

/** Bounded: each retry follows another gateway's progress or a busy lock. */
const MIGRATE_ATTEMPTS = 40
const MIGRATE_RETRY_MS = 250

/** drizzle-kit's bookkeeping table, as drizzle-orm's migrator keeps it (databases migrated by it go on). */
const TABLE = '"__drizzle_migrations"'

/**
 * Applies the migrations not yet recorded, once even when several gateways start on the same
 * sqld at the same moment. The pending ones go in ONE batch (one write transaction, BEGIN
 * IMMEDIATE) whose first statement fails when the first of them is recorded by then: another
 * gateway migrated in between, and this one reads again and finds less (or nothing) to do.
 * (drizzle-orm's migrator has no such guard: two racers both apply the same migrations, and only
 * a statement that fails when repeated stops the second; an INSERT or an IF NOT EXISTS does not.)
 * Not an interactive transaction: an embedded client would hold its connection across awaits.
 */
export async function applyMigrations(client: Client, folder = migrationsFolder()): Promise<void> {
  const migrations = readMigrationFiles({ migrationsFolder: folder })
  await client.execute(
    `CREATE TABLE IF NOT EXISTS ${TABLE} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)`,
  )
  for (let attempt = 1; ; attempt++) {
    const last = await client.execute(`SELECT created_at FROM ${TABLE} ORDER BY created_at DESC LIMIT 1`)
    const lastMillis = last.rows.length > 0 ? Number(last.rows[0]![0]) : Number.NEGATIVE_INFINITY
    const pending = migrations.filter((m) => m.folderMillis > lastMillis)
    if (pending.length === 0) return
    try {
      await client.batch(
        [
          // json() of malformed text is an error: the batch stops here, and rolls back, exactly
          // when another gateway recorded the first pending migration since the read above.
          {
            sql: `SELECT CASE WHEN EXISTS (SELECT 1 FROM ${TABLE} WHERE created_at >= ?) THEN json('migrated by another gateway') END`,
            args: [pending[0]!.folderMillis],
          },
          ...pending.flatMap((m) => [
            ...m.sql.filter((stmt) => stmt.trim() !== ''),
            { sql: `INSERT INTO ${TABLE} (hash, created_at) VALUES (?, ?)`, args: [m.hash, m.folderMillis] },
          ]),
        ],
        'write',
      )
      return
    } catch (e) {
      // Read again: another gateway's progress shows as fewer pending migrations next round.
      if (attempt >= MIGRATE_ATTEMPTS) throw e
      const now = await client.execute(`SELECT count(*) FROM ${TABLE} WHERE created_at >= ?`, [
        pending[0]!.folderMillis,
      ])
      if (Number(now.rows[0]![0]) === 0 && !isBusy(e)) throw e
      await new Promise((r) => setTimeout(r, MIGRATE_RETRY_MS))
    }
  }
}

/** SQLITE_BUSY (embedded: another process holds the lock past busy_timeout; sqld: another stream). */
function isBusy(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c && depth < 4; c = (c as { cause?: unknown }).cause, depth++) {
    const { code, message } = c as { code?: unknown; message?: unknown }
    if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) return true
    if (typeof message === 'string' && /database is locked|SQLITE_BUSY/i.test(message)) return true
  }
  return false
}
