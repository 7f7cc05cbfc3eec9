/**
 * Condition operators (String*, Numeric*, Date*, Bool, IpAddress, Arn*, Null, …IfExists,
 * ForAnyValue:/ForAllValues:) and the condition keys Coffer fills in (context.ts of the caller).
 */
import { cidrContains, parseCidr } from './ip.ts'
import { wildcardMatch } from './wildcard.ts'

export type OperatorBase = 'String' | 'Numeric' | 'Date' | 'Bool' | 'Binary' | 'Ip' | 'Arn' | 'Null'

export interface ParsedOperator {
  name: string
  base: OperatorBase
  /** The comparison within the base: Equals, NotEquals, Like, LessThan, … */
  test: string
  negated: boolean
  ifExists: boolean
  set?: 'any' | 'all'
}

/** Operator name (without IfExists / set prefix) → its base and test. */
const OPERATORS: Record<string, { base: OperatorBase; test: string; negated: boolean }> = {
  StringEquals: { base: 'String', test: 'Equals', negated: false },
  StringNotEquals: { base: 'String', test: 'Equals', negated: true },
  StringEqualsIgnoreCase: { base: 'String', test: 'EqualsIgnoreCase', negated: false },
  StringNotEqualsIgnoreCase: { base: 'String', test: 'EqualsIgnoreCase', negated: true },
  StringLike: { base: 'String', test: 'Like', negated: false },
  StringNotLike: { base: 'String', test: 'Like', negated: true },
  NumericEquals: { base: 'Numeric', test: 'Equals', negated: false },
  NumericNotEquals: { base: 'Numeric', test: 'Equals', negated: true },
  NumericLessThan: { base: 'Numeric', test: 'LessThan', negated: false },
  NumericLessThanEquals: { base: 'Numeric', test: 'LessThanEquals', negated: false },
  NumericGreaterThan: { base: 'Numeric', test: 'GreaterThan', negated: false },
  NumericGreaterThanEquals: { base: 'Numeric', test: 'GreaterThanEquals', negated: false },
  DateEquals: { base: 'Date', test: 'Equals', negated: false },
  DateNotEquals: { base: 'Date', test: 'Equals', negated: true },
  DateLessThan: { base: 'Date', test: 'LessThan', negated: false },
  DateLessThanEquals: { base: 'Date', test: 'LessThanEquals', negated: false },
  DateGreaterThan: { base: 'Date', test: 'GreaterThan', negated: false },
  DateGreaterThanEquals: { base: 'Date', test: 'GreaterThanEquals', negated: false },
  Bool: { base: 'Bool', test: 'Equals', negated: false },
  BinaryEquals: { base: 'Binary', test: 'Equals', negated: false },
  IpAddress: { base: 'Ip', test: 'In', negated: false },
  NotIpAddress: { base: 'Ip', test: 'In', negated: true },
  ArnEquals: { base: 'Arn', test: 'Like', negated: false },
  ArnNotEquals: { base: 'Arn', test: 'Like', negated: true },
  ArnLike: { base: 'Arn', test: 'Like', negated: false },
  ArnNotLike: { base: 'Arn', test: 'Like', negated: true },
  Null: { base: 'Null', test: 'Null', negated: false },
}

function split(name: string): { core: string; ifExists: boolean; set?: 'any' | 'all' } {
  let core = name
  let set: 'any' | 'all' | undefined
  if (core.startsWith('ForAnyValue:')) {
    set = 'any'
    core = core.slice('ForAnyValue:'.length)
  } else if (core.startsWith('ForAllValues:')) {
    set = 'all'
    core = core.slice('ForAllValues:'.length)
  }
  const ifExists = core !== 'Null' && core.endsWith('IfExists')
  if (ifExists) core = core.slice(0, -'IfExists'.length)
  return { core, ifExists, set }
}

export function isConditionOperator(name: string): boolean {
  const { core, ifExists } = split(name)
  // Null tests presence itself: NullIfExists means nothing.
  return Object.hasOwn(OPERATORS, core) && !(core === 'Null' && ifExists)
}

export function parseOperator(name: string): ParsedOperator {
  const { core, ifExists, set } = split(name)
  const o = OPERATORS[core]!
  return { name, ...o, ifExists, set }
}

