import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openDb } from './db.ts'
import { migrationsFolder } from './migrate.ts'
import { getUser, listNamespaces, upsertRootUser } from './queries/identities.ts'

const dirs: string[] = []
const tempUrl = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-meta-'))
  dirs.push(dir)
  return `file:${join(dir, 'meta.db')}`
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('openDb', () => {
  it('applies the migrations once: a second start finds them applied and keeps the data', async () => {
    const url = tempUrl()
    const first = await openDb(url)
    await upsertRootUser(first.db, { accessKeyId: 'AK1', wrappedSecret: 's1' })
    const applied = await first.client.execute('select count(*) as n from __drizzle_migrations')
    await first.close()

    const second = await openDb(url)
    const again = await second.client.execute('select count(*) as n from __drizzle_migrations')
    expect(again.rows[0]!.n).toBe(applied.rows[0]!.n)
    expect(Number(applied.rows[0]!.n)).toBeGreaterThan(0)
    expect((await getUser(second.db, 'AK1'))?.wrappedSecret).toBe('s1')
    await second.close()
  })

  it('tunes embedded files: WAL, synchronous=FULL (every commit fsynced), busy timeout, foreign keys', async () => {
    const meta = await openDb(tempUrl())
    const one = async (pragma: string) => Object.values((await meta.client.execute(`PRAGMA ${pragma}`)).rows[0]!)[0]
    expect(await one('journal_mode')).toBe('wal')
    expect(await one('synchronous')).toBe(2) // FULL: see SYNCHRONOUS in db.ts
    expect(Number(await one('busy_timeout'))).toBeGreaterThan(0)
    expect(await one('foreign_keys')).toBe(1)
    await meta.close()
  })

  it('opens :memory: with the schema in place', async () => {
    const meta = await openDb(':memory:')
    expect(await listNamespaces(meta.db)).toEqual([])
    await meta.close()
  })

  it('resolves the migrations folder from a file URL, spaces included', () => {
    expect(migrationsFolder('file:///srv/my%20app/src/meta/migrate.ts')).toBe('/srv/my app/src/meta/migrations/')
    expect(migrationsFolder('file:///C:/coffer/src/meta/migrate.ts')).toBe('C:/coffer/src/meta/migrations/')
    expect(() => migrationsFolder('https://example.com/meta/migrate.ts')).toThrow(/on disk/)
  })
})
