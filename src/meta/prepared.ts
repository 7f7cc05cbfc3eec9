/**
 * Hot-path statements built once per database handle. Building a drizzle query (SQL text from
 * the schema objects, then the driver query) cost about as much CPU as running it on a HEAD of a
 * 4 KiB object (docs/architecture.md §8); a prepared query keeps the SQL and the column mapping
 * and only fills in its placeholders. Keyed by the Db object, so a transaction handle or a second
 * database gets its own.
 */
import type { Db } from './db.ts'

export function preparedPer<T>(build: (db: Db) => T): (db: Db) => T {
  const built = new WeakMap<Db, T>()
  return (db) => {
    let p = built.get(db)
    if (p === undefined) {
      p = build(db)
      built.set(db, p)
    }
    return p
  }
}
