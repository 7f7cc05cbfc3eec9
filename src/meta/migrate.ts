/**
 * Applies the drizzle-kit migrations in ./migrations at start-up (idempotent: applied ones are
 * skipped). Uses drizzle-orm's libSQL migrator, which reads the folder with the runtime's fs.
 */
import type { LibSQLDatabase } from 'drizzle-orm/libsql/driver-core'
import { migrate } from 'drizzle-orm/libsql/migrator'

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

/** Bounded: a second attempt covers two gateways migrating one fresh sqld at the same moment. */
const MIGRATE_ATTEMPTS = 2

export async function applyMigrations(db: LibSQLDatabase, folder = migrationsFolder()): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await migrate(db, { migrationsFolder: folder })
      return
    } catch (e) {
      // The loser of the race fails on "table already exists"; by now the winner has committed,
      // so a retry finds every migration recorded and does nothing.
      if (attempt >= MIGRATE_ATTEMPTS) throw e
    }
  }
}
