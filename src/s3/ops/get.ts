/**
 * GetObject and HeadObject: conditional headers, ranges and partNumber, stored headers and
 * checksums, `response-*` overrides. HeadObject answers from metadata alone, never reading data.
 */
import { type ObjectInfo, readObject, statObject } from '../../service/index.ts'
import { type OpContext, xmlResponse } from '../context.ts'
import { S3Error } from '../errors.ts'
import {
  httpDate,
  parseRange,
  readConditions,
  RESPONSE_OVERRIDES,
  writeObjectMetadata,
  type ByteRange,
} from '../headers.ts'
import { encryptionHeaders, readSseC, refuseSseOnRead } from '../sse.ts'
import { allowedEach } from '../authorize.ts'
import { checksumHeaders } from './body.ts'
import { readVersionId } from './versions.ts'
import { taggingCountHeaders } from './tagging.ts'
import { expirationHeaders } from './lifecycle.ts'
import { type ObjectAttributesInput, objectAttributesXml } from '../xml/documents.ts'

interface Selection {
  range?: ByteRange
  partsCount?: number
}

/** The bytes a GET/HEAD selects: a `Range`, or one part of a multipart object (`?partNumber=`). */
function select(op: OpContext, obj: ObjectInfo): Selection {
  const partsCount = obj.parts?.length
  const partParam = op.query.get('partNumber')
  if (partParam === null) return { range: parseRange(op.headers.get('range'), obj.size), partsCount }
  if (op.headers.has('range'))
    throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter.')
  const n = Number(partParam)
  if (!Number.isInteger(n) || n < 1 || n > 10_000)
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.', {
      ArgumentName: 'partNumber',
      ArgumentValue: partParam,
    })
  // A part the object does not have is 400 InvalidPart, as S3 answers it (not 416).
  if (!obj.parts) {
    if (n !== 1) throw new S3Error('InvalidPart')
    return { range: obj.size > 0 ? { start: 0, end: obj.size } : undefined, partsCount: undefined }
  }
  let start = 0
  for (const p of obj.parts) {
    if (p.partNumber === n) return { range: { start, end: start + p.size }, partsCount }
    start += p.size
  }
  throw new S3Error('InvalidPart')
}

