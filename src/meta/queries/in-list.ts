/**
 * `IN (…)` lists padded to a few lengths. Each length of a list is a SQL text of its own, and the
 * embedded connection keeps prepared statements by text (src/meta/statement-cache.ts, 256 of
 * them): GC's batches of 1–500 ids made up to 500 texts of one statement, each long one holding
 * ≈ 80–90 KiB of SQLite memory that V8 does not see, and pushed the hot statements of the S3 path
 * out of the cache (docs/architecture.md §8, "What the last 0.1 MiB per round is"). Padded to the
 * next power of two (then to whole 512s), a statement has at most ten texts up to 500 ids.
 */

/**
 * `ids` with its last id repeated up to the next power of two (up to 512; past that, the next
 * multiple of 512). A repeated value in `IN (…)` matches no row more, so a statement over the
 * padded list selects, updates or deletes exactly the rows it did over `ids`. Empty stays empty.
 */
export function padInList<T>(ids: readonly T[]): T[] {
  const n = ids.length
  if (n === 0) return []
  let size = 1
  while (size < n && size < 512) size *= 2
  if (size < n) size = Math.ceil(n / 512) * 512
  const out = ids.slice()
  const last = ids[n - 1] as T
  while (out.length < size) out.push(last)
  return out
}
