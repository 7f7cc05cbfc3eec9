/**
 * S3's XML request documents, one parser each: a bounded body stream in, plain typed values out.
 * Built on tree.ts; every schema mismatch is S3Error('MalformedXML'). Re-exported by documents.ts.
 */
import { type Acl, AclError, type Grant, granteeFromXml, isAclPermission } from '../../policy/index.ts'
import { S3Error, type S3ErrorCode } from '../errors.ts'
import {
  booleanOf,
  childrenNamed,
  expectElementOnly,
  expectRoot,
  optionalChild,
  parseXml,
  readXmlBody,
  requiredChild,
  textOf,
} from './tree.ts'
import type { XmlElement } from './tree.ts'

/**
 * Body limits in bytes. Tunables, sized from S3's own maxima with room for escaping: a Delete of
 * 1000 keys of 1024 bytes where every byte is written `&amp;` is about 5 MiB; a Complete of
 * 10,000 parts, each with an ETag and a checksum, is about 2.5 MiB (4 with pretty-printing).
 */
export const XML_BODY_LIMITS = {
  createBucket: 64 * 1024,
  completeMultipartUpload: 8 * 1024 * 1024,
  delete: 8 * 1024 * 1024,
  serverSideEncryption: 64 * 1024,
  // 100 rules, each with a few origins, methods and headers: S3 caps the document at 64 KB.
  cors: 64 * 1024,
  // 50 tags of 128 + 256 characters, each up to 4 UTF-8 bytes and escaped: well under 1 MiB.
  tagging: 1024 * 1024,
  // 1,000 rules of a few hundred bytes each.
  lifecycle: 4 * 1024 * 1024,
} as const

export const MAX_PARTS = 10_000
export const MAX_DELETE_OBJECTS = 1000

type Body = ReadableStream<Uint8Array> | null
const malformed = (): S3Error => new S3Error('MalformedXML')

async function readRoot(body: Body, limit: number, rootName: string): Promise<XmlElement> {
  const doc = await readXmlBody(body, limit)
  if (doc === null) throw malformed()
  return expectElementOnly(expectRoot(doc, rootName))
}

/** CreateBucket: an empty body means the default region. An empty LocationConstraint is ''. */
export async function parseCreateBucketConfiguration(
  body: Body,
  limit: number = XML_BODY_LIMITS.createBucket,
): Promise<{ locationConstraint?: string }> {
  const doc = await readXmlBody(body, limit)
  if (doc === null) return {}
  expectElementOnly(expectRoot(doc, 'CreateBucketConfiguration'))
  const lc = optionalChild(doc, 'LocationConstraint')
  return lc === undefined ? {} : { locationConstraint: textOf(lc).trim() }
}

export type PartChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256'
const PART_CHECKSUMS: readonly PartChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256']

export interface CompletedPart {
  partNumber: number
  /** As sent, trimmed; quotes are the caller's to normalise. '' when the client sent none. */
  etag: string
  checksums: Partial<Record<PartChecksumAlgorithm, string>>
}

/**
 * CompleteMultipartUpload. Parts keep the order the client gave; the caller checks that it is
 * ascending (InvalidPartOrder) and that each part exists (InvalidPart). Unknown elements (newer
 * checksum algorithms, say) are ignored so newer SDKs keep working.
 */
export async function parseCompleteMultipartUpload(
  body: Body,
  limit: number = XML_BODY_LIMITS.completeMultipartUpload,
): Promise<{ parts: CompletedPart[] }> {
  const doc = await readRoot(body, limit, 'CompleteMultipartUpload')
  const partEls = childrenNamed(doc, 'Part')
  if (partEls.length === 0 || partEls.length > MAX_PARTS) throw malformed()
  const parts = partEls.map((p): CompletedPart => {
    expectElementOnly(p)
    const num = textOf(requiredChild(p, 'PartNumber')).trim()
    if (!/^\d{1,10}$/.test(num)) throw malformed()
    const partNumber = Number(num)
    if (partNumber < 1 || partNumber > MAX_PARTS) throw malformed()
    const etagEl = optionalChild(p, 'ETag')
    const checksums: CompletedPart['checksums'] = {}
    for (const alg of PART_CHECKSUMS) {
      const c = optionalChild(p, `Checksum${alg}`)
      if (c !== undefined) checksums[alg] = textOf(c).trim()
    }
    return { partNumber, etag: etagEl === undefined ? '' : textOf(etagEl).trim(), checksums }
  })
  return { parts }
}

