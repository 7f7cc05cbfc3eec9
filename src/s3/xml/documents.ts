/**
 * S3's XML response documents, one function each: plain typed values in, exact body text out.
 * Built with write.ts only; request parsers live in read.ts (re-exported here).
 */
import {
  S3_XMLNS,
  el,
  elWithAttrs,
  emptyEl,
  fragment,
  isXmlName,
  isoTimestamp,
  optEl,
  record,
  xmlDocument,
} from './write.ts'
import type { Content, Markup } from './write.ts'

export * from './read.ts'

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256'
export type ChecksumType = 'COMPOSITE' | 'FULL_OBJECT'
export interface Checksum {
  algorithm: ChecksumAlgorithm
  value: string
}
export interface Owner {
  id: string
  displayName?: string
}

const root = (name: string, ...content: Content[]): string =>
  xmlDocument(elWithAttrs(name, { xmlns: S3_XMLNS }, ...content))

const owner = (name: 'Owner' | 'Initiator', o: Owner): Markup =>
  el(name, el('ID', o.id), optEl('DisplayName', o.displayName))

// ChecksumCRC32 etc.: the element name carries the algorithm.
const checksumEl = (c: Checksum | undefined): Markup | null => (c ? el(`Checksum${c.algorithm}`, c.value) : null)

const commonPrefixes = (prefixes: readonly string[]): Markup[] =>
  prefixes.map((p) => el('CommonPrefixes', el('Prefix', p)))

/**
 * encoding-type=url as S3 applies it to keys, prefixes, markers and delimiters in listings:
 * every UTF-8 byte outside A-Z a-z 0-9 - . _ ~ and "/" becomes %XX (a space is %20, a plus %2B;
 * ceph s3-tests pin `quux ab/` → `quux%20ab/` and `foo+1/` → `foo%2B1/` against AWS).
 * The documents below write values as given: the caller encodes when the client asked.
 */
