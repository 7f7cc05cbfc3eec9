/**
 * CompleteMultipartUpload: the chosen parts are checked (order, ETags, checksums, sizes) and
 * stitched into one object (a segment per part) in a single metadata transaction, in which the
 * parts left out and any object it replaces are queued for garbage collection.
 */
import { kmsKeyForRead } from './kms.ts'
import * as meta from '../meta/index.ts'
import { parseDataLayout } from '../storage/index.ts'
import { fromBase64, fromHex, toBase64, toHex } from '../util/bytes.ts'
import { type ChecksumAlgorithm, combineCrcs, compositeChecksum } from '../util/checksums.ts'
import type { ServiceContext } from './context.ts'
import { KEY_COMMIT_ATTEMPTS, keyPin, keyRotationBusy } from './encryption.ts'
import { CorruptMetadataError, ServiceError } from './errors.ts'
import { type Actor, bucketFor, refusalError } from './identities.ts'
import { storedObject } from './get-object.ts'
import { versionIdFor } from './versioning.ts'
import { expirationOf } from './lifecycle/config.ts'
import { lockForUpload } from './locks.ts'
import { findUpload, type UploadAddress } from './multipart.ts'
import { type ChecksumValue, type ObjectInfo, objectInfo, showsVersions } from './object-info.ts'
import { checkWriteConditions, type WriteConditions } from './put-object.ts'
import { parseSegmentCrypto, type Segment, type StoredData } from './stored-data.ts'

/** S3's floor for every part but the last. */
export const MIN_PART_SIZE = 5 * 1024 * 1024

export interface CompletePart {
  partNumber: number
  etag: string
  checksums: Partial<Record<ChecksumAlgorithm, string>>
}

export interface CompleteUploadInput extends UploadAddress {
  parts: CompletePart[]
  conditions: WriteConditions
  /** x-amz-checksum-* sent with the completion: the whole object's checksum it must have. */
  expectedChecksum?: { algorithm: ChecksumAlgorithm; value: string }
}

const stripQuotes = (etag: string): string => etag.trim().replace(/^"|"$/g, '')

export async function completeUpload(
  ctx: ServiceContext,
  actor: Actor,
  input: CompleteUploadInput,
): Promise<ObjectInfo> {
  // The object row copies the upload's encryption record as read. A rotation that re-wraps the
  // upload and commits between that read and the completion drops the version the copy names:
  // the completion is then refused ('key-version') and tried again with the upload read anew.
  for (let attempt = 1; ; attempt++) {
    const done = await completeOnce(ctx, actor, input).catch((e) => completedBefore(ctx, actor, input, e))
    if (done !== 'key-version') return done
    if (attempt >= KEY_COMMIT_ATTEMPTS) throw keyRotationBusy()
  }
}

/**
 * A completion retried after it succeeded (its answer was lost) finds no upload: S3 answers the
 * same 200 again while the version it made exists. Anything else stays the error it was.
 */
async function completedBefore(
  ctx: ServiceContext,
  actor: Actor,
  input: CompleteUploadInput,
  e: unknown,
): Promise<ObjectInfo> {
  if (!(e instanceof ServiceError) || e.code !== 'NoSuchUpload') throw e
  const bucket = await bucketFor(ctx, actor, input.bucket)
  const row = await meta.getCompleted(ctx.db, input.bucket, input.key, input.uploadId)
  if (!row) throw e
  return storedObject(row, showsVersions(bucket)).info
}

