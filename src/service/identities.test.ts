import { afterEach, describe, expect, it, vi } from 'vitest'
import { sealUserSecret } from '../crypto/index.ts'
import * as meta from '../meta/index.ts'
import { freshDb } from '../meta/meta.testkit.ts'
import type { ServiceContext } from './context.ts'
import { actorFor, createUserCache, forgetAllUsers, forgetNamespace, forgetUser, lookupSecret } from './identities.ts'

// The user cache: two lookups per request answered by one query; a deletion through this
// gateway is seen at once, through another gateway (same metadata) within the TTL.

const MASTER = new Uint8Array(32).fill(3)
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const c of closers.splice(0)) await c()
})

async function setup(ttlMs = 60_000, maxEntries?: number) {
  const m = await freshDb()
  closers.push(m.close)
  await meta.createNamespace(m.db, { name: 'ns1' })
  await meta.upsertRootUser(m.db, {
    accessKeyId: 'ROOT',
    wrappedSecret: await sealUserSecret(MASTER, 'ROOT', 'secret'),
  })
  for (const id of ['AK1', 'AK2', 'AK3']) {
    await meta.createUser(m.db, {
      accessKeyId: id,
      wrappedSecret: await sealUserSecret(MASTER, id, `secret-${id}`),
      name: id.toLowerCase(),
      namespace: 'ns1',
    })
  }
  /** A gateway: its own cache over the shared database. */
  const gateway = () =>
    ({ db: m.db, users: createUserCache(ttlMs, maxEntries), keys: { master: MASTER } }) as unknown as ServiceContext
  return { db: m.db, gateway }
}

describe('user cache', () => {
  it('answers the secret and the actor of one request with one query', async () => {
    const { gateway } = await setup()
    const ctx = gateway()
    const query = vi.spyOn(meta, 'getUser')
    expect(await lookupSecret(ctx, 'AK1')).toBe('secret-AK1')
    expect(await actorFor(ctx, 'AK1')).toEqual({
      accessKeyId: 'AK1',
      namespace: 'ns1',
      isRoot: false,
      displayName: 'ak1',
      policies: [],
    })
    expect(await lookupSecret(ctx, 'AK1')).toBe('secret-AK1')
    expect(query).toHaveBeenCalledTimes(1)
  })

  it('never caches an unknown key: a user created meanwhile works at once', async () => {
    const { db, gateway } = await setup()
    const ctx = gateway()
    expect(await lookupSecret(ctx, 'NEW')).toBeUndefined()
    await meta.createUser(db, {
      accessKeyId: 'NEW',
      wrappedSecret: await sealUserSecret(MASTER, 'NEW', 's-new'),
      name: 'new',
      namespace: 'ns1',
    })
    expect(await lookupSecret(ctx, 'NEW')).toBe('s-new')
  })

  it('a user deleted and forgotten on this gateway is refused at once', async () => {
    const { db, gateway } = await setup()
    const ctx = gateway()
    expect(await lookupSecret(ctx, 'AK1')).toBe('secret-AK1')
    await meta.deleteUser(db, 'AK1')
    forgetUser(ctx, 'AK1')
    expect(await lookupSecret(ctx, 'AK1')).toBeUndefined()
    await expect(actorFor(ctx, 'AK1')).rejects.toMatchObject({ code: 'AccessDenied' })
  })

  it("forgetNamespace drops only that namespace's users; forgetAllUsers drops every one", async () => {
    const { db, gateway } = await setup()
    const ctx = gateway()
    for (const id of ['AK1', 'AK2', 'ROOT']) await lookupSecret(ctx, id)
    forgetNamespace(ctx, 'ns1')
    expect([...ctx.users.entries.keys()]).toEqual(['ROOT'])
    await lookupSecret(ctx, 'AK2')
    forgetAllUsers(ctx)
    expect(ctx.users.entries.size).toBe(0)
    expect(await lookupSecret(ctx, 'AK2')).toBe('secret-AK2') // still in the database
    await meta.deleteUser(db, 'AK2')
  })

  it('another gateway sharing the metadata refuses a deleted user once its entry expires', async () => {
    const ttl = 150
    const { db, gateway } = await setup(ttl)
    const here = gateway()
    const other = gateway()
    expect(await lookupSecret(other, 'AK1')).toBe('secret-AK1')
    await meta.deleteUser(db, 'AK1')
    forgetUser(here, 'AK1')
    expect(await lookupSecret(here, 'AK1')).toBeUndefined()
    // Within the TTL the other gateway may still answer from its cache; bounded wait past it.
    await new Promise((r) => setTimeout(r, ttl + 50))
    expect(await lookupSecret(other, 'AK1')).toBeUndefined()
  })

  it('a lookup that overlaps an invalidation does not store its (possibly stale) answer', async () => {
    const { db, gateway } = await setup()
    const ctx = gateway()
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const real = meta.getUser
    vi.spyOn(meta, 'getUser').mockImplementationOnce(async (d, id) => {
      const row = await real(d, id) // read before the delete commits...
      await gate // ...answered after it
      return row
    })
    const slow = lookupSecret(ctx, 'AK1')
    await meta.deleteUser(db, 'AK1')
    forgetUser(ctx, 'AK1')
    release()
    expect(await slow).toBe('secret-AK1') // that request raced the delete; the next one must not
    expect(ctx.users.entries.has('AK1')).toBe(false)
    expect(await lookupSecret(ctx, 'AK1')).toBeUndefined()
  })

  it('stays within its entry bound, dropping the oldest entry', async () => {
    const { gateway } = await setup(60_000, 2)
    const ctx = gateway()
    for (const id of ['AK1', 'AK2', 'AK3']) await lookupSecret(ctx, id)
    expect([...ctx.users.entries.keys()]).toEqual(['AK2', 'AK3'])
  })

  it('a TTL of 0 turns the cache off', async () => {
    const { db, gateway } = await setup(0)
    const ctx = gateway()
    expect(await lookupSecret(ctx, 'AK1')).toBe('secret-AK1')
    await meta.deleteUser(db, 'AK1')
    expect(await lookupSecret(ctx, 'AK1')).toBeUndefined()
  })
})
