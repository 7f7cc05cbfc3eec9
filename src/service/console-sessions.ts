/**
 * Web console sessions (docs/architecture.md §13), kept in the metadata so that every gateway
 * sharing it honours a sign-in and a sign-out at once: a row of `settings` under
 * `console-session/<SHA-256 of the session id>` holding the access key, the CSRF token and the
 * expiry. Only the hash of the id is stored, so reading the metadata does not let anyone take
 * over a session. Expired rows are removed at every sign-in, so the table holds only live ones.
 */
import * as meta from '../meta/index.ts'
import { toHex, utf8 } from '../util/bytes.ts'
import type { ServiceContext } from './context.ts'

const PREFIX = 'console-session/'

/** How long a console session lives from its sign-in (absolute, never extended). */
export const CONSOLE_SESSION_TTL_MS = 60 * 60 * 1000

export interface ConsoleSession {
  accessKeyId: string
  /** The token every state-changing console request must carry (a form field or header). */
  csrf: string
  /** Epoch milliseconds. */
  expiresAt: number
}

/** 32 random bytes as hex: unguessable, URL- and cookie-safe. */
function randomToken(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(32)))
}

function rowKey(ctx: ServiceContext, id: string): string {
  const h = ctx.platform.createHasher('sha256')
  h.update(utf8(id))
  return PREFIX + toHex(h.digest())
}

/** A new session for a user whose credentials the caller has verified; returns its id (the cookie). */
export async function createConsoleSession(
  ctx: ServiceContext,
  accessKeyId: string,
  now = Date.now(),
  ttlMs = CONSOLE_SESSION_TTL_MS,
): Promise<{ id: string; session: ConsoleSession }> {
  await meta.deleteExpiredSettings(ctx.db, PREFIX, now)
  const id = randomToken()
  const session: ConsoleSession = { accessKeyId, csrf: randomToken(), expiresAt: now + ttlMs }
  await meta.setSetting(ctx.db, rowKey(ctx, id), JSON.stringify(session))
  return { id, session }
}

/** The live session with this id, or undefined (unknown, signed out, expired or unreadable). */
export async function consoleSession(
  ctx: ServiceContext,
  id: string,
  now = Date.now(),
): Promise<ConsoleSession | undefined> {
  if (!/^[0-9a-f]{64}$/.test(id)) return undefined
  const text = await meta.getSetting(ctx.db, rowKey(ctx, id))
  if (text === undefined) return undefined
  let s: Partial<ConsoleSession>
  try {
    s = JSON.parse(text) as Partial<ConsoleSession>
  } catch {
    return undefined
  }
  if (typeof s.accessKeyId !== 'string' || typeof s.csrf !== 'string' || typeof s.expiresAt !== 'number')
    return undefined
  if (s.expiresAt <= now) return undefined
  return { accessKeyId: s.accessKeyId, csrf: s.csrf, expiresAt: s.expiresAt }
}

/** Sign-out: the session stops working on every gateway sharing the metadata. */
export async function endConsoleSession(ctx: ServiceContext, id: string): Promise<void> {
  if (!/^[0-9a-f]{64}$/.test(id)) return
  await meta.deleteSetting(ctx.db, rowKey(ctx, id))
}
