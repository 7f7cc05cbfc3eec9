/**
 * The IAM policy language: a JSON document parsed and validated into statements the evaluator
 * runs (evaluate.ts). Validation follows what AWS refuses with MalformedPolicy, with a reason.
 * Two kinds: identity policies (a user's: no Principal) and resource policies (a bucket's:
 * Principal or NotPrincipal required, resources inside the bucket).
 */
import { isConditionOperator, isKnownConditionKey, parseOperator, type ParsedOperator } from './conditions.ts'
import { parseCidr } from './ip.ts'
import { KNOWN_S3_ACTIONS } from './s3-actions.ts'
import { hasWildcard, wildcardMatch } from './wildcard.ts'

export type PolicyKind = 'identity' | 'resource'

/** Refused policy text: the reason goes into MalformedPolicy's message. */
export class PolicyError extends Error {
  override name = 'PolicyError'
}

/** Who a statement names. `any` is "*" (everyone, anonymous included). */
export interface PrincipalSet {
  any: boolean
  /** ARNs (`arn:aws:iam::<account>:user/<name>`, `…:root`) and bare account ids. */
  aws: string[]
  canonical: string[]
  /** Service and Federated principals: accepted, never match a Coffer caller. */
  other: string[]
}

export interface Condition {
  op: ParsedOperator
  /** The key as written (case kept: tag keys are case-sensitive); looked up case-insensitively. */
  key: string
  values: string[]
}

export interface Statement {
  sid?: string
  effect: 'Allow' | 'Deny'
  principal?: PrincipalSet
  notPrincipal?: PrincipalSet
  action?: string[]
  notAction?: string[]
  resource?: string[]
  notResource?: string[]
  conditions: Condition[]
}

export interface Policy {
  /** 2012-10-17 substitutes policy variables (${aws:username}); 2008-10-17 (the default) does not. */
  version: '2012-10-17' | '2008-10-17'
  id?: string
  statements: Statement[]
}

/** AWS's limit for a bucket policy; user policies share it. */
export const MAX_POLICY_BYTES = 20 * 1024

export interface ParseOptions {
  kind: PolicyKind
  /** Resource policies: the bucket every Resource must fall in. */
  bucket?: string
}

const TOP_FIELDS = new Set(['Version', 'Id', 'Statement'])
const STATEMENT_FIELDS = new Set([
  'Sid',
  'Effect',
  'Principal',
  'NotPrincipal',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
])

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A string or a non-empty array of strings, as IAM allows for most elements. */
function strings(v: unknown, what: string): string[] {
  const list = Array.isArray(v) ? v : [v]
  if (list.length === 0) throw new PolicyError(`${what} must not be empty`)
  for (const s of list)
    if (typeof s !== 'string' || s === '') throw new PolicyError(`${what} must be a string or a list of strings`)
  return list as string[]
}

export function parsePolicy(text: string, options: ParseOptions): Policy {
  if (new TextEncoder().encode(text).length > MAX_POLICY_BYTES)
    throw new PolicyError(`Policies must be at most ${MAX_POLICY_BYTES} bytes`)
  if (!text.trimStart().startsWith('{'))
    throw new PolicyError("Policies must be valid JSON and the first byte must be '{'")
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    throw new PolicyError('Policies must be valid JSON')
  }
  return parsePolicyValue(doc, options)
}

export function parsePolicyValue(doc: unknown, options: ParseOptions): Policy {
  if (!isObject(doc)) throw new PolicyError("Policies must be valid JSON and the first byte must be '{'")
  for (const k of Object.keys(doc)) if (!TOP_FIELDS.has(k)) throw new PolicyError(`Unknown field ${k}`)
  const version = doc.Version ?? '2008-10-17'
  if (version !== '2012-10-17' && version !== '2008-10-17')
    throw new PolicyError('The policy must contain a valid version string')
  if (doc.Id !== undefined && typeof doc.Id !== 'string') throw new PolicyError('Id must be a string')
  if (doc.Statement === undefined) throw new PolicyError('Missing required field Statement')
  const raw = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]
  if (raw.length === 0) throw new PolicyError('Statement must not be empty')
  const sids = new Set<string>()
  const statements = raw.map((s) => {
    const st = parseStatement(s, options)
    if (st.sid !== undefined) {
      if (sids.has(st.sid)) throw new PolicyError(`Statement IDs (SID) must be unique: ${st.sid}`)
      sids.add(st.sid)
    }
    return st
  })
  return { version, id: doc.Id, statements }
}

