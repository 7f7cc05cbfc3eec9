/**
 * The S3 request pipeline: resolve target → authenticate → classify → authorize → dispatch,
 * and the one place where every failure becomes an S3 `<Error>` response.
 */
import {
  type Actor,
  actorFor,
  type BucketRow,
  type CorsRule,
  corsRulesOf,
  isMetaUnavailable,
  isOutOfSpace,
  isServiceError,
  lookupSecret,
  type Service,
  type ServiceErrorCode,
} from '../service/index.ts'
import { toHex } from '../util/bytes.ts'
import type { Logger } from '../util/log.ts'
import type { Platform } from '../util/platform.ts'
import { ANONYMOUS_AUTH, authenticate, isAnonymous } from './auth/sigv4.ts'
import { authorizeRequest, checkAclHeaders, mayList, type RequestFacts } from './authorize.ts'
import { decodePayload, type DecodedBody } from './auth/aws-chunked.ts'
import { type BodyLimits, DEFAULT_BODY_LIMITS, guardBody } from './body-guard.ts'
import { DEFAULT_UPLOAD_LIMITS, type UploadLimits, UploadSlots } from './upload-slots.ts'
import { classify, type Endpoint } from './classify.ts'
import { checkObjectKey } from './object-keys.ts'
import { CORS_VARY, corsHeaders, matchCorsRule, preflight } from './cors.ts'
import type { OpContext, Operation } from './context.ts'
import { hostBucket, resolveTarget, splitUrl } from './endpoints.ts'
import { isS3Error, S3Error, type S3ErrorCode } from './errors.ts'
import { errorXml } from './xml/documents.ts'
import * as accessOps from './ops/access.ts'
import * as bucketOps from './ops/buckets.ts'
import * as copyOps from './ops/copy.ts'
import * as corsOps from './ops/cors.ts'
import * as deleteOps from './ops/delete.ts'
import * as encryptionOps from './ops/encryption.ts'
import * as getOps from './ops/get.ts'
import * as lifecycleOps from './ops/lifecycle.ts'
import * as listOps from './ops/list.ts'
import * as lockOps from './ops/locks.ts'
import * as multipartOps from './ops/multipart.ts'
import { handlePostObject, isPostObject } from './ops/post-object.ts'
import * as putOps from './ops/put.ts'
import * as taggingOps from './ops/tagging.ts'
import * as versionOps from './ops/versions.ts'
import { limitLogLines, type LogLimit } from '../util/log-limit.ts'

export type RequestLimits = BodyLimits & UploadLimits

export const DEFAULT_REQUEST_LIMITS: RequestLimits = { ...DEFAULT_BODY_LIMITS, ...DEFAULT_UPLOAD_LIMITS }

export interface S3Deps {
  service: Service
  platform: Platform
  region: string
  domain?: string
  logger: Logger
  /** Request-body time limits and upload concurrency (default DEFAULT_REQUEST_LIMITS). */
  limits?: Partial<RequestLimits>
  /** Accept AWS Signature Version 2 (default true; `--sigv2 off` refuses it). */
  sigv2?: boolean
}

/**
 * The warnings that come with refusals (`request refused`, `out of space`, `metadata unavailable`)
 * are one per request, so a storm of them is capped: 20 lines of a kind (message and S3 code) per
 * 10 s, then one `log lines left out` line with the count when the 10 s end. Internal errors are
 * never capped.
 */
const REFUSAL_LOG_LIMIT: LogLimit = {
  lines: 20,
  windowMs: 10_000,
  kind: (msg, f) => ({ key: `${msg} ${String(f.code ?? '')}`, fields: f.code === undefined ? {} : { code: f.code } }),
}

/** The requests that stream a client's body into storage: each holds an upload slot. */
const UPLOADS: ReadonlySet<Endpoint> = new Set<Endpoint>(['PutObject', 'UploadPart'])

/** Reads of one object: a missing key answers 404 or 403 by whether the caller may list (S3). */
const READS: ReadonlySet<Endpoint> = new Set<Endpoint>(['GetObject', 'HeadObject'])

