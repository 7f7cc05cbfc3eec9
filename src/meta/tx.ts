/**
 * Building blocks for atomic writes: every multi-statement change is ONE `db.batch` (a single
 * transaction, one round trip to sqld) whose later statements are gated in SQL on earlier ones.
 */
import { getTableColumns, sql, type SQL } from 'drizzle-orm'
import type { SQLiteTable } from 'drizzle-orm/sqlite-core'

/**
 * Why batches and not `db.transaction()`: an embedded client has one connection, and an
 * interactive transaction holds it across awaits, so any concurrent query fails with
 * TRANSACTION_ACTIVE; on sqld it costs a round trip per statement while holding the write lock.
 * A batch runs start to end without yielding. The price: no JS between its statements, so a
 * condition must be written as SQL (`WHERE EXISTS …`) and results are read afterwards.
 */

/**
 * `SELECT <row's values, in the table's column order> WHERE <gate>` — the source of an
 * `INSERT … SELECT` that inserts the row only when the gate holds. Values are encoded by their
 * column (JSON, Date → ms), exactly as `insert().values()` would; `computed` columns take an SQL
 * expression instead (evaluated inside the transaction).
 */
export function rowWhere<T extends SQLiteTable>(
  table: T,
  row: T['$inferSelect'],
  gate: SQL,
  computed: Partial<Record<keyof T['$inferSelect'], SQL>> = {},
): SQL {
  const values = Object.entries(getTableColumns(table)).map(([name, column]) => {
    const expr = (computed as Record<string, SQL | undefined>)[name]
    if (expr) return expr
    const value = (row as Record<string, unknown>)[name]
    return value === undefined || value === null ? sql`null` : sql.param(value, column)
  })
  return sql`select ${sql.join(values, sql`, `)} where ${gate}`
}

/** `SET col = excluded.col` for every column but `keep`: an upsert that replaces the whole row. */
export function replaceAll<T extends SQLiteTable>(table: T, keep: readonly string[]): Record<string, SQL> {
  const set: Record<string, SQL> = {}
  for (const [name, column] of Object.entries(getTableColumns(table))) {
    if (!keep.includes(name)) set[name] = sql.raw(`excluded."${column.name}"`)
  }
  return set
}

/** rowsAffected of a `run`-style batch result. */
export const affected = (r: unknown): number => (r as { rowsAffected: number }).rowsAffected