export interface ObjectToDelete {
  /** Exactly as sent: leading/trailing spaces and decoded entities preserved. */
  key: string
  versionId?: string
}

/** DeleteObjects: 1 to 1000 objects; Quiet defaults to false. */
export async function parseDelete(
  body: Body,
  limit: number = XML_BODY_LIMITS.delete,
): Promise<{ quiet: boolean; objects: ObjectToDelete[] }> {
  const doc = await readRoot(body, limit, 'Delete')
  const quietEl = optionalChild(doc, 'Quiet')
  const objectEls = childrenNamed(doc, 'Object')
  if (objectEls.length === 0 || objectEls.length > MAX_DELETE_OBJECTS) throw malformed()
  const objects = objectEls.map((o): ObjectToDelete => {
    expectElementOnly(o)
    const key = textOf(requiredChild(o, 'Key'))
    const v = optionalChild(o, 'VersionId')
    return v === undefined ? { key } : { key, versionId: textOf(v) }
  })
  return { quiet: quietEl === undefined ? false : booleanOf(quietEl), objects }
}

export interface ServerSideEncryptionRequest {
  algorithm: string
  kmsMasterKeyId?: string
  bucketKeyEnabled?: boolean
}

/** PutBucketEncryption: exactly one Rule with ApplyServerSideEncryptionByDefault/SSEAlgorithm. */
export async function parseServerSideEncryptionConfiguration(
  body: Body,
  limit: number = XML_BODY_LIMITS.serverSideEncryption,
): Promise<ServerSideEncryptionRequest> {
  const doc = await readRoot(body, limit, 'ServerSideEncryptionConfiguration')
  const rules = childrenNamed(doc, 'Rule')
  if (rules.length !== 1) throw malformed()
  const rule = expectElementOnly(rules[0]!)
  const byDefault = expectElementOnly(requiredChild(rule, 'ApplyServerSideEncryptionByDefault'))
  const algorithm = textOf(requiredChild(byDefault, 'SSEAlgorithm')).trim()
  const out: ServerSideEncryptionRequest = { algorithm }
  const kms = optionalChild(byDefault, 'KMSMasterKeyID')
  if (kms !== undefined) out.kmsMasterKeyId = textOf(kms).trim()
  const bke = optionalChild(rule, 'BucketKeyEnabled')
  if (bke !== undefined) out.bucketKeyEnabled = booleanOf(bke)
  return out
}

/** PutBucketVersioning: Status Enabled or Suspended (absent: no change); MfaDelete as sent. */
export async function parseVersioningConfiguration(
  body: Body,
  limit: number = XML_BODY_LIMITS.createBucket,
): Promise<{ status?: 'Enabled' | 'Suspended'; mfaDelete?: string }> {
  const doc = await readRoot(body, limit, 'VersioningConfiguration')
  const out: { status?: 'Enabled' | 'Suspended'; mfaDelete?: string } = {}
  const status = optionalChild(doc, 'Status')
  if (status !== undefined) {
    const s = textOf(status).trim()
    if (s !== 'Enabled' && s !== 'Suspended') throw malformed()
    out.status = s
  }
  const mfa = optionalChild(doc, 'MfaDelete')
  if (mfa !== undefined) {
    const m = textOf(mfa).trim()
    if (m !== 'Enabled' && m !== 'Disabled') throw malformed()
    out.mfaDelete = m
  }
  return out
}

type LockMode = 'GOVERNANCE' | 'COMPLIANCE'
const lockMode = (v: string): LockMode => {
  if (v !== 'GOVERNANCE' && v !== 'COMPLIANCE') throw malformed()
  return v
}

/** A positive whole number of days or years, as S3 takes a default retention period. */
function period(e: XmlElement, name: string): number {
  const t = textOf(e).trim()
  if (!/^-?\d{1,10}$/.test(t)) throw malformed()
  const n = Number(t)
  if (n <= 0)
    throw new S3Error('InvalidArgument', 'Default retention period must be a positive integer value.', {
      ArgumentName: name,
      ArgumentValue: t,
    })
  return n
}