const OPERATIONS: Record<Endpoint, Operation> = {
  ListBuckets: bucketOps.handleListBuckets,
  CreateBucket: bucketOps.handleCreateBucket,
  HeadBucket: bucketOps.handleHeadBucket,
  DeleteBucket: bucketOps.handleDeleteBucket,
  GetBucketLocation: bucketOps.handleGetBucketLocation,
  GetBucketVersioning: versionOps.handleGetBucketVersioning,
  PutBucketVersioning: versionOps.handlePutBucketVersioning,
  ListObjectVersions: versionOps.handleListObjectVersions,
  GetObjectLockConfiguration: lockOps.handleGetObjectLockConfiguration,
  PutObjectLockConfiguration: lockOps.handlePutObjectLockConfiguration,
  GetObjectRetention: lockOps.handleGetObjectRetention,
  PutObjectRetention: lockOps.handlePutObjectRetention,
  GetObjectLegalHold: lockOps.handleGetObjectLegalHold,
  PutObjectLegalHold: lockOps.handlePutObjectLegalHold,
  GetObjectAttributes: getOps.handleGetObjectAttributes,
  GetBucketEncryption: encryptionOps.handleGetBucketEncryption,
  PutBucketEncryption: encryptionOps.handlePutBucketEncryption,
  DeleteBucketEncryption: encryptionOps.handleDeleteBucketEncryption,
  GetBucketCors: corsOps.handleGetBucketCors,
  PutBucketCors: corsOps.handlePutBucketCors,
  DeleteBucketCors: corsOps.handleDeleteBucketCors,
  ListObjects: listOps.handleListObjectsV1,
  ListObjectsV2: listOps.handleListObjectsV2,
  ListMultipartUploads: multipartOps.handleListMultipartUploads,
  DeleteObjects: deleteOps.handleDeleteObjects,
  PutObject: putOps.handlePutObject,
  CopyObject: copyOps.handleCopyObject,
  GetObject: getOps.handleGetObject,
  HeadObject: getOps.handleHeadObject,
  DeleteObject: deleteOps.handleDeleteObject,
  CreateMultipartUpload: multipartOps.handleCreateMultipartUpload,
  UploadPart: multipartOps.handleUploadPart,
  UploadPartCopy: copyOps.handleUploadPartCopy,
  CompleteMultipartUpload: multipartOps.handleCompleteMultipartUpload,
  AbortMultipartUpload: multipartOps.handleAbortMultipartUpload,
  ListParts: multipartOps.handleListParts,
  GetBucketPolicy: accessOps.handleGetBucketPolicy,
  PutBucketPolicy: accessOps.handlePutBucketPolicy,
  DeleteBucketPolicy: accessOps.handleDeleteBucketPolicy,
  GetBucketPolicyStatus: accessOps.handleGetBucketPolicyStatus,
  GetPublicAccessBlock: accessOps.handleGetPublicAccessBlock,
  PutPublicAccessBlock: accessOps.handlePutPublicAccessBlock,
  DeletePublicAccessBlock: accessOps.handleDeletePublicAccessBlock,
  GetBucketOwnershipControls: accessOps.handleGetBucketOwnershipControls,
  PutBucketOwnershipControls: accessOps.handlePutBucketOwnershipControls,
  DeleteBucketOwnershipControls: accessOps.handleDeleteBucketOwnershipControls,
  GetBucketAcl: accessOps.handleGetBucketAcl,
  PutBucketAcl: accessOps.handlePutBucketAcl,
  GetObjectAcl: accessOps.handleGetObjectAcl,
  PutObjectAcl: accessOps.handlePutObjectAcl,
  GetObjectTagging: taggingOps.handleGetObjectTagging,
  PutObjectTagging: taggingOps.handlePutObjectTagging,
  DeleteObjectTagging: taggingOps.handleDeleteObjectTagging,
  GetBucketTagging: taggingOps.handleGetBucketTagging,
  PutBucketTagging: taggingOps.handlePutBucketTagging,
  DeleteBucketTagging: taggingOps.handleDeleteBucketTagging,
  GetBucketLifecycleConfiguration: lifecycleOps.handleGetBucketLifecycleConfiguration,
  PutBucketLifecycleConfiguration: lifecycleOps.handlePutBucketLifecycleConfiguration,
  DeleteBucketLifecycleConfiguration: lifecycleOps.handleDeleteBucketLifecycleConfiguration,
}

