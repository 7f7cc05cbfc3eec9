import { afterEach, describe, expect, it } from 'vitest'
import { freshDb } from '../meta/meta.testkit.ts'
import { settings } from '../meta/schema.ts'
import { createTestPlatform } from '../util/platform.testkit.ts'
import { clearSignInFailures, recordSignInFailure, signInRetryAfter } from './console-sign-in-limit.ts'
import type { ServiceContext } from './context.ts'

// Failed console sign-ins counted in the shared metadata: two gateways (two contexts over one
// database) share one budget; windows end; the table stays bounded; identifiers are hashed.

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

const limits = { limit: 5, windowMs: 60_000, maxRows: 100 }
const rows = async (db: Awaited<ReturnType<typeof setup>>['db']) =>
  (await db.select().from(settings).all()).filter((r) => r.key.startsWith('console-signin/'))

describe('shared sign-in failure limit', () => {
  it('failures spread over two gateways add up to one budget', async () => {
    const { a, b } = await setup()
    const ids = ['ip:10.0.0.1', 'key:AK1']
    for (let i = 0; i < 4; i++) await recordSignInFailure(i % 2 ? a : b, ids, 1_000 + i, limits)
    expect(await signInRetryAfter(a, ids, 2_000, limits)).toBe(0)
    await recordSignInFailure(a, ids, 2_000, limits)
    // Five in the window: refused on both gateways until the window (from the first failure) ends.
    expect(await signInRetryAfter(b, ['key:AK1'], 3_000, limits)).toBe(61_000 - 3_000)
    expect(await signInRetryAfter(a, ['ip:10.0.0.1'], 3_000, limits)).toBe(58_000)
    expect(await signInRetryAfter(b, ['key:AK2'], 3_000, limits)).toBe(0)
    expect(await signInRetryAfter(b, ids, 61_000, limits)).toBe(0)
  })

  it('concurrent failures through both gateways are all counted', async () => {
    const { a, b } = await setup()
    await Promise.all(Array.from({ length: 5 }, (_, i) => recordSignInFailure(i % 2 ? a : b, ['key:AK9'], 500, limits)))
    expect(await signInRetryAfter(a, ['key:AK9'], 600, limits)).toBeGreaterThan(0)
  })

  it('a new window starts after the old one ends; a success clears its key', async () => {
    const { a } = await setup()
    for (let i = 0; i < 5; i++) await recordSignInFailure(a, ['key:AK1'], 0, limits)
    expect(await signInRetryAfter(a, ['key:AK1'], 1, limits)).toBeGreaterThan(0)
    // After the window: one failure is one, not six.
    await recordSignInFailure(a, ['key:AK1'], 60_000, limits)
    expect(await signInRetryAfter(a, ['key:AK1'], 60_001, limits)).toBe(0)
    for (let i = 0; i < 4; i++) await recordSignInFailure(a, ['key:AK1'], 60_002, limits)
    expect(await signInRetryAfter(a, ['key:AK1'], 60_003, limits)).toBeGreaterThan(0)
    await clearSignInFailures(a, 'key:AK1')
    expect(await signInRetryAfter(a, ['key:AK1'], 60_003, limits)).toBe(0)
  })

  it('stays bounded: expired rows go at the next failure; a full table adds no new identifier', async () => {
    const { db, a } = await setup()
    const small = { ...limits, maxRows: 3 }
    for (const id of ['k1', 'k2', 'k3']) await recordSignInFailure(a, [id], 0, small)
    await recordSignInFailure(a, ['k4'], 10, small)
    expect(await rows(db)).toHaveLength(3)
    // Known identifiers are still counted while full.
    for (let i = 0; i < 4; i++) await recordSignInFailure(a, ['k1'], 20, small)
    expect(await signInRetryAfter(a, ['k1'], 30, small)).toBeGreaterThan(0)
    // Once their windows end, the rows are removed and new identifiers fit again.
    await recordSignInFailure(a, ['k5'], 60_000, small)
    expect(await rows(db)).toHaveLength(1)
    // Identifiers are stored hashed (an address is not kept in the metadata as such).
    expect(JSON.stringify(await rows(db))).not.toContain('k5')
  })
})