function parseStatement(s: unknown, options: ParseOptions): Statement {
  if (!isObject(s)) throw new PolicyError('Each Statement must be an object')
  for (const k of Object.keys(s)) if (!STATEMENT_FIELDS.has(k)) throw new PolicyError(`Unknown field ${k}`)
  if (s.Sid !== undefined && (typeof s.Sid !== 'string' || !/^[A-Za-z0-9 _.-]*$/.test(s.Sid)))
    throw new PolicyError('Statement IDs (SID) must be alphanumeric')
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new PolicyError('Effect must be Allow or Deny')
  const st: Statement = { sid: s.Sid as string | undefined, effect: s.Effect, conditions: [] }

  if (s.Principal !== undefined && s.NotPrincipal !== undefined)
    throw new PolicyError('A statement has either Principal or NotPrincipal, not both')
  if (options.kind === 'identity') {
    if (s.Principal !== undefined || s.NotPrincipal !== undefined)
      throw new PolicyError('Policy document should not specify a principal')
  } else {
    if (s.Principal === undefined && s.NotPrincipal === undefined)
      throw new PolicyError('Missing required field Principal')
    if (s.Principal !== undefined) st.principal = parsePrincipal(s.Principal)
    if (s.NotPrincipal !== undefined) st.notPrincipal = parsePrincipal(s.NotPrincipal)
  }

  if ((s.Action === undefined) === (s.NotAction === undefined))
    throw new PolicyError('A statement has exactly one of Action and NotAction')
  if (s.Action !== undefined) st.action = parseActions(s.Action, options)
  else st.notAction = parseActions(s.NotAction, options)

  if ((s.Resource === undefined) === (s.NotResource === undefined))
    throw new PolicyError('A statement has exactly one of Resource and NotResource')
  if (s.Resource !== undefined) st.resource = parseResources(s.Resource, options)
  else st.notResource = parseResources(s.NotResource, options)

  if (s.Condition !== undefined) st.conditions = parseConditions(s.Condition)
  return st
}

function parsePrincipal(v: unknown): PrincipalSet {
  const set: PrincipalSet = { any: false, aws: [], canonical: [], other: [] }
  if (v === '*') return { ...set, any: true }
  if (!isObject(v)) throw new PolicyError('Invalid principal in policy')
  for (const [kind, value] of Object.entries(v)) {
    const list = strings(value, 'Principal')
    if (kind === 'AWS') {
      for (const p of list) {
        if (p === '*') set.any = true
        else if (
          /^arn:aws:iam::[a-z0-9][a-z0-9-]{0,62}:(root|user\/[A-Za-z0-9._@+=-]{1,64})$/.test(p) ||
          /^[a-z0-9][a-z0-9-]{0,62}$/.test(p)
        )
          set.aws.push(p)
        else throw new PolicyError('Invalid principal in policy')
      }
    } else if (kind === 'CanonicalUser') {
      for (const p of list) {
        if (!/^[0-9a-f]{64}$/.test(p)) throw new PolicyError('Invalid principal in policy')
        set.canonical.push(p)
      }
    } else if (kind === 'Service' || kind === 'Federated') set.other.push(...list)
    else throw new PolicyError('Invalid principal in policy')
  }
  return set
}

function parseActions(v: unknown, options: ParseOptions): string[] {
  const list = strings(v, 'Action')
  for (const a of list) {
    if (a === '*') continue
    const m = /^([A-Za-z0-9-]+):([A-Za-z0-9*?]+)$/.exec(a)
    if (!m) throw new PolicyError('Policy has invalid action')
    if (m[1]!.toLowerCase() !== 's3') {
      // A user policy may name other services' actions (they never match); a bucket policy may not.
      if (options.kind === 'resource') throw new PolicyError('Policy has invalid action')
      continue
    }
    if (!KNOWN_S3_ACTIONS.some((known) => wildcardMatch(a, known, true)))
      throw new PolicyError('Policy has invalid action')
  }
  return list
}