/**
 * SigV4 verification for Coffer's own APIs (admin): the caller's actor, or an S3Error. Bodies
 * of those requests are small JSON, verified by the caller against `payloadHash` if signed.
 */
export function createAuthenticator(deps: Pick<S3Deps, 'service' | 'platform' | 'region'>) {
  return async (req: Request, rawTarget?: string): Promise<Actor> => {
    const { rawPath, rawQuery } = splitUrl(rawTarget ?? req.url)
    const auth = await authenticate(
      { method: req.method, rawPath, rawQuery, headers: req.headers },
      {
        region: deps.region,
        now: () => new Date(),
        platform: deps.platform,
        lookupSecret: (id) => lookupSecret(deps.service, id),
      },
    )
    return actorFor(deps.service, auth.accessKeyId)
  }
}

/** Domain errors whose S3 code differs from their own name; the rest map by name. */
const SERVICE_TO_S3: Partial<Record<ServiceErrorCode, S3ErrorCode>> = {
  Unavailable: 'ServiceUnavailable',
  // readSseC maps this one with S3's wording; here only if a use case meets it first.
  InvalidCustomerKey: 'InvalidArgument',
  // Operator outcomes (admin API); listed so an unexpected one still renders as an S3 error.
  NoSuchNamespace: 'InvalidRequest',
  NamespaceAlreadyExists: 'InvalidRequest',
  NamespaceNotEmpty: 'InvalidRequest',
  NodeNotEmpty: 'InvalidRequest',
  NoSuchUser: 'InvalidRequest',
}

/**
 * `rawTarget` is the request target exactly as received (`/bucket/key?query`), when the adapter
 * knows it: WHATWG URL parsing folds `/./` and `/../`, which are legal in S3 keys and signed as sent.
 * `connection` names the client connection (address and port), when the adapter knows it.
 */
