import { afterEach, describe, expect, it } from 'vitest'
import * as meta from '../meta/index.ts'
import { freshDb } from '../meta/meta.testkit.ts'
import { settings } from '../meta/schema.ts'
import { createTestPlatform } from '../util/platform.testkit.ts'
import { consoleSession, createConsoleSession, endConsoleSession } from './console-sessions.ts'
import type { ServiceContext } from './context.ts'

// Console sessions in the shared metadata: two gateways (two contexts over one database) see
// the same sessions; sign-out and expiry end them everywhere; only the id's hash is stored.

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of closers.splice(0)) await c()
})

async function setup() {
  const m = await freshDb()
  closers.push(m.close)
  const gateway = () => ({ db: m.db, platform: createTestPlatform() }) as unknown as ServiceContext
  return { db: m.db, a: gateway(), b: gateway() }
}

describe('console sessions', () => {
  it('a session made through one gateway works through another; sign-out ends it on both', async () => {
    const { a, b } = await setup()
    const { id, session } = await createConsoleSession(a, 'AK1', 1_000, 60_000)
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    expect(session.csrf).toMatch(/^[0-9a-f]{64}$/)
    expect(session.csrf).not.toBe(id)
    expect(await consoleSession(b, id, 2_000)).toEqual({ accessKeyId: 'AK1', csrf: session.csrf, expiresAt: 61_000 })
    await endConsoleSession(b, id)
    expect(await consoleSession(a, id, 2_000)).toBeUndefined()
  })

  it('expires at its deadline, and expired rows are removed at the next sign-in', async () => {
    const { db, a } = await setup()
    const old = await createConsoleSession(a, 'AK1', 0, 1_000)
    expect(await consoleSession(a, old.id, 999)).toBeDefined()
    expect(await consoleSession(a, old.id, 1_000)).toBeUndefined()
    const fresh = await createConsoleSession(a, 'AK2', 5_000, 1_000)
    const rows = await db.select().from(settings).all()
    const keys = rows.map((r) => r.key).filter((k) => k.startsWith('console-session/'))
    expect(keys).toHaveLength(1)
    // Only the id's hash is stored, never the id (the cookie) itself.
    expect(JSON.stringify(rows)).not.toContain(fresh.id)
    expect(JSON.stringify(rows)).not.toContain(old.id)
  })

  it('unknown, malformed and unreadable ids are no session', async () => {
    const { db, a } = await setup()
    expect(await consoleSession(a, 'f'.repeat(64))).toBeUndefined()
    expect(await consoleSession(a, "x' or 1=1 --")).toBeUndefined()
    const { id } = await createConsoleSession(a, 'AK1')
    const [row] = (await db.select().from(settings).all()).filter((r) => r.key.startsWith('console-session/'))
    await meta.setSetting(db, row!.key, 'not json')
    expect(await consoleSession(a, id)).toBeUndefined()
  })
})
