/**
 * How the console acts for its signed-in user: every bucket and object operation is an S3
 * request signed (SigV4, on the server) with that user's own key and handed to the gateway's S3
 * handler in process. So it passes the very same authentication, classification, authorization
 * (src/s3/authorize.ts: identity and bucket policies, Block Public Access, namespaces), body
 * limits and write path as a request from an SDK — the console can never do more than the user.
 * The secret is looked up for each request (as SigV4 verification does), never kept in a session.
 */
import { lookupSecret, type Service } from '../service/index.ts'
import { utf8 } from '../util/bytes.ts'
import type { Platform } from '../util/platform.ts'
import { presignUrl, signRequest } from '../s3/auth/sign.ts'
import { UNSIGNED_PAYLOAD, uriEncode } from '../s3/auth/sigv4.ts'
import { type XmlElement, parseXml } from '../s3/xml/tree.ts'

/** The gateway's S3 handler: (request, raw request target, client connection) → response. */
export type S3Fetch = (req: Request, rawTarget?: string, connection?: string) => Promise<Response>

export interface User {
  accessKeyId: string
  /** `host[:port]` the browser reached the console at: signed requests and share links name it. */
  host: string
  /** The browser's `address:port`, so aws:SourceIp conditions see the real client. */
  connection?: string
}

export interface S3Call {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD'
  bucket?: string
  key?: string
  /** Sub-resources with no value (`versioning`, `uploads`) take ''. */
  query?: Record<string, string | undefined>
  headers?: Record<string, string>
  /** A small body signed by its hash, or a stream sent as UNSIGNED-PAYLOAD. */
  body?: string | ReadableStream<Uint8Array>
}

/** An S3 error answer, kept for the page to say in a sentence with its code. */
export class S3CallError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

const encodeKey = (key: string): string =>
  key
    .split('/')
    .map((s) => uriEncode(utf8(s)))
    .join('/')

/** `/bucket/key?query`, encoded as SigV4 canonicalises it. */
export function targetOf(call: Pick<S3Call, 'bucket' | 'key' | 'query'>): string {
  let path = call.bucket === undefined ? '/' : `/${uriEncode(utf8(call.bucket))}`
  if (call.key !== undefined) path += `/${encodeKey(call.key)}`
  const query = Object.entries(call.query ?? {})
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${uriEncode(utf8(k))}=${uriEncode(utf8(v))}`)
    .join('&')
  return query === '' ? path : `${path}?${query}`
}

export class AsUser {
  constructor(private readonly deps: { s3: S3Fetch; service: Service; platform: Platform; region: string }) {}

  private async secret(user: User): Promise<string> {
    const secret = await lookupSecret(this.deps.service, user.accessKeyId)
    if (secret === undefined) throw new S3CallError(403, 'InvalidAccessKeyId', 'This user no longer exists.')
    return secret
  }

  /** The S3 handler's answer, whatever its status. */
  async raw(user: User, call: S3Call): Promise<Response> {
    const target = targetOf(call)
    const url = `https://${user.host}${target}`
    const streamed = call.body instanceof ReadableStream
    const headers = signRequest(this.deps.platform, {
      method: call.method,
      url,
      body: streamed ? undefined : (call.body as string | undefined),
      headers: call.headers,
      accessKeyId: user.accessKeyId,
      secretAccessKey: await this.secret(user),
      region: this.deps.region,
      payloadHash: streamed ? UNSIGNED_PAYLOAD : undefined,
    })
    const init: RequestInit & { duplex?: 'half' } = {
      method: call.method,
      headers: { ...headers, host: user.host },
      body: call.body,
    }
    if (streamed) init.duplex = 'half'
    return this.deps.s3(new Request(url, init), target, user.connection)
  }

  /** The answer when it is a success; an S3CallError (status, code, S3's message) otherwise. */
  async ok(user: User, call: S3Call): Promise<Response> {
    const res = await this.raw(user, call)
    if (res.ok) return res
    throw await errorOf(res)
  }

  /** A successful answer's XML document. */
  async xml(user: User, call: S3Call): Promise<XmlElement> {
    return parseXml(await (await this.ok(user, call)).text())
  }

  /** A presigned GET of one object (a share link), valid for `expiresSeconds`. */
  async presignGet(user: User, bucket: string, key: string, expiresSeconds: number): Promise<string> {
    return presignUrl(this.deps.platform, {
      method: 'GET',
      url: `https://${user.host}${targetOf({ bucket, key })}`,
      accessKeyId: user.accessKeyId,
      secretAccessKey: await this.secret(user),
      region: this.deps.region,
      expiresSeconds,
    })
  }
}

export async function errorOf(res: Response): Promise<S3CallError> {
  const text = res.status === 304 ? '' : await res.text().catch(() => '')
  let code = `Http${res.status}`
  let message = res.statusText || `The request failed with status ${res.status}.`
  if (text.startsWith('<')) {
    try {
      const doc = parseXml(text)
      code = childText(doc, 'Code') ?? code
      message = childText(doc, 'Message') ?? message
    } catch {
      // not S3's XML: keep the status
    }
  }
  return new S3CallError(res.status, code, message)
}

/** The text of the first child element named `name`, or undefined. */
export function childText(el: XmlElement, name: string): string | undefined {
  return el.children.find((c) => c.name === name)?.text
}

export const children = (el: XmlElement, name: string): XmlElement[] => el.children.filter((c) => c.name === name)