export function createS3Handler(
  deps: S3Deps,
): (req: Request, rawTarget?: string, connection?: string) => Promise<Response> {
  const secretOf = (id: string) => lookupSecret(deps.service, id)
  const limits: RequestLimits = { ...DEFAULT_REQUEST_LIMITS, ...deps.limits }
  const slots = new UploadSlots(limits)
  const refusalLog = limitLogLines(deps.logger, REFUSAL_LOG_LIMIT)
  const serve = async (
    req: Request,
    rawTarget: string | undefined,
    connection: string | undefined,
    requestId: string,
    seen: { bucket?: string },
  ): Promise<Response> => {
    let slot: { release(): void } | undefined
    let resource = '/'
    try {
      const target = resolveTarget(rawTarget ?? req.url, req.headers.get('host'), deps.domain)
      if (!target) throw new S3Error('InvalidArgument', 'Could not parse the specified URI.')
      resource = target.rawPath
      seen.bucket = target.bucket
      // A browser's preflight carries no credentials and is never signed: the bucket's rules answer it.
      if (req.method === 'OPTIONS') {
        const rules = target.bucket === undefined ? undefined : await corsRulesOf(deps.service, target.bucket)
        return new Response(null, {
          status: 200,
          headers: { ...preflight(rules, req.headers), 'x-amz-request-id': requestId },
        })
      }
      const hosted = hostBucket(req.headers.get('host'), deps.domain)
      const early = new URLSearchParams(target.rawQuery)
      // A browser form upload authenticates with its own fields (a signed policy), not headers;
      // it ends in the same actorFor and PutObject write path (src/s3/ops/post-object.ts).
      if (target.bucket !== undefined && isPostObject(req.method, target.key, early, req.headers)) {
        const bucket = target.bucket
        const host = req.headers.get('host') ?? '127.0.0.1'
        const res = await handlePostObject({
          req,
          body: guardBody(req.body, limits) ?? new ReadableStream({ start: (c) => c.close() }),
          bucket,
          bucketUrl: hosted === undefined ? `https://${host}/${encodeURIComponent(bucket)}` : `https://${host}`,
          service: deps.service,
          platform: deps.platform,
          region: deps.region,
          sigv2: deps.sigv2 ?? true,
          connection,
          takeSlot: (accessKeyId) => {
            const taken = slots.take(accessKeyId, connection)
            if ('refused' in taken) throw new S3Error('SlowDown', taken.refused)
            slot = taken
          },
        })
        res.headers.set('x-amz-request-id', requestId)
        return res
      }
      const now = new Date()
      const auth = isAnonymous(req.headers, target.rawQuery)
        ? undefined
        : await authenticate(
            {
              method: req.method,
              rawPath: target.rawPath,
              rawQuery: target.rawQuery,
              headers: req.headers,
              v2ResourcePath: hosted === undefined ? target.rawPath : `/${hosted}${target.rawPath}`,
            },
            {
              region: deps.region,
              now: () => now,
              platform: deps.platform,
              lookupSecret: secretOf,
              sigv2: deps.sigv2 ?? true,
            },
          )
      const query = new URLSearchParams(target.rawQuery)
      const endpoint = classify({
        method: req.method,
        bucket: target.bucket,
        key: target.key,
        query,
        headers: req.headers,
      })
      // Before any body is read: a key Coffer cannot take must not leave shards behind.
      if (target.key !== undefined) checkObjectKey(target.key)
      const signed = auth ? await actorFor(deps.service, auth.accessKeyId) : undefined
      const facts: RequestFacts = {
        endpoint,
        bucket: target.bucket,
        key: target.key,
        query,
        headers: req.headers,
        auth,
        connection,
        now,
      }
      // The one authorization step: every operation, before its body is read or data touched.
      const bucketRows = new Map<string, BucketRow | undefined>()
      const actor = await authorizeRequest(deps.service, signed, facts, bucketRows)
      await checkAclHeaders(deps.service, actor, facts)
      let decoded: DecodedBody | undefined
      const ctx: OpContext = {
        req,
        endpoint,
        query,
        auth: auth ?? ANONYMOUS_AUTH,
        actor,
        facts,
        bucketRow: target.bucket === undefined ? undefined : bucketRows.get(target.bucket),
        requestId,
        bucket: target.bucket ?? '',
        key: target.key ?? '',
        headers: req.headers,
        service: deps.service,
        platform: deps.platform,
        region: deps.region,
        body: () => (decoded ??= decodePayload(guardBody(req.body, limits), ctx.auth, req.headers, deps.platform)),
      }
      if (UPLOADS.has(endpoint)) {
        const taken = slots.take(ctx.auth.accessKeyId, connection)
        if ('refused' in taken) throw new S3Error('SlowDown', taken.refused)
        slot = taken
      }
      const res = await OPERATIONS[endpoint](ctx).catch(async (e: unknown) => {
        // A missing key is NoSuchKey only to a caller who may list the bucket (S3): else 403.
        const noSuchKey = (isServiceError(e) || isS3Error(e)) && e.code === 'NoSuchKey'
        if (noSuchKey && READS.has(endpoint) && !(await mayList(deps.service, actor, facts)))
          throw new S3Error('AccessDenied')
        throw e
      })
      res.headers.set('x-amz-request-id', requestId)
      return res
    } catch (e) {
      const res = errorResponse(toS3Error(e, deps.logger, refusalLog, requestId), req.method, resource, requestId)
      // The body may be unread (an early refusal): the client must not reuse this connection,
      // whose remaining bytes would be taken for its next request (the Node adapter lifts this
      // when it drained the body to its end). Decided from the headers: touching `req.body` would
      // start reading it, and so tell a client waiting on `Expect: 100-continue` to send it.
      if (declaresBody(req.headers)) res.headers.set('connection', 'close')
      return res
    } finally {
      slot?.release()
    }
  }
  return async (req, rawTarget, connection) => {
    const requestId = toHex(crypto.getRandomValues(new Uint8Array(8))).toUpperCase()
    const seen: { bucket?: string } = {}
    const res = await serve(req, rawTarget, connection, requestId, seen)
    const origin = req.headers.get('origin')
    // A cross-origin request (signed, presigned or refused alike) hears the bucket's CORS answer.
    if (origin !== null && seen.bucket !== undefined && req.method !== 'OPTIONS') {
      await addCorsHeaders(deps.service, seen.bucket, origin, req.method, res.headers, deps.logger)
    }
    return res
  }
}

