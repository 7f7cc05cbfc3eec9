/**
 * Turns on the metadata's statement cache (src/meta/statement-cache.ts) for the embedded libSQL
 * driver: resolves the `libsql` module from @libsql/client, so the copy patched is the one the
 * client loads even if another sits elsewhere in node_modules. False when this runtime cannot
 * resolve it (the driver then runs as it is: slower, not wrong).
 */
import { createRequire } from 'node:module'
import { cacheStatements, type LibsqlDatabaseClass } from '../meta/statement-cache.ts'

export function cacheLibsqlStatements(): boolean {
  let Database: LibsqlDatabaseClass
  try {
    const fromClient = createRequire(createRequire(import.meta.url).resolve('@libsql/client'))
    Database = fromClient('libsql') as LibsqlDatabaseClass
  } catch {
    return false
  }
  return cacheStatements(Database)
}
