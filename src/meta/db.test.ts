import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openDb } from './db.ts'
import { isMetaUnavailable } from './errors.ts'
import { createClient } from '@libsql/client'
import { applyMigrations, migrationsFolder } from './migrate.ts'
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

  it('with a group-committed WAL sync: NORMAL, and a write resolves only after a sync that began after it', async () => {
    const url = tempUrl()
    const started: string[] = []
    let release: (() => void) | undefined
    // A sync that finishes only when the test says so, recording which rows existed when it began.
    const syncFile = async (path: string) => {
      expect(path).toBe(`${url.slice('file:'.length)}-wal`)
      const c = createClient({ url })
      try {
        const users = await c.execute('select access_key_id from users order by 1').catch(() => ({ rows: [] }))
        started.push(users.rows.map((r) => String(r.access_key_id)).join(','))
      } finally {
        c.close()
      }
      if (release === undefined) return // migrations and tuning at open
      await new Promise<void>((r) => (release = r))
    }
    const meta = await openDb(url, { syncFile })
    const one = async (pragma: string) => Object.values((await meta.client.execute(`PRAGMA ${pragma}`)).rows[0]!)[0]
    expect(await one('synchronous')).toBe(1) // NORMAL: the WAL is synced by syncFile instead
    started.length = 0
    release = () => {}
    let done = false
    const write = upsertRootUser(meta.db, { accessKeyId: 'AK1', wrappedSecret: 's1' }).then(() => (done = true))
    for (let i = 0; i < 200 && started.length === 0; i++) await new Promise((r) => setTimeout(r, 5))
    expect(started).toEqual(['AK1']) // the sync began after the commit, so it covers it
    expect(done).toBe(false) // …and the write waits for it
    // Reads pay no sync.
    expect((await getUser(meta.db, 'AK1'))?.wrappedSecret).toBe('s1')
    expect(started.length).toBe(1)
    release()
    await write
    expect(done).toBe(true)
    release = undefined
    await meta.close()
  })

  it('a failed WAL sync refuses the write and everything after it, reads included, as unavailable', async () => {
    const url = tempUrl()
    let fail = false
    const syncFile = async () => {
      if (fail) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })
    }
    const meta = await openDb(url, { syncFile })
    await upsertRootUser(meta.db, { accessKeyId: 'AK0', wrappedSecret: 's0' })
    fail = true
    const write = await upsertRootUser(meta.db, { accessKeyId: 'AK1', wrappedSecret: 's1' }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isMetaUnavailable(write), String(write)).toBe(true)
    // The commit sits in SQLite's cache, maybe not on disk: it must not be served, nor anything else.
    fail = false
    for (const attempt of [
      () => getUser(meta.db, 'AK1'),
      () => getUser(meta.db, 'AK0'),
      () => listNamespaces(meta.db),
    ]) {
      const e = await attempt().then(
        () => undefined,
        (err: unknown) => err,
      )
      expect(isMetaUnavailable(e), String(e)).toBe(true)
    }
    const again = await upsertRootUser(meta.db, { accessKeyId: 'AK2', wrappedSecret: 's2' }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isMetaUnavailable(again)).toBe(true)
    await meta.close()
    // Reopened (a gateway restart), SQLite recovers from what the file holds and serves again;
    // here no power was lost, so the unacknowledged commit (root's key replaced) did land, as a
    // 503 allows.
    const reopened = await openDb(url, { syncFile })
    expect((await getUser(reopened.db, 'AK1'))?.wrappedSecret).toBe('s1')
    await reopened.close()
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

  it('the access-control migration gives existing users readwrite, root none, and blocks nothing that existed', async () => {
    const url = tempUrl()
    // The migrations as they were before access control: the journal cut before it.
    const before = mkdtempSync(join(tmpdir(), 'coffer-migrations-'))
    dirs.push(before)
    cpSync(migrationsFolder(), before, { recursive: true })
    const journalFile = join(before, 'meta', '_journal.json')
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] }
    const cut = journal.entries.findIndex((e) => e.tag.endsWith('_access_control'))
    expect(cut).toBeGreaterThan(0)
    journal.entries = journal.entries.slice(0, cut)
    writeFileSync(journalFile, JSON.stringify(journal))
    const client = createClient({ url })
    await applyMigrations(client, before)
    const now = Date.now()
    await client.batch([
      { sql: "insert into namespaces (name, created_at) values ('old', ?)", args: [now] },
      {
        sql: "insert into users (access_key_id, name, namespace, secret_access_key, wrapped_secret, is_root, created_at) values ('AKUSER', 'app', 'old', '', 'sealed', 0, ?), ('AKROOT', 'root', 'old', '', 'sealed', 1, ?)",
        args: [now, now],
      },
      {
        sql: "insert into buckets (name, id, namespace, owner, region, created_at) values ('b1', 'id1', 'old', 'AKUSER', 'us-east-1', ?)",
        args: [now],
      },
    ])
    client.close()

    const upgraded = await openDb(url)
    expect((await getUser(upgraded.db, 'AKUSER'))?.builtinPolicy).toBe('readwrite')
    expect((await getUser(upgraded.db, 'AKROOT'))?.builtinPolicy).toBeNull()
    expect((await listNamespaces(upgraded.db))[0]?.publicAccessBlock).toBeNull()
    const bucket = await upgraded.client.execute(
      "select policy, public_access_block, ownership from buckets where name = 'b1'",
    )
    expect(bucket.rows[0]).toMatchObject({ policy: null, public_access_block: null, ownership: null })
    // Namespaces created from now on block public access, as AWS does for new accounts.
    await upsertRootUser(upgraded.db, { accessKeyId: 'AKNEW', wrappedSecret: 's' })
    const fresh = (await listNamespaces(upgraded.db)).find((n) => n.name === 'default')
    expect(JSON.parse(fresh?.publicAccessBlock ?? 'null')).toMatchObject({ BlockPublicPolicy: true })
    await upgraded.close()
  })
})