async function addCorsHeaders(
  service: Service,
  bucket: string,
  origin: string,
  method: string,
  headers: Headers,
  logger: Logger,
): Promise<void> {
  let rules: CorsRule[] | undefined
  try {
    rules = await corsRulesOf(service, bucket)
  } catch (e) {
    // The answer is made already; without the rules the browser only withholds it from the page.
    logger.log('warn', 'CORS rules unreadable', { bucket, error: e instanceof Error ? e.message : String(e) })
    return
  }
  if (rules === undefined) return
  headers.set('vary', CORS_VARY)
  const rule = matchCorsRule(rules, origin, method.toUpperCase())
  if (rule) for (const [k, v] of Object.entries(corsHeaders(rule, origin))) headers.set(k, v)
}

/**
 * A request the service could take but refused for now — write quorum lost, nodes down, too many
 * uploads (503 ServiceUnavailable, SlowDown) — is news to the operator: the client only sees an
 * error (one streaming a body it cannot rewind may see just a cut connection, as the answer came
 * before its body was read), so the gateway's log says what and why — capped per code in a storm
 * (REFUSAL_LOG_LIMIT). Client errors (4xx) are not logged; internal errors are, as errors, by toS3Error.
 */
function refused(e: S3Error, logger: Logger, requestId: string): S3Error {
  if (e.status >= 500 && e.code !== 'InternalError')
    logger.log('warn', 'request refused', { requestId, status: e.status, code: e.code, error: e.message })
  return e
}

const declaresBody = (h: Headers): boolean => h.has('transfer-encoding') || (h.get('content-length') ?? '0') !== '0'

/** `logger` takes internal errors, every one; `refusalLog` the lines that come with refusals (capped). */
function toS3Error(e: unknown, logger: Logger, refusalLog: Logger, requestId: string): S3Error {
  if (isS3Error(e)) return refused(e, refusalLog, requestId)
  // A shard or the metadata met a full disk that admission did not foresee (another writer).
  if (isOutOfSpace(e)) {
    refusalLog.log('warn', 'out of space', { requestId, error: e instanceof Error ? e.message : String(e) })
    return new S3Error('InsufficientStorage')
  }
  // sqld down, restarting or stalled: a quick 503 the client retries, never a 500 or a hang.
  if (isMetaUnavailable(e)) {
    refusalLog.log('warn', 'metadata unavailable', { requestId, error: e instanceof Error ? e.message : String(e) })
    return new S3Error('ServiceUnavailable', 'The metadata service is unreachable or busy; retry shortly.')
  }
  if (isServiceError(e)) {
    const code = SERVICE_TO_S3[e.code] ?? (e.code as S3ErrorCode)
    const headers: Record<string, string> = {}
    if (e.version?.deleteMarker) headers['x-amz-delete-marker'] = 'true'
    if (e.version?.versionId !== undefined) headers['x-amz-version-id'] = e.version.versionId
    return refused(
      new S3Error(code, e.message === e.code ? undefined : e.message, e.details, headers),
      refusalLog,
      requestId,
    )
  }
  logger.log('error', 'internal error', { requestId, error: e instanceof Error ? (e.stack ?? e.message) : String(e) })
  return new S3Error('InternalError')
}

/**
 * IncompleteBody for a client that ended its side of the connection short of its Content-Length,
 * when the runtime's HTTP parser meets it before any handler can answer (src/runtime/node.ts).
 */
export function incompleteBodyAnswer(): { status: number; headers: Record<string, string>; body: string } {
  const err = new S3Error('IncompleteBody')
  const requestId = toHex(crypto.getRandomValues(new Uint8Array(8))).toUpperCase()
  return {
    status: err.status,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
    body: errorXml({ code: err.code, message: err.message, requestId }),
  }
}

export function errorResponse(err: S3Error, method: string, resource: string, requestId: string): Response {
  const headers = new Headers({ 'x-amz-request-id': requestId, ...err.headers })
  if (err.code === 'NotModified') {
    // 304 carries the validators and no body.
    if (err.details.ETag) headers.set('etag', err.details.ETag)
    if (err.details.LastModified) headers.set('last-modified', err.details.LastModified)
    return new Response(null, { status: 304, headers })
  }
  if (err.status === 503) headers.set('retry-after', '1')
  if (method === 'HEAD') return new Response(null, { status: err.status, headers })
  headers.set('content-type', 'application/xml')
  const details = { ...err.details }
  delete details.LastModified
  const body = errorXml({ code: err.code, message: err.message, resource, requestId, details })
  return new Response(body, { status: err.status, headers })
}