function parseResources(v: unknown, options: ParseOptions): string[] {
  const list = strings(v, 'Resource')
  for (const r of list) {
    if (r === '*') continue
    if (options.kind === 'resource') {
      // Every resource of a bucket policy is the bucket or an object in it (wildcards allowed).
      const inBucket =
        options.bucket !== undefined &&
        r.startsWith('arn:aws:s3:::') &&
        wildcardMatchesBucket(r.slice('arn:aws:s3:::'.length), options.bucket)
      if (!inBucket) throw new PolicyError('Policy has invalid resource')
    } else if (!/^arn:[^:]*:[^:]*:[^:]*:[^:]*:.+$/.test(r)) throw new PolicyError('Policy has invalid resource')
  }
  return list
}

/** The bucket part of `bucket/key-pattern` (or of a bare bucket pattern) can name `bucket`. */
function wildcardMatchesBucket(rest: string, bucket: string): boolean {
  const slash = rest.indexOf('/')
  const head = slash < 0 ? rest : rest.slice(0, slash)
  if (head.includes('*')) return true
  return wildcardMatch(head, bucket)
}

function parseConditions(v: unknown): Condition[] {
  if (!isObject(v)) throw new PolicyError('Condition must be an object')
  const out: Condition[] = []
  for (const [name, block] of Object.entries(v)) {
    if (!isConditionOperator(name)) throw new PolicyError(`Invalid Condition type : ${name}`)
    const op = parseOperator(name)
    if (!isObject(block)) throw new PolicyError(`Condition ${name} must map keys to values`)
    for (const [key, raw] of Object.entries(block)) {
      if (!isKnownConditionKey(key)) throw new PolicyError(`Policy has an invalid condition key: ${key}`)
      const list = Array.isArray(raw) ? raw : [raw]
      const values = list.map((x) => {
        if (typeof x === 'string') return x
        if (typeof x === 'boolean' || typeof x === 'number') return String(x)
        throw new PolicyError(`Condition ${name} ${key}: values are strings, numbers or booleans`)
      })
      checkValues(op, key, values)
      out.push({ op, key, values })
    }
  }
  return out
}

/** Values that can never be compared are refused on write, not silently never matched. */
function checkValues(op: ParsedOperator, key: string, values: string[]): void {
  const bad = (what: string) => new PolicyError(`Condition ${op.name} ${key}: ${what}`)
  for (const v of values) {
    if (hasVariable(v)) continue
    switch (op.base) {
      case 'Numeric':
        if (!/^-?\d+(\.\d+)?$/.test(v.trim())) throw bad(`"${v}" is not a number`)
        break
      case 'Date':
        if (Number.isNaN(parseDate(v))) throw bad(`"${v}" is not a date`)
        break
      case 'Bool':
      case 'Null':
        if (v.toLowerCase() !== 'true' && v.toLowerCase() !== 'false') throw bad(`"${v}" is not true or false`)
        break
      case 'Ip':
        if (!parseCidr(v)) throw bad(`"${v}" is not an IP address or CIDR block`)
        break
      default:
        break
    }
  }
}

export const hasVariable = (s: string): boolean => s.includes('${')

/** ISO 8601 or seconds since the epoch, as IAM takes dates; NaN when neither. */
export function parseDate(v: string): number {
  if (/^\d+$/.test(v)) return Number(v) * 1000
  if (!/^\d{4}-\d{2}-\d{2}/.test(v)) return Number.NaN
  return Date.parse(v)
}

/** Principals of a statement name a wildcard: "*" or {"AWS": "*"}. */
/**
 * Does any condition of the policy name a key that starts with `prefix` (lower-case)? The
 * service reads what such keys need (an object's tags) only for policies that ask for it.
 */
export const mentionsConditionKey = (policy: Policy, prefix: string): boolean =>
  policy.statements.some((s) => s.conditions.some((c) => c.key.toLowerCase().startsWith(prefix)))

export const principalIsWildcard = (p: PrincipalSet | undefined): boolean => p?.any === true

export { hasWildcard }