export function urlEncodeListing(value: string): string {
  return encodeURIComponent(value)
    .replace(/%2F/g, '/')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

// ---- errors ----

export interface ErrorDocument {
  code: string
  message: string
  resource?: string
  requestId: string
  hostId?: string
  /** Extra elements S3 adds for some codes (BucketName, Key, ArgumentName, …), in this order. */
  details?: Record<string, string>
}

/** `<Error>`: S3 writes it without a namespace. Detail names that are not XML names are dropped. */
export function errorXml(e: ErrorDocument): string {
  const details = Object.entries(e.details ?? {})
    .filter(([k]) => isXmlName(k) && !['Code', 'Message', 'Resource', 'RequestId', 'HostId'].includes(k))
    .map(([k, v]) => el(k, v))
  return xmlDocument(
    el(
      'Error',
      el('Code', e.code),
      el('Message', e.message),
      details,
      optEl('Resource', e.resource),
      el('RequestId', e.requestId),
      optEl('HostId', e.hostId),
    ),
  )
}

// ---- buckets ----

export interface ListAllMyBucketsInput {
  owner: Owner
  buckets: readonly { name: string; creationDate: Date; region?: string }[]
  continuationToken?: string
  prefix?: string
}

export function listAllMyBucketsXml(i: ListAllMyBucketsInput): string {
  const buckets = i.buckets.map((b) =>
    el('Bucket', el('Name', b.name), el('CreationDate', isoTimestamp(b.creationDate)), optEl('BucketRegion', b.region)),
  )
  return root(
    'ListAllMyBucketsResult',
    owner('Owner', i.owner),
    el('Buckets', buckets),
    optEl('ContinuationToken', i.continuationToken),
    optEl('Prefix', i.prefix),
  )
}

/** GetBucketLocation: us-east-1 is an empty element (S3's historic "US Standard" answer). */
export function locationConstraintXml(region: string): string {
  if (region === '' || region === 'us-east-1') return xmlDocument(emptyEl('LocationConstraint', { xmlns: S3_XMLNS }))
  return root('LocationConstraint', region)
}

/** GetBucketVersioning: a bucket never versioned answers an empty configuration. */
export const bucketVersioningXml = (status?: 'Enabled' | 'Suspended'): string =>
  status === undefined
    ? xmlDocument(emptyEl('VersioningConfiguration', { xmlns: S3_XMLNS }))
    : root('VersioningConfiguration', el('Status', status))

export interface ServerSideEncryptionConfigurationInput {
  algorithm?: string
  kmsMasterKeyId?: string
  bucketKeyEnabled?: boolean
}

/** GetBucketEncryption: one rule; the default is SSE-S3 (AES256), as on every S3 bucket since 2023. */
export function serverSideEncryptionConfigurationXml(i: ServerSideEncryptionConfigurationInput = {}): string {
  return root(
    'ServerSideEncryptionConfiguration',
    el(
      'Rule',
      el(
        'ApplyServerSideEncryptionByDefault',
        el('SSEAlgorithm', i.algorithm ?? 'AES256'),
        optEl('KMSMasterKeyID', i.kmsMasterKeyId),
      ),
      el('BucketKeyEnabled', i.bucketKeyEnabled ?? false),
    ),
  )
}

export interface CorsRuleOutput {
  id?: string
  allowedOrigins: readonly string[]
  allowedMethods: readonly string[]
  allowedHeaders: readonly string[]
  exposeHeaders: readonly string[]
  maxAgeSeconds?: number
}

/** GetBucketCors: the rules as they were put. */
export const corsConfigurationXml = (rules: readonly CorsRuleOutput[]): string =>
  root(
    'CORSConfiguration',
    rules.map((r) =>
      el(
        'CORSRule',
        optEl('ID', r.id),
        r.allowedHeaders.map((h) => el('AllowedHeader', h)),
        r.allowedMethods.map((m) => el('AllowedMethod', m)),
        r.allowedOrigins.map((o) => el('AllowedOrigin', o)),
        r.exposeHeaders.map((h) => el('ExposeHeader', h)),
        optEl('MaxAgeSeconds', r.maxAgeSeconds),
      ),
    ),
  )

// ---- listings ----

export interface ListedObject {
  key: string
  lastModified: Date
  /** The ETag as sent in headers, with its quotes. */
  etag: string
  size: number | bigint
  storageClass?: string
  checksumAlgorithm?: ChecksumAlgorithm
  checksumType?: ChecksumType
  owner?: Owner
}

/**
 * The ETags of listing entries are written with their quotes as they are (`<ETag>"…"</ETag>`,
 * write.ts escapeText): the same text to any XML parser, fewer bytes and entity decodes for the
 * client, a thousand times per page.
 */
const LISTING_QUOTES = { rawQuotes: ['ETag'] }

const contentsRecord = record(
  'Contents',
  ['Key', 'LastModified', 'ETag', 'ChecksumAlgorithm', 'ChecksumType', 'Size', 'Owner', 'StorageClass'],
  LISTING_QUOTES,
)

/** An Owner's children, written once per page (every entry of a page has the same owner). */
const ownerContent = (o: Owner): Markup => fragment(el('ID', o.id), optEl('DisplayName', o.displayName))

/** `<Contents>` of a listing page; `owners` caches each owner's children across the page. */
function contents(o: ListedObject, owners: Map<Owner, Markup>): Markup {
  let owner: Markup | undefined
  if (o.owner) {
    owner = owners.get(o.owner)
    if (!owner) {
      owner = ownerContent(o.owner)
      owners.set(o.owner, owner)
    }
  }
  return contentsRecord([
    o.key,
    isoTimestamp(o.lastModified),
    o.etag,
    o.checksumAlgorithm,
    o.checksumType,
    o.size,
    owner,
    o.storageClass ?? 'STANDARD',
  ])
}

const contentsOf = (list: readonly ListedObject[]): Markup[] => {
  const owners = new Map<Owner, Markup>()
  return list.map((o) => contents(o, owners))
}

export interface ListObjectsV2Input {
  /** The bucket name (the document's `<Name>`). */
  name: string
  prefix: string
  delimiter?: string
  maxKeys: number
  encodingType?: 'url'
  /** Defaults to contents + common prefixes, which is what S3 counts. */
  keyCount?: number
  isTruncated: boolean
  continuationToken?: string
  nextContinuationToken?: string
  startAfter?: string
  contents: readonly ListedObject[]
  commonPrefixes: readonly string[]
}

/** ListObjectsV2: Owner appears in Contents only when the caller passes one (fetch-owner=true). */
export function listObjectsV2Xml(i: ListObjectsV2Input): string {
  return root(
    'ListBucketResult',
    el('Name', i.name),
    el('Prefix', i.prefix),
    optEl('ContinuationToken', i.continuationToken),
    optEl('NextContinuationToken', i.nextContinuationToken),
    optEl('StartAfter', i.startAfter),
    el('KeyCount', i.keyCount ?? i.contents.length + i.commonPrefixes.length),
    el('MaxKeys', i.maxKeys),
    optEl('Delimiter', i.delimiter),
    optEl('EncodingType', i.encodingType),
    el('IsTruncated', i.isTruncated),
    contentsOf(i.contents),
    commonPrefixes(i.commonPrefixes),
  )
}

export interface ListObjectsV1Input {
  /** The bucket name (the document's `<Name>`). */
  name: string
  prefix: string
  marker: string
  /** Written only when a delimiter was given and the page is truncated, as S3 does. */
  nextMarker?: string
  delimiter?: string
  maxKeys: number
  encodingType?: 'url'
  isTruncated: boolean
  contents: readonly (ListedObject & { owner: Owner })[]
  commonPrefixes: readonly string[]
}

export function listObjectsV1Xml(i: ListObjectsV1Input): string {
  const nextMarker = i.delimiter !== undefined && i.isTruncated ? i.nextMarker : undefined
  return root(
    'ListBucketResult',
    el('Name', i.name),
    el('Prefix', i.prefix),
    el('Marker', i.marker),
    optEl('NextMarker', nextMarker),
    el('MaxKeys', i.maxKeys),
    optEl('Delimiter', i.delimiter),
    optEl('EncodingType', i.encodingType),
    el('IsTruncated', i.isTruncated),
    contentsOf(i.contents),
    commonPrefixes(i.commonPrefixes),
  )
}

// ---- copy ----

export interface CopyResultInput {
  etag: string
  lastModified: Date
  checksum?: Checksum
  /** CopyObject only. */
  checksumType?: ChecksumType
}

export const copyObjectResultXml = (i: CopyResultInput): string =>
  root(
    'CopyObjectResult',
    el('LastModified', isoTimestamp(i.lastModified)),
    el('ETag', i.etag),
    optEl('ChecksumType', i.checksumType),
    checksumEl(i.checksum),
  )

export const copyPartResultXml = (i: Omit<CopyResultInput, 'checksumType'>): string =>
  root('CopyPartResult', el('LastModified', isoTimestamp(i.lastModified)), el('ETag', i.etag), checksumEl(i.checksum))

// ---- multipart ----

export const initiateMultipartUploadXml = (i: { bucket: string; key: string; uploadId: string }): string =>
  root('InitiateMultipartUploadResult', el('Bucket', i.bucket), el('Key', i.key), el('UploadId', i.uploadId))

export interface CompleteMultipartUploadInput {
  location: string
  bucket: string
  key: string
  etag: string
  checksum?: Checksum & { type: ChecksumType }
}

export const completeMultipartUploadXml = (i: CompleteMultipartUploadInput): string =>
  root(
    'CompleteMultipartUploadResult',
    el('Location', i.location),
    el('Bucket', i.bucket),
    el('Key', i.key),
    el('ETag', i.etag),
    checksumEl(i.checksum),
    optEl('ChecksumType', i.checksum?.type),
  )

export interface ListedPart {
  partNumber: number
  lastModified: Date
  etag: string
  size: number | bigint
  /** The part's checksum(s); either field, or both. */
  checksum?: Checksum
  checksums?: readonly Checksum[]
}

export interface ListPartsInput {
  bucket: string
  key: string
  uploadId: string
  partNumberMarker: number
  nextPartNumberMarker: number
  maxParts: number
  isTruncated: boolean
  parts: readonly ListedPart[]
  initiator: Owner
  owner: Owner
  storageClass?: string
  checksumAlgorithm?: ChecksumAlgorithm
  checksumType?: ChecksumType
}

export function listPartsXml(i: ListPartsInput): string {
  const parts = i.parts.map((p) =>
    el(
      'Part',
      el('PartNumber', p.partNumber),
      el('LastModified', isoTimestamp(p.lastModified)),
      el('ETag', p.etag),
      el('Size', p.size),
      checksumEl(p.checksum),
      (p.checksums ?? []).map(checksumEl),
    ),
  )
  return root(
    'ListPartsResult',
    el('Bucket', i.bucket),
    el('Key', i.key),
    el('UploadId', i.uploadId),
    owner('Initiator', i.initiator),
    owner('Owner', i.owner),
    el('StorageClass', i.storageClass ?? 'STANDARD'),
    el('PartNumberMarker', i.partNumberMarker),
    el('NextPartNumberMarker', i.nextPartNumberMarker),
    el('MaxParts', i.maxParts),
    el('IsTruncated', i.isTruncated),
    parts,
    optEl('ChecksumAlgorithm', i.checksumAlgorithm),
    optEl('ChecksumType', i.checksumType),
  )
}

export interface ListedUpload {
  key: string
  uploadId: string
  initiator: Owner
  owner: Owner
  storageClass?: string
  initiated: Date
  checksumAlgorithm?: ChecksumAlgorithm
  checksumType?: ChecksumType
}

export interface ListMultipartUploadsInput {
  bucket: string
  keyMarker: string
  uploadIdMarker: string
  /** Written empty when absent: S3 always sends both next markers. */
  nextKeyMarker?: string
  nextUploadIdMarker?: string
  delimiter?: string
  prefix: string
  maxUploads: number
  isTruncated: boolean
  uploads: readonly ListedUpload[]
  commonPrefixes: readonly string[]
  encodingType?: 'url'
}

export function listMultipartUploadsXml(i: ListMultipartUploadsInput): string {
  const uploads = i.uploads.map((u) =>
    el(
      'Upload',
      el('Key', u.key),
      el('UploadId', u.uploadId),
      owner('Initiator', u.initiator),
      owner('Owner', u.owner),
      el('StorageClass', u.storageClass ?? 'STANDARD'),
      el('Initiated', isoTimestamp(u.initiated)),
      optEl('ChecksumAlgorithm', u.checksumAlgorithm),
      optEl('ChecksumType', u.checksumType),
    ),
  )
  return root(
    'ListMultipartUploadsResult',
    el('Bucket', i.bucket),
    el('KeyMarker', i.keyMarker),
    el('UploadIdMarker', i.uploadIdMarker),
    el('NextKeyMarker', i.nextKeyMarker ?? ''),
    el('Prefix', i.prefix),
    optEl('Delimiter', i.delimiter),
    el('NextUploadIdMarker', i.nextUploadIdMarker ?? ''),
    el('MaxUploads', i.maxUploads),
    optEl('EncodingType', i.encodingType),
    el('IsTruncated', i.isTruncated),
    uploads,
    commonPrefixes(i.commonPrefixes),
  )
}

// ---- delete ----

export interface DeleteResultInput {
  /** Empty in quiet mode: S3 then reports only the errors. */
  deleted: readonly { key: string; versionId?: string; deleteMarker?: boolean; deleteMarkerVersionId?: string }[]
  errors: readonly { key: string; versionId?: string; code: string; message: string }[]
}

export function deleteResultXml(i: DeleteResultInput): string {
  return root(
    'DeleteResult',
    i.deleted.map((d) =>
      el(
        'Deleted',
        el('Key', d.key),
        optEl('VersionId', d.versionId),
        d.deleteMarker ? el('DeleteMarker', true) : null,
        optEl('DeleteMarkerVersionId', d.deleteMarkerVersionId),
      ),
    ),
    i.errors.map((e) =>
      el('Error', el('Key', e.key), optEl('VersionId', e.versionId), el('Code', e.code), el('Message', e.message)),
    ),
  )
}

// ---- versions ----

export interface ListedVersion {
  key: string
  versionId: string
  isLatest: boolean
  deleteMarker: boolean
  lastModified: Date
  /** Versions only (a delete marker has no data). */
  etag?: string
  size?: number
  checksumAlgorithm?: ChecksumAlgorithm
  checksumType?: ChecksumType
}

export interface ListVersionsInput {
  name: string
  prefix: string
  keyMarker: string
  versionIdMarker: string
  nextKeyMarker?: string
  nextVersionIdMarker?: string
  delimiter?: string
  maxKeys: number
  encodingType?: 'url'
  isTruncated: boolean
  owner: Owner
  /** Versions and delete markers in listing order (key, then newest first). */
  versions: readonly ListedVersion[]
  commonPrefixes: readonly string[]
}

const deleteMarkerRecord = record('DeleteMarker', ['Key', 'VersionId', 'IsLatest', 'LastModified', 'Owner'])
const versionRecord = record(
  'Version',
  [
    'Key',
    'VersionId',
    'IsLatest',
    'LastModified',
    'ETag',
    'ChecksumAlgorithm',
    'ChecksumType',
    'Size',
    'StorageClass',
    'Owner',
  ],
  LISTING_QUOTES,
)

/** `<Version>` or `<DeleteMarker>`; `owner` is the Owner's children, the same for the whole page. */
const version = (v: ListedVersion, owner: Markup): Markup =>
  v.deleteMarker
    ? deleteMarkerRecord([v.key, v.versionId, v.isLatest, isoTimestamp(v.lastModified), owner])
    : versionRecord([
        v.key,
        v.versionId,
        v.isLatest,
        isoTimestamp(v.lastModified),
        v.etag ?? '',
        v.checksumAlgorithm,
        v.checksumType,
        v.size ?? 0,
        'STANDARD',
        owner,
      ])

/** ListObjectVersions (ListVersionsResult). */
export function listVersionsXml(i: ListVersionsInput): string {
  const owner = ownerContent(i.owner)
  return root(
    'ListVersionsResult',
    el('Name', i.name),
    el('Prefix', i.prefix),
    el('KeyMarker', i.keyMarker),
    el('VersionIdMarker', i.versionIdMarker),
    optEl('NextKeyMarker', i.isTruncated ? i.nextKeyMarker : undefined),
    optEl('NextVersionIdMarker', i.isTruncated ? i.nextVersionIdMarker : undefined),
    el('MaxKeys', i.maxKeys),
    optEl('Delimiter', i.delimiter),
    optEl('EncodingType', i.encodingType),
    el('IsTruncated', i.isTruncated),
    i.versions.map((v) => version(v, owner)),
    commonPrefixes(i.commonPrefixes),
  )
}

// ---- object lock ----

export interface ObjectLockConfigurationInput {
  defaultRetention?: { mode: string; days?: number; years?: number }
}

export const objectLockConfigurationXml = (i: ObjectLockConfigurationInput): string =>
  root(
    'ObjectLockConfiguration',
    el('ObjectLockEnabled', 'Enabled'),
    i.defaultRetention
      ? el(
          'Rule',
          el(
            'DefaultRetention',
            el('Mode', i.defaultRetention.mode),
            optEl('Days', i.defaultRetention.days),
            optEl('Years', i.defaultRetention.years),
          ),
        )
      : null,
  )

export const retentionXml = (r: { mode: string; until: Date }): string =>
  root('Retention', el('Mode', r.mode), el('RetainUntilDate', isoTimestamp(r.until)))

export const legalHoldXml = (on: boolean): string => root('LegalHold', el('Status', on ? 'ON' : 'OFF'))

// ---- tagging ----

/** GetObjectTagging / GetBucketTagging. */
export const taggingXml = (tags: readonly { key: string; value: string }[]): string =>
  root('Tagging', el('TagSet', ...tags.map((t) => el('Tag', el('Key', t.key), el('Value', t.value)))))

// ---- lifecycle ----

export interface LifecycleRuleOutput {
  id: string
  enabled: boolean
  filter: {
    prefix: string
    tags: readonly { key: string; value: string }[]
    sizeGreaterThan?: number
    sizeLessThan?: number
  }
  legacyPrefix?: boolean
  and?: boolean
  expiration?: { days?: number; date?: number; expiredObjectDeleteMarker?: boolean }
  noncurrentExpiration?: { noncurrentDays: number; newerNoncurrentVersions?: number }
  abortAfterDays?: number
}

const tagEl = (t: { key: string; value: string }) => el('Tag', el('Key', t.key), el('Value', t.value))

function lifecycleFilter(r: LifecycleRuleOutput): Markup | null {
  if (r.legacyPrefix) return null
  const f = r.filter
  const parts: Markup[] = [
    ...(f.prefix !== '' || r.and ? [el('Prefix', f.prefix)] : []),
    ...f.tags.map(tagEl),
    ...(f.sizeGreaterThan !== undefined ? [el('ObjectSizeGreaterThan', f.sizeGreaterThan)] : []),
    ...(f.sizeLessThan !== undefined ? [el('ObjectSizeLessThan', f.sizeLessThan)] : []),
  ]
  if (r.and || parts.length > 1) return el('Filter', el('And', ...parts))
  return el('Filter', ...(parts.length ? parts : [el('Prefix', '')]))
}

/** GetBucketLifecycleConfiguration. */
export const lifecycleConfigurationXml = (rules: readonly LifecycleRuleOutput[]): string =>
  root(
    'LifecycleConfiguration',
    rules.map((r) =>
      el(
        'Rule',
        el('ID', r.id),
        r.legacyPrefix ? el('Prefix', r.filter.prefix) : lifecycleFilter(r),
        el('Status', r.enabled ? 'Enabled' : 'Disabled'),
        r.expiration
          ? el(
              'Expiration',
              optEl('Days', r.expiration.days),
              optEl('Date', r.expiration.date !== undefined ? isoTimestamp(new Date(r.expiration.date)) : undefined),
              optEl('ExpiredObjectDeleteMarker', r.expiration.expiredObjectDeleteMarker),
            )
          : null,
        r.noncurrentExpiration
          ? el(
              'NoncurrentVersionExpiration',
              el('NoncurrentDays', r.noncurrentExpiration.noncurrentDays),
              optEl('NewerNoncurrentVersions', r.noncurrentExpiration.newerNoncurrentVersions),
            )
          : null,
        r.abortAfterDays !== undefined
          ? el('AbortIncompleteMultipartUpload', el('DaysAfterInitiation', r.abortAfterDays))
          : null,
      ),
    ),
  )

// ---- object attributes ----

export interface ObjectAttributesInput {
  /** Without quotes, as S3 writes it here. */
  etag?: string
  checksum?: Checksum & { type: ChecksumType }
  parts?: {
    total: number
    marker: number
    nextMarker: number
    maxParts: number
    isTruncated: boolean
    parts: readonly { partNumber: number; size: number; checksum?: Checksum }[]
  }
  storageClass?: string
  size?: number
}

/** GetObjectAttributes (GetObjectAttributesResponse): only the attributes asked for. */
export const objectAttributesXml = (i: ObjectAttributesInput): string =>
  root(
    'GetObjectAttributesResponse',
    optEl('ETag', i.etag),
    i.checksum ? el('Checksum', checksumEl(i.checksum), el('ChecksumType', i.checksum.type)) : null,
    i.parts
      ? el(
          'ObjectParts',
          el('PartsCount', i.parts.total),
          el('PartNumberMarker', i.parts.marker),
          el('NextPartNumberMarker', i.parts.nextMarker),
          el('MaxParts', i.parts.maxParts),
          el('IsTruncated', i.parts.isTruncated),
          i.parts.parts.map((p) =>
            el('Part', el('PartNumber', p.partNumber), el('Size', p.size), checksumEl(p.checksum)),
          ),
        )
      : null,
    optEl('StorageClass', i.storageClass),
    optEl('ObjectSize', i.size),
  )
