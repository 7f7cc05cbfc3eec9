/**
 * SSE-KMS names, pure: key ARNs (`arn:aws:kms:<region>:<namespace>:key/<uuid>`, the namespace
 * standing for the AWS account as in IAM ARNs), aliases (`alias/NAME`), how a request names a
 * key, and the encryption context (base64 of a JSON string→string map) in canonical form.
 */
import { fromBase64 } from '../util/bytes.ts'

/** The alias of the namespace's managed default key, as AWS names its own for S3. */
export const DEFAULT_KEY_ALIAS = 'alias/aws/s3'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
/** AWS: alias/ then 1–250 of letters, digits, / _ -. */
const ALIAS = /^alias\/[A-Za-z0-9/_-]{1,250}$/
const ARN = /^arn:aws:kms:([a-z0-9-]{1,64}):([^:]{1,256}):(key\/[^:]+|alias\/[^:]+)$/

export const kmsKeyArn = (region: string, namespace: string, id: string): string =>
  `arn:aws:kms:${region}:${namespace}:key/${id}`

/** How a request (or the operator) names a KMS key. */
export type KmsKeyRef =
  | { kind: 'id'; id: string; region?: string; account?: string }
  | { kind: 'alias'; alias: string; region?: string; account?: string }

/** A key id, `alias/NAME`, or either as an ARN; undefined when it is none of them. */
export function parseKmsKeyRef(text: string): KmsKeyRef | undefined {
  const m = ARN.exec(text)
  const [region, account, rest] = m ? [m[1], m[2], m[3]!] : [undefined, undefined, text]
  const where = m ? { region, account } : {}
  if (rest.startsWith('key/') && m) {
    const id = rest.slice(4)
    return UUID.test(id) ? { kind: 'id', id, ...where } : undefined
  }
  if (UUID.test(rest)) return { kind: 'id', id: rest, ...where }
  if (ALIAS.test(rest)) return { kind: 'alias', alias: rest, ...where }
  return undefined
}

/** A name the operator may give a new key: NAME or alias/NAME; alias/aws/ is AWS's (and the default key's). */
export function aliasForNewKey(name: string): string | undefined {
  const alias = name.startsWith('alias/') ? name : `alias/${name}`
  if (!ALIAS.test(alias) || alias.startsWith('alias/aws/')) return undefined
  return alias
}

/** Decoded context larger than this is refused (AWS bounds the whole header set to 8 KiB). */
export const MAX_CONTEXT_BYTES = 4096

export class EncryptionContextError extends Error {
  override readonly name = 'EncryptionContextError'
}

/**
 * `x-amz-server-side-encryption-context`: base64 of UTF-8 JSON, an object of strings. Returns its
 * canonical form (keys sorted, JSON.stringify), which the object key is bound to: the same
 * context written in another order or spacing is the same context.
 */
export function canonicalEncryptionContext(base64: string): string {
  const raw = /^[A-Za-z0-9+/]*={0,2}$/.test(base64) ? fromBase64(base64) : undefined
  if (!raw || raw.length === 0) throw new EncryptionContextError('not base64')
  if (raw.length > MAX_CONTEXT_BYTES) throw new EncryptionContextError('too long')
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw))
  } catch {
    throw new EncryptionContextError('not UTF-8 JSON')
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new EncryptionContextError('not a JSON object')
  const entries = Object.entries(value as Record<string, unknown>)
  for (const [k, v] of entries) {
    if (typeof v !== 'string' || k === '') throw new EncryptionContextError('values must be strings')
  }
  return JSON.stringify(Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
}