/** PutObjectLockConfiguration: ObjectLockEnabled Enabled, an optional Rule with Days or Years. */
export async function parseObjectLockConfiguration(
  body: Body,
  limit: number = XML_BODY_LIMITS.createBucket,
): Promise<{ defaultRetention?: { mode: LockMode; days?: number; years?: number } }> {
  const doc = await readRoot(body, limit, 'ObjectLockConfiguration')
  const enabled = optionalChild(doc, 'ObjectLockEnabled')
  if (enabled === undefined || textOf(enabled).trim() !== 'Enabled') throw malformed()
  const rule = optionalChild(doc, 'Rule')
  if (rule === undefined) return {}
  const d = expectElementOnly(requiredChild(expectElementOnly(rule), 'DefaultRetention'))
  const mode = lockMode(textOf(requiredChild(d, 'Mode')).trim())
  const days = optionalChild(d, 'Days')
  const years = optionalChild(d, 'Years')
  if ((days === undefined) === (years === undefined)) throw malformed()
  return {
    defaultRetention:
      days !== undefined ? { mode, days: period(days, 'Days') } : { mode, years: period(years!, 'Years') },
  }
}

/** PutObjectRetention: Mode and RetainUntilDate together, or neither (removing the retention). */
export async function parseRetention(
  body: Body,
  limit: number = XML_BODY_LIMITS.createBucket,
): Promise<{ mode: LockMode; until: Date } | undefined> {
  const doc = await readRoot(body, limit, 'Retention')
  const mode = optionalChild(doc, 'Mode')
  const until = optionalChild(doc, 'RetainUntilDate')
  if (mode === undefined && until === undefined) return undefined
  if (mode === undefined || until === undefined) throw malformed()
  const text = textOf(until).trim()
  const date = /^\d{4}-\d{2}-\d{2}T/.test(text) ? new Date(text) : new Date(Number.NaN)
  if (Number.isNaN(date.getTime()))
    throw new S3Error('InvalidArgument', 'The retain until date must be provided in ISO 8601 format', {
      ArgumentName: 'RetainUntilDate',
      ArgumentValue: text,
    })
  return { mode: lockMode(textOf(mode).trim()), until: date }
}

/** PutObjectLegalHold: Status ON or OFF. */
export async function parseLegalHold(body: Body, limit: number = XML_BODY_LIMITS.createBucket): Promise<boolean> {
  const doc = await readRoot(body, limit, 'LegalHold')
  const status = textOf(requiredChild(doc, 'Status')).trim()
  if (status !== 'ON' && status !== 'OFF') throw malformed()
  return status === 'ON'
}

export interface CorsRuleRequest {
  id?: string
  allowedOrigins: string[]
  allowedMethods: string[]
  allowedHeaders: string[]
  exposeHeaders: string[]
  maxAgeSeconds?: number
}

/** PutBucketCors: CORSRule elements in order; values are checked by s3/cors.ts. */
export async function parseCorsConfiguration(
  body: Body,
  limit: number = XML_BODY_LIMITS.cors,
): Promise<CorsRuleRequest[]> {
  const doc = await readRoot(body, limit, 'CORSConfiguration')
  return childrenNamed(doc, 'CORSRule').map((r) => {
    expectElementOnly(r)
    const texts = (name: string) => childrenNamed(r, name).map((e) => textOf(e).trim())
    const rule: CorsRuleRequest = {
      allowedOrigins: texts('AllowedOrigin'),
      allowedMethods: texts('AllowedMethod'),
      allowedHeaders: texts('AllowedHeader'),
      exposeHeaders: texts('ExposeHeader'),
    }
    const id = optionalChild(r, 'ID')
    if (id !== undefined) rule.id = textOf(id)
    const maxAge = optionalChild(r, 'MaxAgeSeconds')
    if (maxAge !== undefined) {
      const text = textOf(maxAge).trim()
      if (!/^\d{1,10}$/.test(text)) throw malformed()
      rule.maxAgeSeconds = Number(text)
    }
    return rule
  })
}

