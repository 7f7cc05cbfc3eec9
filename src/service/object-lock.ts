/**
 * Object Lock rules (WORM), pure: no I/O, no clock of its own (`now` is passed in). What a
 * bucket's lock configuration and a version's retention and legal hold allow — deleting a
 * version, changing its retention — as AWS S3 decides it. The stored shapes (`buckets.object_lock`,
 * `objects.lock`, `multipart_uploads.lock`) are formats: docs/formats.md §4.
 */

export type LockMode = 'GOVERNANCE' | 'COMPLIANCE'

export const isLockMode = (v: unknown): v is LockMode => v === 'GOVERNANCE' || v === 'COMPLIANCE'

/** A version's retention: it cannot be deleted (or its retention weakened) before `until`. */
export interface Retention {
  mode: LockMode
  until: Date
}

/** What a version carries: retention and/or a legal hold. */
export interface VersionLock {
  retention?: Retention
  legalHold?: boolean
}

/** A bucket's default retention for new versions: Days or Years, never both. */
export interface DefaultRetention {
  mode: LockMode
  days?: number
  years?: number
}

/** A bucket's Object Lock configuration (lock is on when a bucket has one; it never goes off). */
export interface BucketLock {
  defaultRetention?: DefaultRetention
}

// FORMAT: objects.lock / multipart_uploads.lock JSON — { v: 1, retention?: { mode, until: ms }, legalHold?: true }
export function encodeVersionLock(l: VersionLock): unknown {
  if (!l.retention && !l.legalHold) return null
  const out: Record<string, unknown> = { v: 1 }
  if (l.retention) out.retention = { mode: l.retention.mode, until: l.retention.until.getTime() }
  if (l.legalHold) out.legalHold = true
  return out
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The stored JSON back; undefined for null, or for a value that is not one (`what` names it). */
export function decodeVersionLock(v: unknown, what: string): VersionLock {
  if (v === null || v === undefined) return {}
  if (!isRecord(v) || v.v !== 1) throw new Error(`${what}: lock is not a version 1 lock`)
  const out: VersionLock = {}
  const r = v.retention
  if (r !== undefined) {
    if (!isRecord(r) || !isLockMode(r.mode) || typeof r.until !== 'number')
      throw new Error(`${what}: lock.retention is malformed`)
    out.retention = { mode: r.mode, until: new Date(r.until) }
  }
  if (v.legalHold === true) out.legalHold = true
  return out
}

// FORMAT: buckets.object_lock JSON — { v: 1, defaultRetention?: { mode, days?, years? } }
export function encodeBucketLock(c: BucketLock): unknown {
  return c.defaultRetention ? { v: 1, defaultRetention: { ...c.defaultRetention } } : { v: 1 }
}

export function decodeBucketLock(v: unknown, what: string): BucketLock | undefined {
  if (v === null || v === undefined) return undefined
  if (!isRecord(v) || v.v !== 1) throw new Error(`${what}: object_lock is not a version 1 configuration`)
  const d = v.defaultRetention
  if (d === undefined) return {}
  if (!isRecord(d) || !isLockMode(d.mode)) throw new Error(`${what}: object_lock.defaultRetention is malformed`)
  const out: DefaultRetention = { mode: d.mode }
  if (typeof d.days === 'number') out.days = d.days
  if (typeof d.years === 'number') out.years = d.years
  return { defaultRetention: out }
}

const DAY_MS = 86_400_000

/** The retention a new version gets: its own if it asks for one, else the bucket's default. */
export function retentionForNewVersion(
  bucket: BucketLock,
  asked: Retention | undefined,
  now: Date,
): Retention | undefined {
  if (asked) return asked
  const d = bucket.defaultRetention
  if (!d) return undefined
  if (d.days !== undefined) return { mode: d.mode, until: new Date(now.getTime() + d.days * DAY_MS) }
  if (d.years !== undefined) {
    const until = new Date(now)
    until.setUTCFullYear(until.getUTCFullYear() + d.years)
    return { mode: d.mode, until }
  }
  return undefined
}

/** Why a change is refused; undefined when it is allowed. */
export type LockRefusal = 'legal-hold' | 'compliance' | 'governance'

const active = (r: Retention | undefined, now: Date): r is Retention => r !== undefined && r.until > now

/**
 * Deleting a version for good (DELETE with a versionId): a legal hold refuses it whoever asks;
 * COMPLIANCE retention refuses it until it passes, the root user included; GOVERNANCE retention
 * refuses it unless `bypass` (x-amz-bypass-governance-retention by a user allowed to).
 */
export function deleteRefusal(lock: VersionLock, now: Date, bypass: boolean): LockRefusal | undefined {
  if (lock.legalHold) return 'legal-hold'
  if (!active(lock.retention, now)) return undefined
  if (lock.retention.mode === 'COMPLIANCE') return 'compliance'
  return bypass ? undefined : 'governance'
}

/**
 * Replacing a version's retention (PutObjectRetention): anything while none is in force; while
 * one is, keeping or strengthening it (same mode or COMPLIANCE, a date no earlier) is always
 * allowed; weakening it (earlier date, removal, COMPLIANCE → GOVERNANCE) never for COMPLIANCE and
 * only with `bypass` for GOVERNANCE.
 */
export function retentionChangeRefusal(
  current: Retention | undefined,
  next: Retention | undefined,
  now: Date,
  bypass: boolean,
): LockRefusal | undefined {
  if (!active(current, now)) return undefined
  const stronger =
    next !== undefined &&
    next.until.getTime() >= current.until.getTime() &&
    (next.mode === current.mode || next.mode === 'COMPLIANCE')
  if (stronger) return undefined
  if (current.mode === 'COMPLIANCE') return 'compliance'
  return bypass ? undefined : 'governance'
}

/**
 * Who may bypass GOVERNANCE retention: the root user for now. One place, so that an access-policy
 * permission (s3:BypassGovernanceRetention) can decide it once policies exist.
 */
export function mayBypassGovernance(actor: { isRoot: boolean }): boolean {
  return actor.isRoot
}
