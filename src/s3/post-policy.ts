/**
 * POST Object policies (browser-based uploads): the base64 JSON policy document, its conditions
 * checked against the form fields as S3 does, and the signature over it — SigV4
 * (`x-amz-signature`: hex HMAC-SHA256 under the scope's signing key) or SigV2 (`signature`: base64
 * HMAC-SHA1 under the secret). Pure apart from the HMACs (Platform and WebCrypto).
 */
import { S3Error } from './errors.ts'
import { fromBase64, fromUtf8, timingSafeEqual } from '../util/bytes.ts'
import type { Platform } from '../util/platform.ts'
import { ALGORITHM, parseAmzDate, parseCredential } from './auth/header-auth.ts'
import { deriveSigningKey, SERVICE, signHex } from './auth/sigv4.ts'
import { signV2 } from './auth/sigv2.ts'

export type PolicyCondition =
  | { op: 'eq' | 'starts-with'; field: string; value: string }
  | { op: 'content-length-range'; min: number; max: number }

export interface PostPolicy {
  expiration: Date
  conditions: PolicyCondition[]
}

const invalid = (why: string) => new S3Error('InvalidPolicyDocument', `Invalid Policy: ${why}`)
const denied = (why: string) => new S3Error('AccessDenied', `Invalid according to Policy: ${why}`)

/** Decodes and checks the shape of a policy document (InvalidPolicyDocument when it is not one). */
export function parsePolicy(b64: string): PostPolicy {
  const bytes = fromBase64(b64.replace(/\s+/g, ''))
  if (!bytes) throw invalid('Invalid Base64 encoding.')
  let doc: unknown
  try {
    doc = JSON.parse(fromUtf8(bytes))
  } catch {
    throw invalid('Invalid JSON.')
  }
  if (typeof doc !== 'object' || doc === null) throw invalid('Invalid JSON.')
  const { expiration, conditions } = doc as { expiration?: unknown; conditions?: unknown }
  if (typeof expiration !== 'string') throw invalid('Policy missing expiration.')
  const when = new Date(expiration)
  if (Number.isNaN(when.getTime())) throw invalid(`Invalid 'expiration' value: '${expiration}'`)
  if (!Array.isArray(conditions)) throw invalid('Policy missing conditions.')
  return { expiration: when, conditions: conditions.map(parseCondition) }
}

const fieldName = (raw: string) => (raw.startsWith('$') ? raw.slice(1) : raw).toLowerCase()

function parseCondition(c: unknown): PolicyCondition {
  if (Array.isArray(c)) {
    const [op, a, b] = c as unknown[]
    if (c.length !== 3 || typeof op !== 'string') throw invalid(`Invalid condition: ${JSON.stringify(c)}`)
    const name = op.toLowerCase()
    if (name === 'content-length-range') {
      const min = Number(a)
      const max = Number(b)
      if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 0 || max < min) {
        throw invalid(`Invalid content-length-range: ${JSON.stringify(c)}`)
      }
      return { op: 'content-length-range', min, max }
    }
    if ((name === 'eq' || name === 'starts-with') && typeof a === 'string' && typeof b === 'string') {
      if (!a.startsWith('$')) throw invalid(`Invalid condition field: ${a}`)
      return { op: name, field: fieldName(a), value: b }
    }
    throw invalid(`Invalid condition: ${JSON.stringify(c)}`)
  }
  if (typeof c === 'object' && c !== null) {
    const entries = Object.entries(c)
    if (entries.length === 1 && typeof entries[0]![1] === 'string') {
      return { op: 'eq', field: fieldName(entries[0]![0]), value: entries[0]![1] }
    }
  }
  throw invalid(`Invalid condition: ${JSON.stringify(c)}`)
}

/**
 * Fields no condition has to name (S3: the signature, the file, the policy, `x-ignore-*`); `bucket`
 * comes from the URL and is checked only when a condition names it.
 */
const UNCHECKED = new Set(['policy', 'file', 'x-amz-signature', 'signature', 'awsaccesskeyid', 'bucket'])

/**
 * Checks the policy against the form (field names lower-cased; `bucket` set from the URL): not
 * expired, every condition holds, every field is covered by a condition. Returns the allowed file
 * size range (content-length-range), checked on the file as it streams.
 */
