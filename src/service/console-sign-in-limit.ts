/**
 * Failed console sign-ins counted in the shared metadata (docs/architecture.md §13), so that a
 * brute force spread over N gateways gets the budget of one: per identifier (an access key, a
 * client address) a `settings` row `console-signin/<SHA-256 of the identifier>` holding
 * `{count, expiresAt}`, counted up in one statement (meta.countInWindow) by whichever gateway
 * sees the failure. After `limit` failures the identifier is refused until its window ends.
 * Bounded: expired rows are removed at each failure, and past `maxRows` live rows no new
 * identifier is added (the per-gateway limiter in src/console/rate-limit.ts still counts those).
 */
import * as meta from '../meta/index.ts'
import { toHex, utf8 } from '../util/bytes.ts'
import type { ServiceContext } from './context.ts'

const PREFIX = 'console-signin/'

export interface SharedSignInLimits {
  limit: number
  windowMs: number
  maxRows: number
}

export const SHARED_SIGN_IN_LIMITS: SharedSignInLimits = { limit: 5, windowMs: 15 * 60 * 1000, maxRows: 10_000 }

function rowKey(ctx: ServiceContext, id: string): string {
  const h = ctx.platform.createHasher('sha256')
  h.update(utf8(id))
  return PREFIX + toHex(h.digest())
}

/** Milliseconds until every one of `ids` may try again (0: now), as the metadata counts them. */
export async function signInRetryAfter(
  ctx: ServiceContext,
  ids: readonly string[],
  now = Date.now(),
  o: SharedSignInLimits = SHARED_SIGN_IN_LIMITS,
): Promise<number> {
  let wait = 0
  for (const id of ids) {
    const text = await meta.getSetting(ctx.db, rowKey(ctx, id))
    if (text === undefined) continue
    let row: { count?: unknown; expiresAt?: unknown }
    try {
      row = JSON.parse(text) as typeof row
    } catch {
      continue
    }
    if (typeof row.count !== 'number' || typeof row.expiresAt !== 'number') continue
    if (row.count >= o.limit && row.expiresAt > now) wait = Math.max(wait, row.expiresAt - now)
  }
  return wait
}

/** One failed sign-in, counted against each of `ids` on every gateway sharing the metadata. */
export async function recordSignInFailure(
  ctx: ServiceContext,
  ids: readonly string[],
  now = Date.now(),
  o: SharedSignInLimits = SHARED_SIGN_IN_LIMITS,
): Promise<void> {
  await meta.deleteExpiredSettings(ctx.db, PREFIX, now)
  const room = (await meta.countSettings(ctx.db, PREFIX)) < o.maxRows
  for (const id of ids) await meta.countInWindow(ctx.db, rowKey(ctx, id), now, o.windowMs, room)
}

/** A successful sign-in clears its access key's count (never an address's). */
export async function clearSignInFailures(ctx: ServiceContext, id: string): Promise<void> {
  await meta.deleteSetting(ctx.db, rowKey(ctx, id))
}