async function completeOnce(
  ctx: ServiceContext,
  actor: Actor,
  input: CompleteUploadInput,
): Promise<ObjectInfo | 'key-version'> {
  const found = await findUpload(ctx, actor, input)
  const { row: upload, encryption, writer } = found
  if (!found.bucket) throw new Error('findUpload returned no bucket')
  const bucket = found.bucket
  const { conditions, parts: requested } = input
  await checkWriteConditions(ctx, upload.bucket, upload.key, conditions)
  const stored = new Map((await meta.getParts(ctx.db, upload.uploadId)).map((p) => [p.partNumber, p]))
  const chosen: meta.PartRow[] = []
  let previous = 0
  for (const [i, req] of requested.entries()) {
    if (req.partNumber <= previous) throw new ServiceError('InvalidPartOrder')
    previous = req.partNumber
    const part = stored.get(req.partNumber)
    // Parts read after the upload: a completion through another gateway in between took them
    // with the upload, and that is NoSuchUpload (as S3 answers), not a missing part.
    if (!part && !(await meta.getUpload(ctx.db, upload.uploadId)))
      throw new ServiceError('NoSuchUpload', undefined, { UploadId: upload.uploadId })
    if (!part || stripQuotes(part.etag) !== stripQuotes(req.etag)) {
      throw new ServiceError('InvalidPart', undefined, { PartNumber: String(req.partNumber), ETag: req.etag })
    }
    const claimed = upload.checksumAlgorithm ? req.checksums[upload.checksumAlgorithm] : undefined
    if (claimed !== undefined && claimed !== part.checksum?.value) {
      throw new ServiceError(
        'InvalidPart',
        `The ${upload.checksumAlgorithm} checksum of part ${req.partNumber} does not match.`,
      )
    }
    if (i < requested.length - 1 && part.size < MIN_PART_SIZE) {
      throw new ServiceError('EntityTooSmall', undefined, {
        PartNumber: String(req.partNumber),
        ProposedSize: String(part.size),
        MinSizeAllowed: String(MIN_PART_SIZE),
      })
    }
    chosen.push(part)
  }
  const md5 = ctx.platform.createHasher('md5')
  for (const p of chosen) md5.update(fromHex(stripQuotes(p.etag)) ?? new Uint8Array())
  const data: StoredData = { v: 1, segments: chosen.map(segmentOf) }
  const row: meta.ObjectRow = {
    bucket: upload.bucket,
    key: upload.key,
    versionId: versionIdFor(bucket),
    ord: 0,
    latest: true,
    deleteMarker: false,
    // The lock asked for at creation, else the bucket's default as of now.
    lock: lockForUpload(bucket, upload, true),
    acl: upload.acl ?? null,
    uploadId: upload.uploadId,
    size: chosen.reduce((n, p) => n + p.size, 0),
    etag: `"${toHex(md5.digest())}-${chosen.length}"`,
    lastModified: new Date(),
    contentType: upload.contentType ?? 'binary/octet-stream',
    headers: upload.headers,
    userMeta: upload.userMeta,
    tags: upload.tags ?? null,
    checksum: objectChecksum(ctx, upload, chosen) ?? null,
    parts: chosen.map((p) => ({
      partNumber: p.partNumber,
      size: p.size,
      etag: p.etag,
      checksum: p.checksum ?? undefined,
    })),
    layout: data,
    encryption: upload.encryption,
  }
  checkExpectedChecksum(input.expectedChecksum, row.checksum ?? undefined)
  // Passing the rows lets meta check that no part was replaced since they were read. The object
  // it replaces and the parts left out are queued for GC in the same transaction.
  const result = await meta.completeUpload(ctx.db, upload.uploadId, row, chosen, writer, conditions, keyPin(encryption))
  if (!result.ok) {
    if (result.reason === 'key-version') {
      // SSE-KMS: the key was disabled or scheduled for deletion; AWS's error for its state.
      if (encryption?.mode === 'sse-kms') await kmsKeyForRead(ctx, encryption.kmsKeyId!)
      return 'key-version'
    }
    if (result.reason === 'no-such-bucket' || result.reason === 'access-denied')
      throw refusalError(result.reason, upload.bucket)
    if (result.reason === 'missing') throw new ServiceError('NoSuchUpload', undefined, { UploadId: upload.uploadId })
    if (result.reason === 'invalid-part')
      throw new ServiceError('InvalidPart', 'A part was replaced while the upload was being completed; retry.')
    throw new ServiceError(conditions.ifMatch !== undefined ? 'ConditionalRequestConflict' : 'PreconditionFailed')
  }
  const info = objectInfo(row, encryption, showsVersions(bucket))
  const expiration = expirationOf(ctx, bucket, row)
  return expiration ? { ...info, expiration } : info
}

function segmentOf(p: meta.PartRow): Segment {
  const seg: Segment = { size: p.size, layout: parseDataLayout(p.layout) }
  const crypto = parseSegmentCrypto(p.crypto, `part ${p.partNumber} of upload ${p.uploadId}`)
  if (crypto) seg.crypto = crypto
  return seg
}

/**
 * A completion that names the object's checksum is refused, before anything is committed, when
 * the upload computes another algorithm (or none) or another value. A composite value may be sent
 * with or without its `-N` part count.
 */
function checkExpectedChecksum(
  expected: CompleteUploadInput['expectedChecksum'],
  actual: ChecksumValue | undefined,
): void {
  if (!expected) return
  if (actual?.algorithm !== expected.algorithm)
    throw new ServiceError(
      'InvalidRequest',
      `The upload was created using ${actual ? `the ${actual.algorithm}` : 'no'} checksum algorithm; x-amz-checksum-${expected.algorithm.toLowerCase()} does not apply.`,
    )
  const base = (v: string) => v.replace(/-\d+$/, '')
  if (base(expected.value) !== base(actual.value))
    throw new ServiceError(
      'BadDigest',
      `The ${expected.algorithm.toLowerCase()} you specified did not match the calculated checksum.`,
    )
}

function objectChecksum(ctx: ServiceContext, upload: meta.UploadRow, parts: meta.PartRow[]): ChecksumValue | undefined {
  const algorithm = upload.checksumAlgorithm
  if (!algorithm) return undefined
  const digests: { digest: Uint8Array; length: number }[] = []
  for (const p of parts) {
    const d = p.checksum?.algorithm === algorithm ? fromBase64(p.checksum.value) : undefined
    if (!d) throw new ServiceError('InvalidPart', `Part ${p.partNumber} was uploaded without a ${algorithm} checksum.`)
    digests.push({ digest: d, length: p.size })
  }
  if (upload.checksumType === 'FULL_OBJECT') {
    // createUpload refuses FULL_OBJECT for the SHA algorithms: only CRCs combine.
    if (algorithm === 'SHA1' || algorithm === 'SHA256')
      throw new CorruptMetadataError(`multipart upload ${upload.uploadId}: a FULL_OBJECT ${algorithm} checksum`)
    return { algorithm, type: 'FULL_OBJECT', value: toBase64(combineCrcs(algorithm, digests)) }
  }
  const composite = compositeChecksum(
    algorithm,
    digests.map((d) => d.digest),
    ctx.platform,
  )
  return { algorithm, type: 'COMPOSITE', value: `${toBase64(composite)}-${parts.length}` }
}
