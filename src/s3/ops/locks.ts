/**
 * Object Lock over S3: Get/PutObjectLockConfiguration, Get/PutObjectRetention,
 * Get/PutObjectLegalHold, and the x-amz-object-lock-* / x-amz-bypass-governance-retention
 * headers of writes and deletes. The rules are the service's (src/service/object-lock.ts).
 */
import {
  getObjectLegalHold,
  getObjectLockConfiguration,
  getObjectRetention,
  type LockRequest,
  putObjectLegalHold,
  putObjectLockConfiguration,
  putObjectRetention,
} from '../../service/index.ts'
import { digestTap, parseChecksumRequest } from '../auth/checksums.ts'
import { emptyResponse, type OpContext, xmlResponse } from '../context.ts'
import { S3Error } from '../errors.ts'
import { legalHoldXml, objectLockConfigurationXml, retentionXml } from '../xml/documents.ts'
import { parseLegalHold, parseObjectLockConfiguration, parseRetention } from '../xml/read.ts'
import { readVersionId, versionHeaders } from './versions.ts'

const LOCK_MODES = ['GOVERNANCE', 'COMPLIANCE'] as const

/** The request carried an integrity check of its body: Content-MD5 or an x-amz-checksum-*. */
export function hasIntegrityHeader(h: Headers): boolean {
  if (h.has('content-md5')) return true
  if ((h.get('x-amz-trailer') ?? '').toLowerCase().startsWith('x-amz-checksum-')) return true
  return parseChecksumRequest(h) !== undefined
}

/** x-amz-object-lock-mode / -retain-until-date / -legal-hold of PutObject, CopyObject, CreateMultipartUpload. */
export function readLockHeaders(h: Headers): LockRequest | undefined {
  const mode = h.get('x-amz-object-lock-mode')
  const until = h.get('x-amz-object-lock-retain-until-date')
  const hold = h.get('x-amz-object-lock-legal-hold')
  if (mode === null && until === null && hold === null) return undefined
  const req: LockRequest = { integrity: hasIntegrityHeader(h) }
  if ((mode === null) !== (until === null))
    throw new S3Error(
      'InvalidArgument',
      'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied',
    )
  if (mode !== null && until !== null) {
    const m = mode.toUpperCase()
    if (!LOCK_MODES.some((x) => x === m))
      throw new S3Error('InvalidArgument', 'Unknown wormMode directive.', {
        ArgumentName: 'x-amz-object-lock-mode',
        ArgumentValue: mode,
      })
    req.retention = { mode: m as (typeof LOCK_MODES)[number], until: readDate(until) }
  }
  if (hold !== null) {
    if (hold !== 'ON' && hold !== 'OFF')
      throw new S3Error('InvalidArgument', 'Legal Hold must be either of ON or OFF', {
        ArgumentName: 'x-amz-object-lock-legal-hold',
        ArgumentValue: hold,
      })
    req.legalHold = hold === 'ON'
  }
  return req
}

/** ISO 8601, as S3 takes RetainUntilDate. */
export function readDate(v: string): Date {
  const d = /^\d{4}-\d{2}-\d{2}T/.test(v.trim()) ? new Date(v.trim()) : new Date(Number.NaN)
  if (Number.isNaN(d.getTime()))
    throw new S3Error('InvalidArgument', 'The retain until date must be provided in ISO 8601 format', {
      ArgumentName: 'RetainUntilDate',
      ArgumentValue: v,
    })
  return d
}

export const readBypass = (h: Headers): boolean =>
  (h.get('x-amz-bypass-governance-retention') ?? '').toLowerCase() === 'true'

/** S3 requires Content-MD5 or a flexible checksum on these configuration bodies. */
function verifiedBody(op: OpContext): ReadableStream<Uint8Array> | null {
  const contentMd5 = op.headers.get('content-md5') ?? undefined
  const checksum = parseChecksumRequest(op.headers)
  if (contentMd5 === undefined && checksum === undefined)
    throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5 or x-amz-checksum-*')
  const body = op.body()
  return digestTap(body.stream, { contentMd5, checksum, trailers: () => body.trailers() }, op.platform).stream
}

const address = (op: OpContext) => ({ bucket: op.bucket, key: op.key, versionId: readVersionId(op.query) })

export async function handleGetObjectLockConfiguration(op: OpContext): Promise<Response> {
  return xmlResponse(objectLockConfigurationXml(await getObjectLockConfiguration(op.service, op.actor, op.bucket)))
}

export async function handlePutObjectLockConfiguration(op: OpContext): Promise<Response> {
  const config = await parseObjectLockConfiguration(verifiedBody(op))
  await putObjectLockConfiguration(op.service, op.actor, op.bucket, config)
  return emptyResponse(200)
}

export async function handleGetObjectRetention(op: OpContext): Promise<Response> {
  return xmlResponse(retentionXml(await getObjectRetention(op.service, op.actor, address(op))))
}

export async function handlePutObjectRetention(op: OpContext): Promise<Response> {
  const retention = await parseRetention(verifiedBody(op))
  const versionId = await putObjectRetention(op.service, op.actor, {
    ...address(op),
    retention,
    bypassGovernance: readBypass(op.headers),
  })
  return emptyResponse(200, versionHeaders({ versionId }))
}

export async function handleGetObjectLegalHold(op: OpContext): Promise<Response> {
  return xmlResponse(legalHoldXml(await getObjectLegalHold(op.service, op.actor, address(op))))
}

export async function handlePutObjectLegalHold(op: OpContext): Promise<Response> {
  const legalHold = await parseLegalHold(verifiedBody(op))
  const versionId = await putObjectLegalHold(op.service, op.actor, { ...address(op), legalHold })
  return emptyResponse(200, versionHeaders({ versionId }))
}