function objectHeaders(op: OpContext, obj: ObjectInfo, sel: Selection): Headers {
  const h = new Headers()
  writeObjectMetadata(h, obj)
  h.set('etag', obj.etag)
  h.set('last-modified', httpDate(obj.lastModified))
  h.set('accept-ranges', 'bytes')
  if (sel.partsCount !== undefined) h.set('x-amz-mp-parts-count', String(sel.partsCount))
  const whole =
    sel.range === undefined ||
    (sel.range.start === 0 && sel.range.end === obj.size && op.query.has('partNumber') === false)
  if (whole && op.headers.get('x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') {
    for (const [name, value] of Object.entries(checksumHeaders(obj.checksum))) h.set(name, value)
  }
  for (const [param, header] of Object.entries(RESPONSE_OVERRIDES)) {
    const v = op.query.get(param)
    if (v !== null) h.set(header, v)
  }
  for (const [name, value] of Object.entries(encryptionHeaders(obj.sse, readSseC(op.headers, op.platform), obj.kms)))
    h.set(name, value)
  if (obj.versionId !== undefined) h.set('x-amz-version-id', obj.versionId)
  for (const [name, value] of Object.entries({ ...taggingCountHeaders(obj), ...expirationHeaders(obj) }))
    h.set(name, value)
  if (sel.range) {
    h.set('content-range', `bytes ${sel.range.start}-${sel.range.end - 1}/${obj.size}`)
    h.set('content-length', String(sel.range.end - sel.range.start))
  } else {
    h.set('content-length', String(obj.size))
  }
  return h
}

/**
 * x-amz-object-lock-mode / -retain-until-date / -legal-hold on GET and HEAD, as S3 sends them:
 * each only to a caller allowed s3:GetObjectRetention / s3:GetObjectLegalHold on the version.
 * Decided only for a version that carries a lock, so other reads pay nothing.
 */
async function addLockHeaders(op: OpContext, obj: ObjectInfo, h: Headers): Promise<void> {
  const lock = obj.lock
  if (!lock) return
  const [retention, legalHold] = await allowedEach(
    op.service,
    op.actor,
    (['GetObjectRetention', 'GetObjectLegalHold'] as const).map((endpoint) => ({ ...op.facts, endpoint })),
  )
  if (retention && lock.retention) {
    h.set('x-amz-object-lock-mode', lock.retention.mode)
    h.set('x-amz-object-lock-retain-until-date', lock.retention.until.toISOString())
  }
  if (legalHold) h.set('x-amz-object-lock-legal-hold', lock.legalHold ? 'ON' : 'OFF')
}

export async function handleHeadObject(op: OpContext): Promise<Response> {
  refuseSseOnRead(op.headers)
  const obj = await statObject(op.service, op.actor, {
    bucket: op.bucket,
    key: op.key,
    versionId: readVersionId(op.query),
    conditions: readConditions(op.headers),
    sseC: readSseC(op.headers, op.platform),
    bucketRow: op.bucketRow,
  })
  const sel = select(op, obj)
  const headers = objectHeaders(op, obj, sel)
  await addLockHeaders(op, obj, headers)
  return new Response(null, { status: sel.range ? 206 : 200, headers })
}

export async function handleGetObject(op: OpContext): Promise<Response> {
  refuseSseOnRead(op.headers)
  const sseC = readSseC(op.headers, op.platform)
  const { info: obj, read } = await readObject(op.service, op.actor, {
    bucket: op.bucket,
    key: op.key,
    versionId: readVersionId(op.query),
    conditions: readConditions(op.headers),
    sseC,
    bucketRow: op.bucketRow,
  })
  const sel = select(op, obj)
  const start = sel.range?.start ?? 0
  const end = sel.range?.end ?? obj.size
  const headers = objectHeaders(op, obj, sel)
  await addLockHeaders(op, obj, headers)
  const body = end > start ? await read(start, end) : null
  return new Response(body, { status: sel.range ? 206 : 200, headers })
}

const ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const
type Attribute = (typeof ATTRIBUTES)[number]

/** x-amz-object-attributes: a comma-separated list of the five S3 names; at least one. */
function readAttributes(h: Headers): Set<Attribute> {
  const raw = h.get('x-amz-object-attributes') ?? ''
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  if (names.length === 0)
    throw new S3Error('InvalidArgument', 'Invalid attribute name specified.', {
      ArgumentName: 'x-amz-object-attributes',
    })
  const out = new Set<Attribute>()
  for (const n of names) {
    const a = ATTRIBUTES.find((x) => x === n)
    if (!a)
      throw new S3Error('InvalidArgument', 'Invalid attribute name specified.', {
        ArgumentName: 'x-amz-object-attributes',
        ArgumentValue: n,
      })
    out.add(a)
  }
  return out
}

function readCount(h: Headers, name: string, fallback: number): number {
  const raw = h.get(name)
  if (raw === null) return fallback
  if (!/^\d{1,9}$/.test(raw.trim()))
    throw new S3Error('InvalidArgument', `${name} must be a non-negative integer.`, {
      ArgumentName: name,
      ArgumentValue: raw,
    })
  return Number(raw.trim())
}

/** GetObjectAttributes: what HeadObject knows, as XML, with the parts of a multipart object paged. */
export async function handleGetObjectAttributes(op: OpContext): Promise<Response> {
  const wanted = readAttributes(op.headers)
  const maxParts = Math.min(readCount(op.headers, 'x-amz-max-parts', 1000), 1000)
  const marker = readCount(op.headers, 'x-amz-part-number-marker', 0)
  const obj = await statObject(op.service, op.actor, {
    bucket: op.bucket,
    key: op.key,
    versionId: readVersionId(op.query),
    conditions: readConditions(op.headers),
    sseC: readSseC(op.headers, op.platform),
  })
  let parts: ObjectAttributesInput['parts']
  if (wanted.has('ObjectParts') && obj.parts) {
    const after = obj.parts.filter((p) => p.partNumber > marker)
    const page = after.slice(0, maxParts)
    parts = {
      total: obj.parts.length,
      marker,
      maxParts,
      isTruncated: after.length > page.length,
      nextMarker: page.at(-1)?.partNumber ?? marker,
      parts: page,
    }
  }
  const headers: Record<string, string> = { 'last-modified': httpDate(obj.lastModified) }
  if (obj.versionId !== undefined) headers['x-amz-version-id'] = obj.versionId
  return xmlResponse(
    objectAttributesXml({
      etag: wanted.has('ETag') ? obj.etag.replace(/^"|"$/g, '') : undefined,
      checksum: wanted.has('Checksum') ? obj.checksum : undefined,
      parts,
      storageClass: wanted.has('StorageClass') ? 'STANDARD' : undefined,
      size: wanted.has('ObjectSize') ? obj.size : undefined,
    }),
    200,
    headers,
  )
}
