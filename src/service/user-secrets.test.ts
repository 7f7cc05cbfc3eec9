import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openUserSecret, sealUserSecret } from '../crypto/index.ts'
import * as meta from '../meta/index.ts'
import { users } from '../meta/schema.ts'
import { silentLogger } from '../util/log.ts'
import type { ServiceContext } from './context.ts'
import { openSecret, PURGE_PENDING_SETTING, sealClearSecrets } from './user-secrets.ts'

// Sealing clear secrets at start is crash-safe: the sealing and the "purge pending" mark are one
// transaction, so a crash before the file is purged is finished at the next start.

const MASTER = new Uint8Array(32).fill(9)
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function legacyDb(count: number) {
  const dir = await mkdtemp(join(tmpdir(), 'coffer-secrets-unit-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'meta.db')
  const m = await meta.openDb(`file:${file}`)
  cleanups.push(() => m.close())
  await meta.ensureDefaultNamespace(m.db)
  const clear = Array.from({ length: count }, (_, i) => ({
    accessKeyId: `AK${String(i).padStart(6, '0')}`,
    secretAccessKey: `clear-secret-${i}-${'x'.repeat(24)}`,
  }))
  for (const c of clear)
    await m.db.insert(users).values({ ...c, name: 'u', namespace: 'default', isRoot: false, createdAt: new Date() })
  const ctx = { db: m.db, keys: { master: MASTER }, logger: silentLogger } as unknown as ServiceContext
  const bytesHolding = async () => {
    const files = [file, `${file}-wal`]
    const all = Buffer.concat(await Promise.all(files.map((f) => readFile(f).catch(() => Buffer.alloc(0)))))
    return clear.filter((c) => all.includes(Buffer.from(c.secretAccessKey))).length
  }
  return { ctx, db: m.db, clear, bytesHolding }
}

describe('sealing clear secrets at start', () => {
  it('seals every row, purges the file and its WAL, and is idempotent', async () => {
    const { ctx, db, clear, bytesHolding } = await legacyDb(200)
    expect(await bytesHolding()).toBe(200)
    expect(await sealClearSecrets(ctx)).toBe(200)
    expect(await bytesHolding()).toBe(0)
    expect(await meta.clearSecrets(db)).toEqual([])
    expect(await meta.getSetting(db, PURGE_PENDING_SETTING)).toBeUndefined()
    const row = (await meta.getUser(db, clear[7]!.accessKeyId))!
    expect(row.secretAccessKey).toBe('')
    expect(await openUserSecret(MASTER, row.accessKeyId, row.wrappedSecret!)).toBe(clear[7]!.secretAccessKey)
    expect(await openSecret(ctx, row)).toBe(clear[7]!.secretAccessKey)
    expect(await sealClearSecrets(ctx)).toBe(0)
  })

  it('a crash after the sealing but before the purge: the next start purges', async () => {
    const { ctx, db, clear, bytesHolding } = await legacyDb(200)
    // The first half of sealClearSecrets, then "the process dies".
    const sealed = await Promise.all(
      clear.map(async (c) => ({ ...c, wrappedSecret: await sealUserSecret(MASTER, c.accessKeyId, c.secretAccessKey) })),
    )
    expect(await meta.sealSecrets(db, sealed, PURGE_PENDING_SETTING)).toBe(200)
    expect(await meta.getSetting(db, PURGE_PENDING_SETTING)).toBe('1')
    expect(await bytesHolding()).toBeGreaterThan(0)
    // The next start: nothing left to seal, but the purge is still owed.
    expect(await sealClearSecrets(ctx)).toBe(0)
    expect(await bytesHolding()).toBe(0)
    expect(await meta.getSetting(db, PURGE_PENDING_SETTING)).toBeUndefined()
  })

  it('a row an older gateway wrote in clear still authenticates until it is sealed', async () => {
    const { ctx, db, clear } = await legacyDb(1)
    expect(await openSecret(ctx, (await meta.getUser(db, clear[0]!.accessKeyId))!)).toBe(clear[0]!.secretAccessKey)
  })
})
