/**
 * The bytes of small objects kept in the metadata (schema.ts `inline_data`, docs/architecture.md
 * §2 "inline objects"): inserted by the commit of the object row that names them, in the same
 * transaction, read by GET, deleted by GC. Opaque bytes here; their checksum is the service's.
 */
import { inArray, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { inlineData } from '../schema.ts'
import { padInList } from './in-list.ts'

/** Bytes to store with an object row: `id` is the write id its layout names. */
export interface InlineBytes {
  id: string
  data: Uint8Array
}

/** The statement that stores `bytes` only when `gate` holds (a commit's token). */
export function insertInlineStatement(db: Db, bytes: InlineBytes, gate: SQL) {
  return db.insert(inlineData).select(sql`select ${bytes.id}, ${sql.param(bytes.data, inlineData.data)} where ${gate}`)
}

/** The stored bytes of each id that has any (one statement); an id without a row is absent. */
export async function getInline(db: Db, ids: readonly string[]): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>()
  if (ids.length === 0) return out
  const rows = await db
    .select()
    .from(inlineData)
    .where(inArray(inlineData.id, padInList(ids)))
  for (const r of rows) out.set(r.id, r.data)
  return out
}

/** Statement removing the bytes of `ids` (GC, with the queue entries that named them). */
export function deleteInlineStatement(db: Db, ids: readonly string[]) {
  return db.delete(inlineData).where(inArray(inlineData.id, padInList(ids)))
}