/** PutPublicAccessBlock: the four switches; one left out is false, as on S3. */
export async function parsePublicAccessBlockConfiguration(
  body: Body,
  limit: number = XML_BODY_LIMITS.serverSideEncryption,
): Promise<Record<'BlockPublicAcls' | 'IgnorePublicAcls' | 'BlockPublicPolicy' | 'RestrictPublicBuckets', boolean>> {
  const doc = await readRoot(body, limit, 'PublicAccessBlockConfiguration')
  const flag = (name: string) => {
    const e = optionalChild(doc, name)
    return e === undefined ? false : booleanOf(e)
  }
  return {
    BlockPublicAcls: flag('BlockPublicAcls'),
    IgnorePublicAcls: flag('IgnorePublicAcls'),
    BlockPublicPolicy: flag('BlockPublicPolicy'),
    RestrictPublicBuckets: flag('RestrictPublicBuckets'),
  }
}

/** PutBucketOwnershipControls: exactly one Rule with its ObjectOwnership (checked by the caller). */
export async function parseOwnershipControls(
  body: Body,
  limit: number = XML_BODY_LIMITS.serverSideEncryption,
): Promise<string> {
  const doc = await readRoot(body, limit, 'OwnershipControls')
  const rules = childrenNamed(doc, 'Rule')
  if (rules.length !== 1) throw malformed()
  return textOf(requiredChild(expectElementOnly(rules[0]!), 'ObjectOwnership')).trim()
}

/** One tag as a Tagging document gives it; limits are the service's (tags.ts). */
export interface TagRequest {
  key: string
  value: string
}

/** A `<Tagging><TagSet><Tag><Key/><Value/></Tag>…</TagSet></Tagging>` document, from text. */
export function parseTaggingText(text: string): TagRequest[] {
  return taggingOf(expectElementOnly(expectRoot(parseXml(text), 'Tagging')))
}

/** PutObjectTagging / PutBucketTagging: the tags in document order, values exactly as sent. */
export async function parseTagging(body: Body, limit: number = XML_BODY_LIMITS.tagging): Promise<TagRequest[]> {
  return taggingOf(await readRoot(body, limit, 'Tagging'))
}

function taggingOf(doc: XmlElement): TagRequest[] {
  const set = expectElementOnly(requiredChild(doc, 'TagSet'))
  return childrenNamed(set, 'Tag').map((t) => {
    expectElementOnly(t)
    return { key: textOf(requiredChild(t, 'Key')), value: textOf(requiredChild(t, 'Value')) }
  })
}

/** One lifecycle rule as the document gives it; AWS's semantic checks are the service's. */
export interface LifecycleRuleRequest {
  id: string
  enabled: boolean
  filter: { prefix: string; tags: TagRequest[]; sizeGreaterThan?: number; sizeLessThan?: number }
  legacyPrefix?: boolean
  and?: boolean
  expiration?: { days?: number; date?: number; expiredObjectDeleteMarker?: boolean }
  noncurrentExpiration?: { noncurrentDays: number; newerNoncurrentVersions?: number }
  abortAfterDays?: number
}

/** Thrown for a Transition: Coffer has one storage class. */
export class TransitionRequested extends Error {}

const intOf = (e: XmlElement): number => {
  const t = textOf(e).trim()
  if (!/^-?\d{1,15}$/.test(t)) throw malformed()
  return Number(t)
}

function tagOf(t: XmlElement): TagRequest {
  expectElementOnly(t)
  return { key: textOf(requiredChild(t, 'Key')), value: textOf(requiredChild(t, 'Value')) }
}

