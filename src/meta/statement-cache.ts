/**
 * Statement reuse for embedded libSQL. The embedded client (@libsql/client's sqlite3 driver)
 * prepares every statement afresh and asks it for its result columns twice, on every execute:
 * on a HEAD of a 4 KiB object that was a fifth of the request thread (libsql `prepare` 8 %,
 * `columns()` 12 %, docs/architecture.md §8), more than running the statements. Here each
 * connection keeps its prepared statements by SQL text (a bounded map, oldest out first) and each
 * statement its column list, so a hot statement is parsed and described once per connection.
 *
 * Safe to reuse because embedded statements run synchronously to completion on this thread
 * (`all`/`run`: no two uses interleave) and libsql resets a statement before every execution;
 * SQLite re-prepares one by itself when the schema changed under it. The result columns of a
 * statement are named in its SQL (drizzle never selects `*`), so a remembered list stays right.
 * sqld (remote) connections do not go through this driver and are unaffected. No imports: the
 * runtime hands the class in.
 */
/** Distinct SQL texts kept per connection: the hot set is a few dozen; `IN (…)` lists vary. */
export const STATEMENTS_PER_CONNECTION = 256

interface LibsqlStatement {
  columns(): unknown[]
  raw(on?: boolean): LibsqlStatement
  safeIntegers(on?: boolean): LibsqlStatement
}
interface LibsqlDatabase {
  prepare(sql: string): LibsqlStatement
}
export interface LibsqlDatabaseClass {
  prototype: LibsqlDatabase
}

const PATCHED = Symbol.for('coffer.statementCache')

/**
 * Caches prepared statements on every connection `Database` (the `libsql` module's class) opens
 * in this process. Idempotent. The runtime applies it at start, to the copy of `libsql` the
 * embedded client itself loads (src/runtime/libsql-statements.ts).
 */
export function cacheStatements(Database: LibsqlDatabaseClass): boolean {
  const proto = Database.prototype as LibsqlDatabase & { [PATCHED]?: true }
  if (proto[PATCHED]) return true
  const prepare = proto.prepare
  const caches = new WeakMap<LibsqlDatabase, Map<string, LibsqlStatement>>()
  proto.prepare = function cachedPrepare(this: LibsqlDatabase, sql: string): LibsqlStatement {
    let cache = caches.get(this)
    if (cache === undefined) {
      cache = new Map()
      caches.set(this, cache)
    }
    const hit = cache.get(sql)
    if (hit !== undefined) {
      // Most recently used last, so eviction takes the coldest.
      cache.delete(sql)
      cache.set(sql, hit)
      return hit
    }
    const stmt = prepare.call(this, sql)
    const columns = stmt.columns
    let described: unknown[] | undefined
    stmt.columns = () => (described ??= columns.call(stmt))
    // The client asks every statement for raw rows and takes a throw to mean "returns no rows"
    // (an INSERT, UPDATE…): a fixed property of the statement, so the first error is thrown again
    // as it is instead of building a new one (with its stack) per write (5 % of a 4 KiB PUT).
    // Both modes are set on every execute to the same values, and only through these methods:
    // a mode already set is not set again (a native call each).
    const raw = stmt.raw
    let noRows: unknown
    let rawMode: boolean | undefined
    stmt.raw = (on?: boolean) => {
      const want = on ?? true
      if (noRows !== undefined && want) throw noRows
      if (rawMode === want) return stmt
      try {
        raw.call(stmt, want)
      } catch (e) {
        if (want) noRows = e
        throw e
      }
      rawMode = want
      return stmt
    }
    const safeIntegers = stmt.safeIntegers
    let safeMode: boolean | undefined
    stmt.safeIntegers = (on?: boolean) => {
      const want = on ?? true
      if (safeMode !== want) {
        safeIntegers.call(stmt, want)
        safeMode = want
      }
      return stmt
    }
    cache.set(sql, stmt)
    if (cache.size > STATEMENTS_PER_CONNECTION) cache.delete(cache.keys().next().value as string)
    return stmt
  }
  Object.defineProperty(proto, PATCHED, { value: true })
  return true
}