/** Condition keys Coffer fills in; `…/` entries are prefixes of keys that carry a tag key. */
const KNOWN_KEYS = [
  'aws:securetransport',
  'aws:sourceip',
  'aws:currenttime',
  'aws:epochtime',
  'aws:username',
  'aws:userid',
  'aws:principaltype',
  'aws:principalaccount',
  'aws:principalarn',
  'aws:referer',
  'aws:useragent',
  'aws:sourcearn',
  'aws:sourceaccount',
  'aws:sourcevpc',
  'aws:sourcevpce',
  'aws:principalorgid',
  's3:prefix',
  's3:delimiter',
  's3:max-keys',
  's3:x-amz-acl',
  's3:x-amz-grant-read',
  's3:x-amz-grant-write',
  's3:x-amz-grant-read-acp',
  's3:x-amz-grant-write-acp',
  's3:x-amz-grant-full-control',
  's3:x-amz-server-side-encryption',
  's3:x-amz-server-side-encryption-customer-algorithm',
  's3:x-amz-server-side-encryption-aws-kms-key-id',
  's3:x-amz-copy-source',
  's3:x-amz-metadata-directive',
  's3:x-amz-content-sha256',
  's3:x-amz-storage-class',
  's3:versionid',
  's3:locationconstraint',
  's3:object-lock-mode',
  's3:object-lock-retain-until-date',
  's3:object-lock-remaining-retention-days',
  's3:object-lock-legal-hold',
  's3:signatureversion',
  's3:signatureage',
  's3:authtype',
  's3:tlsversion',
  's3:requestobjecttagkeys',
]
const KNOWN_PREFIXES = ['s3:existingobjecttag/', 's3:requestobjecttag/', 'aws:requesttag/', 'aws:resourcetag/']

/** Context keys are case-insensitive, except the tag key after the `/`. */
export function normalizeKey(key: string): string {
  const slash = key.indexOf('/')
  return slash < 0 ? key.toLowerCase() : key.slice(0, slash).toLowerCase() + key.slice(slash)
}

export function isKnownConditionKey(key: string): boolean {
  const k = normalizeKey(key)
  return KNOWN_KEYS.includes(k) || KNOWN_PREFIXES.some((p) => k.startsWith(p) && k.length > p.length)
}

/** The request's facts for conditions, by normalized key; a key absent here is absent. */
export type ContextValues = ReadonlyMap<string, readonly string[]>

const numeric = (s: string) => (/^\s*-?\d+(\.\d+)?\s*$/.test(s) ? Number(s) : Number.NaN)
const date = (s: string) =>
  /^\d+$/.test(s) ? Number(s) * 1000 : /^\d{4}-\d{2}-\d{2}/.test(s) ? Date.parse(s) : Number.NaN

function compareOrdered(test: string, a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return false
  switch (test) {
    case 'Equals':
      return a === b
    case 'LessThan':
      return a < b
    case 'LessThanEquals':
      return a <= b
    case 'GreaterThan':
      return a > b
    case 'GreaterThanEquals':
      return a >= b
    default:
      return false
  }
}

/** One request value against one policy value, before negation. */
function matchValue(op: ParsedOperator, actual: string, expected: string): boolean {
  switch (op.base) {
    case 'String':
      if (op.test === 'Like') return wildcardMatch(expected, actual)
      if (op.test === 'EqualsIgnoreCase') return actual.toLowerCase() === expected.toLowerCase()
      return actual === expected
    case 'Arn':
      return wildcardMatch(expected, actual)
    case 'Numeric':
      return compareOrdered(op.test, numeric(actual), numeric(expected))
    case 'Date':
      return compareOrdered(op.test, date(actual), date(expected))
    case 'Bool':
      return actual.toLowerCase() === expected.toLowerCase()
    case 'Binary':
      return actual === expected
    case 'Ip': {
      const cidr = parseCidr(expected)
      return cidr !== undefined && cidrContains(cidr, actual)
    }
    default:
      return false
  }
}

/**
 * One condition: `values` are the policy's (variables already substituted; an unresolvable one is
 * left out), `actual` the request's for the key (undefined when the key is absent).
 * Several policy values are ORed; a negated operator is true when none matches. A missing key
 * fails a positive operator and passes a negated one; …IfExists passes it; ForAllValues passes
 * an empty set, ForAnyValue fails it.
 */
export function testCondition(
  op: ParsedOperator,
  actual: readonly string[] | undefined,
  values: readonly string[],
): boolean {
  if (op.base === 'Null') {
    const absent = actual === undefined || actual.length === 0
    return values.some((v) => (v.toLowerCase() === 'true') === absent)
  }
  if (actual === undefined || actual.length === 0) {
    if (op.set === 'all') return true
    if (op.set === 'any') return false
    return op.ifExists || op.negated
  }
  const one = (v: string) => {
    const hit = values.some((e) => matchValue(op, v, e))
    return op.negated ? !hit : hit
  }
  if (op.set === 'all') return actual.every(one)
  if (op.set === 'any') return actual.some(one)
  // A single-valued key; a multi-valued one without a set operator matches like ForAnyValue.
  return op.negated ? actual.every(one) : actual.some(one)
}
