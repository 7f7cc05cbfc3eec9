import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { cacheLibsqlStatements } from '../runtime/libsql-statements.ts'
import { openDb } from './db.ts'
import { cacheStatements, STATEMENTS_PER_CONNECTION } from './statement-cache.ts'

/** A stand-in for libsql's Database: counts what the real one would parse and describe. */
function fakeDatabase() {
  const counts = { prepared: 0, described: 0, rawCalls: 0 }
  class Database {
    prepare(sql: string) {
      counts.prepared++
      const stmt = {
        sql,
        columns: () => {
          counts.described++
          return [{ name: 'a' }]
        },
        safeIntegers: (_on?: boolean) => stmt,
        raw: (_on?: boolean) => {
          counts.rawCalls++
          // As libsql: a statement that returns no rows refuses raw mode.
          if (!sql.startsWith('select')) throw new TypeError('The raw() method is only for statements returning data')
          return stmt
        },
      }
      return stmt
    }
  }
  return { Database, counts }
}

describe('cacheStatements', () => {
  it('prepares and describes a statement once per connection and SQL text', () => {
    const { Database, counts } = fakeDatabase()
    expect(cacheStatements(Database)).toBe(true)
    expect(cacheStatements(Database)).toBe(true) // idempotent: not wrapped twice
    const a = new Database()
    const b = new Database()
    const s1 = a.prepare('select 1')
    s1.columns()
    const s2 = a.prepare('select 1')
    s2.columns()
    expect(s2).toBe(s1)
    expect(counts).toEqual({ prepared: 1, described: 1, rawCalls: 0 })
    expect(b.prepare('select 1')).not.toBe(s1) // another connection has its own statements
    expect(counts.prepared).toBe(2)
  })

  it("remembers a statement's refusal of raw mode, and a mode already set", () => {
    const { Database, counts } = fakeDatabase()
    cacheStatements(Database)
    const db = new Database()
    for (let i = 0; i < 3; i++) expect(() => db.prepare('insert 1').raw(true)).toThrow(TypeError)
    expect(counts.rawCalls).toBe(1)
    for (let i = 0; i < 3; i++) db.prepare('select 1').raw(true)
    expect(counts.rawCalls).toBe(2) // set once, then already set
    db.prepare('select 1').raw(false)
    db.prepare('select 1').raw(true)
    expect(counts.rawCalls).toBe(4)
  })

  it('keeps at most STATEMENTS_PER_CONNECTION texts, dropping the least recently used', () => {
    const { Database, counts } = fakeDatabase()
    cacheStatements(Database)
    const db = new Database()
    const hot = db.prepare('select hot')
    for (let i = 0; i < STATEMENTS_PER_CONNECTION; i++) {
      db.prepare(`select ${i}`)
      db.prepare('select hot') // used all along: never the one evicted
    }
    expect(db.prepare('select hot')).toBe(hot)
    const before = counts.prepared
    db.prepare('select 0') // the oldest of the rest: evicted, prepared again
    expect(counts.prepared).toBe(before + 1)
  })

  it('leaves embedded libSQL answering right: reused statements see later writes and survive errors', async () => {
    expect(cacheLibsqlStatements()).toBe(true) // the runtime finds the client's libsql
    const dir = await mkdtemp(join(tmpdir(), 'coffer-stmt-'))
    const m = await openDb(`file:${join(dir, 'meta.db')}`)
    try {
      await m.client.execute('create table t (id integer primary key, v text unique)')
      const insert = (v: string) => m.client.execute({ sql: 'insert into t (v) values (?)', args: [v] })
      const values = async () =>
        (await m.client.execute({ sql: 'select v from t where id > ? order by id', args: [0] })).rows.map((r) => r.v)
      await insert('a')
      expect(await values()).toEqual(['a'])
      await expect(insert('a')).rejects.toThrow(/UNIQUE/)
      await insert('b')
      expect(await values()).toEqual(['a', 'b'])
      await m.client.batch([{ sql: 'update t set v = ? where v = ?', args: ['c', 'a'] }], 'write')
      expect(await values()).toEqual(['c', 'b'])
      const columns = (await m.client.execute({ sql: 'select v from t where id > ? order by id', args: [0] })).columns
      expect(columns).toEqual(['v'])
    } finally {
      await m.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
