import { describe, expect, it } from 'vitest'
import { sql } from 'drizzle-orm'
import { openDb } from './db.ts'
import { isDbFull } from './errors.ts'

describe('isDbFull', () => {
  it('recognises the error a full database raises through drizzle, and nothing else', async () => {
    const { db, close } = await openDb(':memory:')
    try {
      await db.run(sql`CREATE TABLE filler (x BLOB)`)
      // A page ceiling makes SQLite answer exactly as on a full disk: SQLITE_FULL.
      const pages = (await db.all<{ page_count: number }>(sql`PRAGMA page_count`))[0]!.page_count
      await db.run(sql.raw(`PRAGMA max_page_count=${pages + 2}`))
      let full: unknown
      for (let i = 0; i < 50 && full === undefined; i++) {
        await db.run(sql`INSERT INTO filler VALUES (${new Uint8Array(4000)})`).catch((e: unknown) => (full = e))
      }
      expect(full).toBeDefined()
      expect(isDbFull(full)).toBe(true)
      const other = await db.run(sql`INSERT INTO nowhere VALUES (1)`).catch((e: unknown) => e)
      expect(isDbFull(other)).toBe(false)
      expect(isDbFull(new Error('SQLITE_FULL in a message only'))).toBe(false)
    } finally {
      await close()
    }
  })
})
