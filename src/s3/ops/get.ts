/**
 * GetObject and HeadObject: conditional headers, ranges and partNumber, stored headers and
 * checksums, `response-*` overrides. HeadObject answers from metadata alone, never reading data.
 */
import { type ObjectInfo, readObject, statObject } from '../../service/index.ts'
import type { OpContext } from '../context.ts'
import { S3Error } from '../errors.ts'
import {
  httpDate,
  parseRange,
  readConditions,
  RESPONSE_OVERRIDES,
  writeObjectMetadata,
  type ByteRange,
} from '../headers.ts'
import { encryptionHeaders, readSseC } from '../sse.ts'
import { checksumHeaders } from './body.ts'
import { readVersionId } from './versions.ts'

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
  if (!obj.parts) {
    if (n !== 1) throw new S3Error('InvalidPartNumber')
    return { range: obj.size > 0 ? { start: 0, end: obj.size } : undefined, partsCount: undefined }
  }
  let start = 0
  for (const p of obj.parts) {
    if (p.partNumber === n) return { range: { start, end: start + p.size }, partsCount }
    start += p.size
  }
  throw new S3Error('InvalidPartNumber')
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
  for (const [name, value] of Object.entries(encryptionHeaders(obj.sse, readSseC(op.headers, op.platform))))
    h.set(name, value)
  if (obj.versionId !== undefined) h.set('x-amz-version-id', obj.versionId)
  if (sel.range) {
    h.set('content-range', `bytes ${sel.range.start}-${sel.range.end - 1}/${obj.size}`)
    h.set('content-length', String(sel.range.end - sel.range.start))
  } else {
    h.set('content-length', String(obj.size))
  }
  return h
}

export async function handleHeadObject(op: OpContext): Promise<Response> {
  const obj = await statObject(op.service, op.actor, {
    bucket: op.bucket,
    key: op.key,
    versionId: readVersionId(op.query),
    conditions: readConditions(op.headers),
    sseC: readSseC(op.headers, op.platform),
  })
  const sel = select(op, obj)
  return new Response(null, { status: sel.range ? 206 : 200, headers: objectHeaders(op, obj, sel) })
}

export async function handleGetObject(op: OpContext): Promise<Response> {
  const sseC = readSseC(op.headers, op.platform)
  const { info: obj, read } = await readObject(op.service, op.actor, {
    bucket: op.bucket,
    key: op.key,
    versionId: readVersionId(op.query),
    conditions: readConditions(op.headers),
    sseC,
  })
  const sel = select(op, obj)
  const start = sel.range?.start ?? 0
  const end = sel.range?.end ?? obj.size
  const body = end > start ? await read(start, end) : null
  return new Response(body, { status: sel.range ? 206 : 200, headers: objectHeaders(op, obj, sel) })
}
