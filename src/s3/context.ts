/** What every S3 operation receives: the classified request, the caller and the service. */
import type { Actor, BucketRow, Service } from '../service/index.ts'
import type { Platform } from '../util/platform.ts'
import type { DecodedBody } from './auth/aws-chunked.ts'
import type { Authenticated } from './auth/sigv4.ts'
import type { RequestFacts } from './authorize.ts'
import type { Endpoint } from './classify.ts'

export interface OpContext {
  req: Request
  endpoint: Endpoint
  bucket: string
  key: string
  query: URLSearchParams
  headers: Headers
  /** Who the request runs as, as the authorization step admitted it (anonymous included). */
  actor: Actor
  /** The authentication (ANONYMOUS_AUTH for an unsigned request). */
  auth: Authenticated
  /** What the authorization step decided on: operations that check more (DeleteObjects' keys) reuse it. */
  facts: RequestFacts
  /**
   * The bucket's row as the authorization step read it for this request (undefined when it read
   * none): reads pass it on instead of querying the same row again.
   */
  bucketRow?: BucketRow
  service: Service
  platform: Platform
  region: string
  requestId: string
  /** The request body with aws-chunked framing removed and the payload hash verified. */
  body(): DecodedBody
}

export type Operation = (op: OpContext) => Promise<Response>

export const xmlResponse = (xml: string, status = 200, headers: Record<string, string> = {}): Response =>
  new Response(xml, { status, headers: { 'content-type': 'application/xml', ...headers } })

export const emptyResponse = (status = 200, headers?: HeadersInit): Response => new Response(null, { status, headers })
