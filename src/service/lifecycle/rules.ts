/**
 * Bucket lifecycle rules, pure: the configuration's shape and AWS's validation of it, which rule
 * matches which version, and when an action falls due. No I/O, no clock: callers pass `now` and
 * the length of a day (86,400 s; COFFER_LIFECYCLE_DAY_SECONDS shrinks it for tests and demos).
 */
import { ServiceError } from '../errors.ts'
import type { Tag } from '../tags.ts'

export interface LifecycleFilter {
  prefix: string
  tags: Tag[]
  /** Bytes: the version must be larger than this. */
  sizeGreaterThan?: number
  /** Bytes: the version must be smaller than this. */
  sizeLessThan?: number
}

export interface LifecycleRule {
  id: string
  enabled: boolean
  filter: LifecycleFilter
  /** The rule named its prefix in the legacy top-level `<Prefix>` (echoed back that way). */
  legacyPrefix?: boolean
  /** The rule had an `<And>` in its filter (echoed back that way). */
  and?: boolean
  expiration?: { days?: number; date?: number; expiredObjectDeleteMarker?: boolean }
  noncurrentExpiration?: { noncurrentDays: number; newerNoncurrentVersions?: number }
  /** AbortIncompleteMultipartUpload: DaysAfterInitiation. */
  abortAfterDays?: number
}

/** FORMAT: buckets.lifecycle (docs/formats.md §4). */
export interface LifecycleConfig {
  v: 1
  rules: LifecycleRule[]
}

export const MAX_RULES = 1000
export const MAX_RULE_ID = 255
export const DAY_MS = 86_400_000

const invalid = (message: string) => new ServiceError('InvalidArgument', message)
const positive = (n: number | undefined) => n === undefined || (Number.isSafeInteger(n) && n > 0)

/** AWS's checks of a PutBucketLifecycleConfiguration; returns the configuration to store. */
export function checkLifecycle(rules: readonly LifecycleRule[], newId: () => string): LifecycleConfig {
  if (rules.length === 0 || rules.length > MAX_RULES) throw new ServiceError('MalformedXML')
  const ids = new Set<string>()
  const out = rules.map((r) => {
    const id = r.id === '' ? newId() : r.id
    if ([...id].length > MAX_RULE_ID) throw invalid(`ID length should not exceed allowed limit of ${MAX_RULE_ID}`)
    if (ids.has(id)) throw invalid('Rule ID must be unique. Found same ID for more than one rule')
    ids.add(id)
    const e = r.expiration
    const n = r.noncurrentExpiration
    if (!e && !n && r.abortAfterDays === undefined)
      throw new ServiceError('InvalidRequest', 'At least one action needs to be specified in a rule')
    if (e) {
      const given = [e.days !== undefined, e.date !== undefined, e.expiredObjectDeleteMarker !== undefined]
      if (given.filter(Boolean).length !== 1) throw new ServiceError('MalformedXML')
      if (!positive(e.days)) throw invalid("'Days' for Expiration action must be a positive integer")
      if (e.date !== undefined && e.date % DAY_MS !== 0) throw invalid("'Date' must be at midnight GMT")
      if (e.expiredObjectDeleteMarker && r.filter.tags.length > 0)
        throw invalid('ExpiredObjectDeleteMarker cannot be specified with tags.')
    }
    if (n) {
      if (!positive(n.noncurrentDays))
        throw invalid("'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer")
      const newer = n.newerNoncurrentVersions
      if (newer !== undefined && !(Number.isSafeInteger(newer) && newer >= 1 && newer <= 100))
        throw invalid("'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be between 1 and 100")
    }
    if (r.abortAfterDays !== undefined) {
      if (!positive(r.abortAfterDays))
        throw invalid("'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer")
      if (r.filter.tags.length > 0 || r.filter.sizeGreaterThan !== undefined || r.filter.sizeLessThan !== undefined)
        throw invalid('AbortIncompleteMultipartUpload cannot be specified with tags or object size filters.')
    }
    const { sizeGreaterThan: gt, sizeLessThan: lt } = r.filter
    if ((gt !== undefined && !(gt >= 0)) || (lt !== undefined && !(lt > 0)))
      throw invalid('Object size filters must be non-negative integers')
    if (gt !== undefined && lt !== undefined && gt >= lt)
      throw invalid('ObjectSizeGreaterThan must be less than ObjectSizeLessThan')
    const keys = r.filter.tags.map((t) => t.key)
    if (new Set(keys).size !== keys.length) throw invalid('Duplicate Tag Keys are not allowed.')
    return { ...r, id }
  })
  return { v: 1, rules: out }
}

/** Reads back what checkLifecycle stored; undefined for null. */
export function decodeLifecycle(v: unknown): LifecycleConfig | undefined {
  if (v === null || v === undefined) return undefined
  const c = v as LifecycleConfig
  if (c.v !== 1 || !Array.isArray(c.rules)) throw new Error('buckets.lifecycle: not a lifecycle configuration')
  return c
}

/** What a rule's filter looks at. */
export interface Candidate {
  key: string
  size: number
  tags: readonly Tag[]
}

export function ruleMatches(rule: LifecycleRule, o: Candidate): boolean {
  const f = rule.filter
  if (!rule.enabled || !o.key.startsWith(f.prefix)) return false
  if (f.sizeGreaterThan !== undefined && !(o.size > f.sizeGreaterThan)) return false
  if (f.sizeLessThan !== undefined && !(o.size < f.sizeLessThan)) return false
  return f.tags.every((t) => o.tags.some((x) => x.key === t.key && x.value === t.value))
}

/**
 * `days` after `from`: with real days, AWS rounds up to the next midnight UTC; with a shrunken
 * day (tests, demos) the plain sum, so a rule acts within seconds.
 */
export function afterDays(from: number, days: number, dayMs: number): number {
  const t = from + days * dayMs
  return dayMs === DAY_MS ? Math.ceil(t / DAY_MS) * DAY_MS : t
}

/** When the current version `o` (last modified at `modified`) expires under `rule`; undefined: never. */
export function expiryOf(rule: LifecycleRule, modified: number, dayMs: number): number | undefined {
  const e = rule.expiration
  if (e?.days !== undefined) return afterDays(modified, e.days, dayMs)
  return e?.date
}

/** The earliest expiry of a current version among the rules (x-amz-expiration), with its rule. */
export function objectExpiry(
  rules: readonly LifecycleRule[],
  o: Candidate & { modified: number },
  dayMs: number,
): { at: number; ruleId: string } | undefined {
  let best: { at: number; ruleId: string } | undefined
  for (const r of rules) {
    if (!ruleMatches(r, o)) continue
    const at = expiryOf(r, o.modified, dayMs)
    if (at !== undefined && (!best || at < best.at)) best = { at, ruleId: r.id }
  }
  return best
}
