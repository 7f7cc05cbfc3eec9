import { describe, expect, it } from 'vitest'
import { sql } from 'drizzle-orm'
import { openDb } from './db.ts'
import { isDbFull, isMetaUnavailable } from './errors.ts'
import { createServer } from 'node:net'

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

describe('isMetaUnavailable', () => {
  it('recognises a sqld that refuses connections or stalls past the request timeout, and not a bad query', async () => {
    // A port nothing listens on: connection refused.
    const closed = createServer().listen(0, '127.0.0.1')
    await new Promise((r) => closed.once('listening', r))
    const port = (closed.address() as { port: number }).port
    await new Promise((r) => closed.close(r))
    const refused = await openDb(`http://127.0.0.1:${port}`, { authToken: 't' }).catch((e: unknown) => e)
    expect(isMetaUnavailable(refused)).toBe(true)
    expect(isDbFull(refused)).toBe(false)
    // An HTTP 503 from sqld is the server's trouble; a 401 (wrong token) is not an outage.
    const res = (status: number) =>
      Object.assign(new Error(`SERVER_ERROR: Server returned HTTP status ${status}`), { code: 'SERVER_ERROR' })
    expect(isMetaUnavailable(res(503))).toBe(true)
    expect(isMetaUnavailable(res(401))).toBe(false)
    expect(isMetaUnavailable(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }))).toBe(true)
    expect(isMetaUnavailable(new DOMException('timed out', 'TimeoutError'))).toBe(true)
    const { db, close } = await openDb(':memory:')
    const bad = await db.run(sql`INSERT INTO nowhere VALUES (1)`).catch((e: unknown) => e)
    await close()
    expect(isMetaUnavailable(bad)).toBe(false)
  })
})