export function checkPolicy(
  policy: PostPolicy,
  fields: ReadonlyMap<string, string>,
  now: Date,
): { min: number; max: number } {
  if (now.getTime() > policy.expiration.getTime()) throw denied('Policy expired.')
  let range = { min: 0, max: Number.MAX_SAFE_INTEGER }
  const covered = new Set<string>()
  for (const c of policy.conditions) {
    if (c.op === 'content-length-range') {
      range = { min: c.min, max: c.max }
      continue
    }
    covered.add(c.field)
    const value = fields.get(c.field) ?? ''
    const holds = c.op === 'eq' ? value === c.value : value.startsWith(c.value)
    if (!holds) throw denied(`Policy Condition failed: ["${c.op}", "$${c.field}", "${c.value}"]`)
  }
  for (const name of fields.keys()) {
    if (UNCHECKED.has(name) || name.startsWith('x-ignore-') || covered.has(name)) continue
    throw denied(`Extra input fields: ${name}`)
  }
  return range
}

export interface PostSignature {
  accessKeyId: string
  signatureVersion: 2 | 4
}

/**
 * Which key signed the policy, verified; `lookupSecret` resolves it. SigV4 needs
 * x-amz-algorithm/credential/date/signature (MissingFields otherwise), SigV2 AWSAccessKeyId and
 * signature (only when `sigv2`).
 */
export async function verifyPostSignature(
  fields: ReadonlyMap<string, string>,
  policyB64: string,
  opts: {
    region: string
    platform: Platform
    sigv2: boolean
    lookupSecret: (accessKeyId: string) => Promise<string | undefined>
  },
): Promise<PostSignature> {
  const v4 = fields.get('x-amz-signature')
  if (v4 !== undefined) {
    const algorithm = fields.get('x-amz-algorithm')
    const credential = fields.get('x-amz-credential')
    const date = fields.get('x-amz-date')
    if (algorithm === undefined || credential === undefined || date === undefined) {
      throw new S3Error('MissingFields', 'Missing fields in request: x-amz-algorithm, x-amz-credential and x-amz-date.')
    }
    if (algorithm !== ALGORITHM) throw new S3Error('InvalidArgument', `x-amz-algorithm only supports "${ALGORITHM}"`)
    const prefix = 'Error parsing the X-Amz-Credential field'
    const cred = parseCredential(credential, 'InvalidArgument', prefix)
    if (cred.region !== opts.region) {
      throw new S3Error(
        'AuthorizationQueryParametersError',
        `${prefix}; the region '${cred.region}' is wrong; expecting '${opts.region}'`,
      )
    }
    if (cred.service !== SERVICE || parseAmzDate(date)?.toISOString().slice(0, 10).replace(/-/g, '') !== cred.date) {
      throw new S3Error('InvalidArgument', `${prefix}; the credential scope does not match x-amz-date.`)
    }
    const secret = await opts.lookupSecret(cred.accessKeyId)
    if (secret === undefined) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: cred.accessKeyId })
    const key = deriveSigningKey(opts.platform, secret, cred.date, cred.region, cred.service)
    if (!timingSafeEqual(signHex(opts.platform, key, policyB64), v4.toLowerCase())) {
      throw new S3Error('SignatureDoesNotMatch', undefined, {
        AWSAccessKeyId: cred.accessKeyId,
        StringToSign: policyB64,
      })
    }
    return { accessKeyId: cred.accessKeyId, signatureVersion: 4 }
  }
  const v2 = fields.get('signature')
  const accessKeyId = fields.get('awsaccesskeyid')
  if (v2 !== undefined || accessKeyId !== undefined) {
    if (!opts.sigv2) {
      throw new S3Error(
        'InvalidRequest',
        'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
      )
    }
    if (v2 === undefined || accessKeyId === undefined) {
      throw new S3Error('MissingFields', 'Missing fields in request: AWSAccessKeyId and signature.')
    }
    const secret = await opts.lookupSecret(accessKeyId)
    if (secret === undefined) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId })
    if (!timingSafeEqual(await signV2(secret, policyB64), v2)) {
      throw new S3Error('SignatureDoesNotMatch', undefined, { AWSAccessKeyId: accessKeyId, StringToSign: policyB64 })
    }
    return { accessKeyId, signatureVersion: 2 }
  }
  throw new S3Error(
    'AccessDenied',
    'Bucket POST must contain a signature: x-amz-signature (or signature with AWSAccessKeyId).',
  )
}

/** Counts the file's bytes against content-length-range: EntityTooLarge as soon as it is over. */
export function sizeBounds(range: { min: number; max: number }): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0
  return new TransformStream({
    transform(chunk, out) {
      seen += chunk.byteLength
      if (seen > range.max) {
        throw new S3Error('EntityTooLarge', undefined, {
          ProposedSize: String(seen),
          MaxSizeAllowed: String(range.max),
        })
      }
      out.enqueue(chunk)
    },
    flush() {
      if (seen < range.min) {
        throw new S3Error('EntityTooSmall', undefined, {
          ProposedSize: String(seen),
          MinSizeAllowed: String(range.min),
        })
      }
    },
  })
}
