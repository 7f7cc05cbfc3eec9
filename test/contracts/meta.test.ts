/**
 * Runs the metadata contract against an embedded libSQL file (two clients on one file, as two
 * processes would open it) and a real sqld started by `coffer meta-server` (two HTTP clients).
 */
import { createClient } from '@libsql/client/node'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mkdir, writeFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyMigrations } from '../../src/meta/migrate.ts'
import { initCluster } from '../helpers/nodes.ts'
import { startMetaServer, type MetaServerProc } from '../helpers/sqld.ts'
import { metaContract } from './meta.contract.ts'

metaContract('embedded file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'coffer-meta-contract-'))
  return { url: `file:${join(dir, 'meta.db')}`, cleanup: () => rm(dir, { recursive: true, force: true }) }
})

let dir: string
let sqld: MetaServerProc
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-meta-contract-sqld-'))
  initCluster(join(dir, 'cluster.json'))
  sqld = await startMetaServer(join(dir, 'cluster.json'), join(dir, 'meta'))
}, 120_000)
afterAll(async () => {
  await sqld?.stop()
  await rm(dir, { recursive: true, force: true })
})

/** sqld holds one database: each test starts from it emptied of every table (migrations too). */
async function emptied(url: string, authToken: string): Promise<void> {
  const client = createClient({ url, authToken })
  try {
    const tables = await client.execute(
      "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'libsql_%' and name not like '_litestream%'",
    )
    // migrate() runs with foreign keys off, so the order of the drops does not matter.
    await client.migrate(tables.rows.map((r) => `drop table "${String(r.name)}"`))
  } finally {
    client.close()
  }
}

metaContract('sqld over HTTP', async () => {
  await emptied(sqld.url, sqld.token)
  return { url: sqld.url, authToken: sqld.token }
})

/** A migrations folder with one migration that does harm when it runs twice (an INSERT). */
async function repeatSensitiveMigrations(): Promise<string> {
  const folder = join(dir, 'migrations')
  await mkdir(join(folder, 'meta'), { recursive: true })
  await writeFile(
    join(folder, 'meta', '_journal.json'),
    JSON.stringify({
      version: '7',
      dialect: 'sqlite',
      entries: [{ idx: 0, version: '6', when: 1_700_000_000_000, tag: '0000_seed', breakpoints: true }],
    }),
  )
  await writeFile(
    join(folder, '0000_seed.sql'),
    'CREATE TABLE IF NOT EXISTS seeded (n integer);--> statement-breakpoint\nINSERT INTO seeded VALUES (1);',
  )
  return folder
}

describe('migrations on sqld', () => {
  it('run once when four gateways migrate at the same moment, even a migration that could run twice', async () => {
    await emptied(sqld.url, sqld.token)
    const folder = await repeatSensitiveMigrations()
    const clients = Array.from({ length: 4 }, () => createClient({ url: sqld.url, authToken: sqld.token }))
    try {
      await Promise.all(clients.map((c) => applyMigrations(c, folder)))
      const seeded = await clients[0]!.execute('select count(*) as n from seeded')
      expect(Number(seeded.rows[0]!.n)).toBe(1)
      const recorded = await clients[0]!.execute('select count(*) as n from __drizzle_migrations')
      expect(Number(recorded.rows[0]!.n)).toBe(1)
    } finally {
      for (const c of clients) c.close()
    }
  })
})