/** PutBucketLifecycleConfiguration: the rules in order (structure only; limits are the service's). */
export async function parseLifecycleConfiguration(
  body: Body,
  limit: number = XML_BODY_LIMITS.lifecycle,
): Promise<LifecycleRuleRequest[]> {
  const doc = await readRoot(body, limit, 'LifecycleConfiguration')
  return childrenNamed(doc, 'Rule').map((r) => {
    expectElementOnly(r)
    if (childrenNamed(r, 'Transition').length > 0 || childrenNamed(r, 'NoncurrentVersionTransition').length > 0)
      throw new TransitionRequested()
    const status = textOf(requiredChild(r, 'Status')).trim()
    if (status !== 'Enabled' && status !== 'Disabled') throw malformed()
    const idEl = optionalChild(r, 'ID')
    const rule: LifecycleRuleRequest = {
      id: idEl ? textOf(idEl) : '',
      enabled: status === 'Enabled',
      filter: { prefix: '', tags: [] },
    }
    const filter = optionalChild(r, 'Filter')
    const legacy = optionalChild(r, 'Prefix')
    if (filter && legacy) throw malformed()
    if (legacy) {
      rule.filter.prefix = textOf(legacy)
      rule.legacyPrefix = true
    }
    if (filter) {
      expectElementOnly(filter)
      if (filter.children.length > 1) throw malformed()
      const and = optionalChild(filter, 'And')
      const holder = and ?? filter
      if (and) {
        expectElementOnly(and)
        rule.and = true
      }
      const prefix = optionalChild(holder, 'Prefix')
      if (prefix) rule.filter.prefix = textOf(prefix)
      rule.filter.tags = childrenNamed(holder, 'Tag').map(tagOf)
      if (!and && rule.filter.tags.length > 1) throw malformed()
      const gt = optionalChild(holder, 'ObjectSizeGreaterThan')
      if (gt) rule.filter.sizeGreaterThan = intOf(gt)
      const lt = optionalChild(holder, 'ObjectSizeLessThan')
      if (lt) rule.filter.sizeLessThan = intOf(lt)
    }
    const exp = optionalChild(r, 'Expiration')
    if (exp) {
      expectElementOnly(exp)
      const e: NonNullable<LifecycleRuleRequest['expiration']> = {}
      const days = optionalChild(exp, 'Days')
      if (days) e.days = intOf(days)
      const date = optionalChild(exp, 'Date')
      if (date) {
        const t = textOf(date).trim()
        const ms = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)
          ? Date.parse(t.length === 10 ? `${t}T00:00:00Z` : t)
          : Number.NaN
        if (Number.isNaN(ms)) throw malformed()
        e.date = ms
      }
      const marker = optionalChild(exp, 'ExpiredObjectDeleteMarker')
      if (marker) e.expiredObjectDeleteMarker = booleanOf(marker)
      rule.expiration = e
    }
    const nc = optionalChild(r, 'NoncurrentVersionExpiration')
    if (nc) {
      expectElementOnly(nc)
      const newer = optionalChild(nc, 'NewerNoncurrentVersions')
      rule.noncurrentExpiration = {
        noncurrentDays: intOf(requiredChild(nc, 'NoncurrentDays')),
        ...(newer ? { newerNoncurrentVersions: intOf(newer) } : {}),
      }
    }
    const abort = optionalChild(r, 'AbortIncompleteMultipartUpload')
    if (abort) rule.abortAfterDays = intOf(requiredChild(expectElementOnly(abort), 'DaysAfterInitiation'))
    return rule
  })
}

/**
 * PutBucketAcl / PutObjectAcl body: Owner (optional here; checked by the service against the
 * resource's) and AccessControlList of Grants. The tree keeps no attributes, so a Grantee's kind
 * is told by its element (ID, URI or EmailAddress) rather than by xsi:type. Schema errors are
 * S3's MalformedACLError; an empty body is undefined (the ACL came in headers).
 */
export async function parseAccessControlPolicy(
  body: Body,
  limit: number = XML_BODY_LIMITS.serverSideEncryption,
): Promise<Acl | undefined> {
  const bad = () => new S3Error('MalformedACLError')
  const doc = await readXmlBody(body, limit)
  if (doc === null) return undefined
  if (doc.name !== 'AccessControlPolicy') throw bad()
  const ownerEl = optionalChild(doc, 'Owner')
  const ownerId = ownerEl ? optionalChild(ownerEl, 'ID') : undefined
  const list = optionalChild(doc, 'AccessControlList')
  const grants: Grant[] = []
  for (const g of list ? childrenNamed(list, 'Grant') : []) {
    const who = optionalChild(g, 'Grantee')
    const perm = optionalChild(g, 'Permission')
    if (!who || !perm) throw bad()
    const permission = textOf(perm).trim()
    if (!isAclPermission(permission)) throw bad()
    const text = (name: string) => {
      const e = optionalChild(who, name)
      return e ? textOf(e).trim() : undefined
    }
    const id = text('ID')
    const uri = text('URI')
    const email = text('EmailAddress')
    const type = id !== undefined ? 'CanonicalUser' : uri !== undefined ? 'Group' : 'AmazonCustomerByEmail'
    try {
      grants.push({ grantee: granteeFromXml(type, id, uri, email), permission })
    } catch (e) {
      if (e instanceof AclError) throw new S3Error(e.code as S3ErrorCode, e.message)
      throw e
    }
  }
  return { owner: ownerId ? textOf(ownerId).trim() : '', grants }
}
