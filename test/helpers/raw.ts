/**
 * Raw HTTPS requests to a test server, signed with SigV4 by hand, for the cases no SDK will send:
 * hand-built aws-chunked bodies, bad signatures, truncated bodies, odd hosts. Uses node:https + the CA.
 */
import { request as httpsRequest } from 'node:https'
import { connect as tlsConnect } from 'node:tls'
import { createHash, createHmac } from 'node:crypto'
import { crc32 } from 'node:zlib'
import type { IncomingHttpHeaders } from 'node:http'
import type { TestServer } from './server.ts'

export const EMPTY_SHA256 = createHash('sha256').update('').digest('hex')
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD'
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'

export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  body: string
  bytes: Buffer
}

export interface Creds {
  accessKeyId: string
  secretAccessKey: string
  region: string
}

export interface RawRequest {
  method: string
  /** Already-encoded path, e.g. `/bucket/a%20b` (use `objectPath`). */
  path: string
  /** Query parameters (unencoded); '' value is sent as a bare key (`?uploads`). */
  query?: Array<[string, string]>
  headers?: Record<string, string>
  body?: Buffer | string
  /** Sign the request (default true). */
  sign?: boolean
  /** Override the signing credentials/region (defaults from the server). */
  creds?: Partial<Creds>
  /** Signing time (default now). */
  date?: Date
  /** x-amz-content-sha256 value (default: the real SHA-256 of body). */
  payloadHash?: string
  /**
   * Truncated upload: declare `declaredLength` in Content-Length, write only the body's bytes, then
   * destroy the socket. The promise resolves with status 0 if no response arrived.
   */
  truncate?: { declaredLength: number }
  /** Give up after this many ms (default 30 s). */
  timeoutMs?: number
}

export const sha256hex = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')
const hmac = (key: Buffer | string, s: string): Buffer => createHmac('sha256', key).update(s, 'utf8').digest()

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
export function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** `/bucket/key` with every key segment encoded once; `/` kept. */
export function objectPath(bucket: string, key?: string): string {
  if (key === undefined) return `/${bucket}`
  return `/${bucket}/${key.split('/').map(rfc3986).join('/')}`
}

export function amzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')
}

export function signingKey(secret: string, day: string, region: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), 's3'), 'aws4_request')
}

function canonicalQuery(q: Array<[string, string]>): string {
  return q
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&')
}

function queryString(q: Array<[string, string]>): string {
  if (q.length === 0) return ''
  return `?${q.map(([k, v]) => (v === '' ? rfc3986(k) : `${rfc3986(k)}=${rfc3986(v)}`)).join('&')}`
}

/** What a signer computed; enough to sign the chunks that follow (seed signature, key, scope). */
export interface Signed {
  headers: Record<string, string>
  signature: string
  key: Buffer
  scope: string
  amzDate: string
}

/** Sign a header-auth request; headers must already include everything to be signed except auth. */
export function signHeaders(opts: {
  method: string
  path: string
  query: Array<[string, string]>
  headers: Record<string, string>
  payloadHash: string
  creds: Creds
  date: Date
}): Signed {
  const t = amzDate(opts.date)
  const day = t.slice(0, 8)
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(opts.headers)) headers[k.toLowerCase()] = v
  headers['x-amz-date'] = t
  headers['x-amz-content-sha256'] = opts.payloadHash
  const names = Object.keys(headers).sort()
  const canonicalHeaders = names.map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, ' ')}\n`).join('')
  const signedHeaders = names.join(';')
  const creq = [
    opts.method,
    opts.path,
    canonicalQuery(opts.query),
    canonicalHeaders,
    signedHeaders,
    opts.payloadHash,
  ].join('\n')
  const scope = `${day}/${opts.creds.region}/s3/aws4_request`
  const sts = ['AWS4-HMAC-SHA256', t, scope, sha256hex(creq)].join('\n')
  const key = signingKey(opts.creds.secretAccessKey, day, opts.creds.region)
  const signature = hmac(key, sts).toString('hex')
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${opts.creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`
  return { headers, signature, key, scope, amzDate: t }
}

/** A presigned URL path+query (hand-built so that out-of-range X-Amz-Expires can be sent). */
export function presignPath(opts: {
  method: string
  path: string
  host: string
  creds: Creds
  expires: number
  date?: Date
  query?: Array<[string, string]>
}): string {
  const date = opts.date ?? new Date()
  const t = amzDate(date)
  const scope = `${t.slice(0, 8)}/${opts.creds.region}/s3/aws4_request`
  const q: Array<[string, string]> = [
    ...(opts.query ?? []),
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Credential', `${opts.creds.accessKeyId}/${scope}`],
    ['X-Amz-Date', t],
    ['X-Amz-Expires', String(opts.expires)],
    ['X-Amz-SignedHeaders', 'host'],
  ]
  const creq = [opts.method, opts.path, canonicalQuery(q), `host:${opts.host}\n`, 'host', UNSIGNED_PAYLOAD].join('\n')
  const sts = ['AWS4-HMAC-SHA256', t, scope, sha256hex(creq)].join('\n')
  const sig = hmac(signingKey(opts.creds.secretAccessKey, t.slice(0, 8), opts.creds.region), sts).toString('hex')
  return `${opts.path}?${canonicalQuery([...q, ['X-Amz-Signature', sig]])}`
}

export function serverCreds(server: TestServer, over: Partial<Creds> = {}): Creds {
  return {
    accessKeyId: over.accessKeyId ?? server.accessKeyId,
    secretAccessKey: over.secretAccessKey ?? server.secretAccessKey,
    region: over.region ?? server.region,
  }
}

/** Host header value the server sees for path-style requests. */
export const hostOf = (server: TestServer): string => `127.0.0.1:${server.port}`

/** Sign (unless sign: false) and send one request; resolves with status/headers/body. */
export function rawRequest(server: TestServer, req: RawRequest): Promise<RawResponse> {
  const query = req.query ?? []
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body)
  let headers: Record<string, string> = { host: hostOf(server) }
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v
  if (req.truncate) headers['content-length'] = String(req.truncate.declaredLength)
  else if (body !== undefined && headers['content-length'] === undefined)
    headers['content-length'] = String(body.length)
  if (req.sign !== false) {
    headers = signHeaders({
      method: req.method,
      path: req.path,
      query,
      headers,
      payloadHash: req.payloadHash ?? (body ? sha256hex(body) : EMPTY_SHA256),
      creds: serverCreds(server, req.creds),
      date: req.date ?? new Date(),
    }).headers
  }
  return sendRaw(server, {
    method: req.method,
    pathAndQuery: req.path + queryString(query),
    headers,
    body,
    truncate: !!req.truncate,
    timeoutMs: req.timeoutMs,
  })
}

/** Send pre-built headers (no signing) — used after `signHeaders` for chunked bodies. */
export function sendRaw(
  server: TestServer,
  r: {
    method: string
    pathAndQuery: string
    headers: Record<string, string>
    body?: Buffer
    truncate?: boolean
    timeoutMs?: number
  },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const timeoutMs = r.timeoutMs ?? 30_000
    let done = false
    const finish = (fn: () => void) => {
      if (done) return
      done = true
      clearTimeout(timer)
      fn()
    }
    const req = httpsRequest({
      host: '127.0.0.1',
      port: server.port,
      method: r.method,
      path: r.pathAndQuery,
      headers: r.headers,
      ca: server.caPem,
      agent: false,
    })
    const timer = setTimeout(() => {
      req.destroy()
      finish(() => reject(new Error(`raw ${r.method} ${r.pathAndQuery}: no response within ${timeoutMs} ms`)))
    }, timeoutMs)
    // A server may answer early (e.g. a 400 for a body it will not read) and close the connection
    // while we are still writing: keep whatever response arrived rather than failing on EPIPE/ECONNRESET.
    let partial: { status: number; headers: IncomingHttpHeaders; chunks: Buffer[] } | undefined
    const resolvePartial = () => {
      const bytes = Buffer.concat(partial!.chunks)
      finish(() => resolve({ status: partial!.status, headers: partial!.headers, body: bytes.toString('utf8'), bytes }))
    }
    req.on('response', (res) => {
      partial = { status: res.statusCode ?? 0, headers: res.headers, chunks: [] }
      res.on('data', (c: Buffer) => partial!.chunks.push(c))
      res.on('end', resolvePartial)
      res.on('aborted', resolvePartial)
      res.on('error', resolvePartial)
    })
    req.on('error', (e) => {
      if (partial) return resolvePartial()
      // A truncated upload ends with our own destroy(): report "no response" rather than failing.
      if (r.truncate) finish(() => resolve({ status: 0, headers: {}, body: String(e), bytes: Buffer.alloc(0) }))
      else finish(() => reject(e))
    })
    if (r.truncate) {
      req.write(r.body ?? Buffer.alloc(0), () => {
        // Give the bytes a moment to leave, then cut the connection mid-body.
        setTimeout(() => {
          req.destroy()
          finish(() => resolve({ status: 0, headers: {}, body: '', bytes: Buffer.alloc(0) }))
        }, 200)
      })
      return
    }
    req.end(r.body)
  })
}

// ---------------------------------------------------------------- aws-chunked bodies

export interface ChunkedOptions {
  /** Index of the chunk (0-based; chunks.length = the final empty chunk) whose signature is corrupted. */
  corruptChunk?: number
  /** Trailer for the ...-TRAILER mode: header name (e.g. x-amz-checksum-crc32) and its value. */
  trailer?: { name: string; value: string }
  /** Corrupt the trailer signature (signed-trailer mode). */
  corruptTrailerSignature?: boolean
}

/** Signed aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) chained from `seed`. */
export function signedChunkedBody(chunks: Buffer[], seed: Signed, opts: ChunkedOptions = {}): Buffer {
  const parts: Buffer[] = []
  let prev = seed.signature
  const all = [...chunks, Buffer.alloc(0)]
  all.forEach((c, i) => {
    const sts = ['AWS4-HMAC-SHA256-PAYLOAD', seed.amzDate, seed.scope, prev, EMPTY_SHA256, sha256hex(c)].join('\n')
    let sig = hmac(seed.key, sts).toString('hex')
    prev = sig
    if (opts.corruptChunk === i) sig = (sig[0] === '0' ? '1' : '0') + sig.slice(1)
    const last = i === all.length - 1
    parts.push(Buffer.from(`${c.length.toString(16)};chunk-signature=${sig}\r\n`), c)
    if (!last || !opts.trailer) parts.push(Buffer.from('\r\n'))
  })
  if (opts.trailer) {
    const line = `${opts.trailer.name}:${opts.trailer.value}`
    const sts = ['AWS4-HMAC-SHA256-TRAILER', seed.amzDate, seed.scope, prev, sha256hex(`${line}\n`)].join('\n')
    let sig = hmac(seed.key, sts).toString('hex')
    if (opts.corruptTrailerSignature) sig = (sig[0] === '0' ? '1' : '0') + sig.slice(1)
    parts.push(Buffer.from(`${line}\r\nx-amz-trailer-signature:${sig}\r\n\r\n`))
  }
  return Buffer.concat(parts)
}

/** Unsigned aws-chunked body with a trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER). */
export function unsignedTrailerBody(chunks: Buffer[], trailer: { name: string; value: string }): Buffer {
  const parts: Buffer[] = []
  for (const c of chunks) parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'))
  parts.push(Buffer.from(`0\r\n${trailer.name}:${trailer.value}\r\n\r\n`))
  return Buffer.concat(parts)
}

/** Split `data` into chunks of `size` bytes (last one shorter). */
export function splitChunks(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size))
  return out
}

export type ChunkedMode = typeof STREAMING_SIGNED | typeof STREAMING_SIGNED_TRAILER | typeof STREAMING_UNSIGNED_TRAILER

/** PUT an object with a hand-built aws-chunked body. */
export function putChunked(
  server: TestServer,
  bucket: string,
  key: string,
  data: Buffer,
  o: {
    mode: ChunkedMode
    chunkSize: number
    trailer?: { name: string; value: string }
    corruptChunk?: number
    corruptTrailerSignature?: boolean
    headers?: Record<string, string>
    query?: Array<[string, string]>
  },
): Promise<RawResponse> {
  const path = objectPath(bucket, key)
  const query = o.query ?? []
  const chunks = splitChunks(data, o.chunkSize)
  const base: Record<string, string> = {
    host: hostOf(server),
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': String(data.length),
    ...(o.trailer ? { 'x-amz-trailer': o.trailer.name } : {}),
    ...(o.headers ?? {}),
  }
  // The body length depends only on chunk sizes, never on signature values (always 64 hex chars).
  const placeholder: Signed = {
    headers: {},
    signature: '0'.repeat(64),
    key: Buffer.alloc(32),
    scope: 'x',
    amzDate: 'x',
  }
  const build = (seed: Signed) =>
    o.mode === STREAMING_UNSIGNED_TRAILER
      ? unsignedTrailerBody(chunks, o.trailer!)
      : signedChunkedBody(chunks, seed, {
          trailer: o.mode === STREAMING_SIGNED_TRAILER ? o.trailer : undefined,
          corruptChunk: o.corruptChunk,
          corruptTrailerSignature: o.corruptTrailerSignature,
        })
  base['content-length'] = String(build(placeholder).length)
  const seed = signHeaders({
    method: 'PUT',
    path,
    query,
    headers: base,
    payloadHash: o.mode,
    creds: serverCreds(server),
    date: new Date(),
  })
  return sendRaw(server, {
    method: 'PUT',
    pathAndQuery: path + queryString(query),
    headers: seed.headers,
    body: build(seed),
  })
}

// ---------------------------------------------------------------- response helpers

/** `<Code>` of an S3 `<Error>` document, or undefined. */
export function errorCode(body: string): string | undefined {
  return /<Error>[\s\S]*<Code>([^<]*)<\/Code>/.exec(body)?.[1]
}

/** Asserts nothing itself: returns the fields every S3 error document must have. */
export function errorFields(body: string): { code?: string; message?: string; requestId?: string } {
  return {
    code: errorCode(body),
    message: /<Message>([^<]*)<\/Message>/.exec(body)?.[1],
    requestId: /<RequestId>([^<]*)<\/RequestId>/.exec(body)?.[1],
  }
}

export const md5b64 = (b: Buffer | string): string => createHash('md5').update(b).digest('base64')

// ---------------------------------------------------------------- checksums (reference values)

export type ChecksumAlg = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256'

/** Raw digest bytes of `data` for an S3 checksum algorithm (independent of the server's code). */
export async function checksumBytes(alg: ChecksumAlg, data: Uint8Array): Promise<Buffer> {
  switch (alg) {
    case 'CRC32': {
      const b = Buffer.alloc(4)
      b.writeUInt32BE(crc32(data) >>> 0)
      return b
    }
    case 'CRC32C': {
      const { AwsCrc32c } = await import('@aws-crypto/crc32c')
      const h = new AwsCrc32c()
      h.update(data)
      return Buffer.from(await h.digest())
    }
    case 'CRC64NVME': {
      const { Crc64Nvme } = await import('@aws-sdk/crc64-nvme')
      const h = new Crc64Nvme()
      h.update(data)
      return Buffer.from(await h.digest())
    }
    case 'SHA1':
      return createHash('sha1').update(data).digest()
    case 'SHA256':
      return createHash('sha256').update(data).digest()
  }
}

export const checksumB64 = async (alg: ChecksumAlg, data: Uint8Array): Promise<string> =>
  (await checksumBytes(alg, data)).toString('base64')

/** S3 composite multipart checksum: checksum of the concatenated binary part checksums, then `-N`. */
export async function compositeChecksum(alg: ChecksumAlg, parts: Uint8Array[]): Promise<string> {
  const raw = await Promise.all(parts.map((p) => checksumBytes(alg, p)))
  return `${await checksumB64(alg, Buffer.concat(raw))}-${parts.length}`
}

/** S3 multipart ETag: quoted MD5 of the concatenated binary part MD5s, then `-N`. */
export function multipartEtag(parts: Uint8Array[]): string {
  const md5s = parts.map((p) => createHash('md5').update(p).digest())
  return `"${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${parts.length}"`
}

export const md5hex = (b: Uint8Array | string): string => createHash('md5').update(b).digest('hex')

// ---------------------------------------------------------------- slow uploads

export interface SlowUpload {
  /** Sends these body bytes now (never more than declared in total). */
  write(bytes: Buffer): void
  /** The server's answer, or status 0 when the connection closed without one. */
  response: Promise<RawResponse & { ms: number }>
  /** Cuts the connection (the client goes away). */
  destroy(): void
}

/**
 * A signed UNSIGNED-PAYLOAD upload whose body the test writes piece by piece, as slowly as it
 * likes, after headers declaring `declaredLength` bytes: drips, stalls, short bodies.
 * `response.ms` counts from the headers being sent. Bounded by `timeoutMs` (default 60 s).
 */
export function openUpload(
  server: TestServer,
  o: {
    path: string
    query?: Array<[string, string]>
    declaredLength: number
    creds?: Partial<Creds>
    timeoutMs?: number
  },
): SlowUpload {
  const query = o.query ?? []
  const signed = signHeaders({
    method: 'PUT',
    path: o.path,
    query,
    headers: { host: hostOf(server), 'content-length': String(o.declaredLength) },
    payloadHash: UNSIGNED_PAYLOAD,
    creds: serverCreds(server, o.creds),
    date: new Date(),
  })
  const req = httpsRequest({
    host: '127.0.0.1',
    port: server.port,
    method: 'PUT',
    path: o.path + queryString(query),
    headers: signed.headers,
    ca: server.caPem,
    agent: false,
  })
  const t0 = Date.now()
  const response = new Promise<RawResponse & { ms: number }>((resolve) => {
    let done = false
    const finish = (r: RawResponse) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resolve({ ...r, ms: Date.now() - t0 })
    }
    const none = (why: string) => finish({ status: 0, headers: {}, body: why, bytes: Buffer.alloc(0) })
    const timer = setTimeout(() => {
      req.destroy()
      none(`no answer within ${o.timeoutMs ?? 60_000} ms`)
    }, o.timeoutMs ?? 60_000)
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      const end = () => {
        const bytes = Buffer.concat(chunks)
        finish({ status: res.statusCode ?? 0, headers: res.headers, body: bytes.toString('utf8'), bytes })
        req.destroy() // the test is done with this upload, whatever it had left to send
      }
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', end)
      res.on('aborted', end)
      res.on('error', end)
    })
    req.on('error', (e) => none(String(e)))
    req.on('close', () => none('connection closed without an answer'))
  })
  req.flushHeaders()
  return {
    write: (bytes) => {
      if (!req.destroyed) req.write(bytes)
    },
    response,
    destroy: () => req.destroy(),
  }
}

export interface TlsExchange {
  /** Status of the first response on the connection (0 when none arrived). */
  status: number
  headers: Record<string, string>
  body: string
  /** ms from sending the head to the server closing the connection (or the wait ending). */
  ms: number
  /** True when the server closed the connection (rather than the wait running out). */
  closed: boolean
}

/**
 * A PutObject over a raw TLS socket, written byte for byte: a signed head declaring
 * `declaredLength`, then `body` (which may be shorter), then — with `halfClose` — the client's
 * end of the stream (TLS close_notify + FIN) while it keeps reading. Resolves once the server
 * closes the connection, or after `timeoutMs` with whatever arrived.
 */
export function tlsPut(
  server: TestServer,
  o: { path: string; declaredLength: number; body: Buffer; halfClose?: boolean; timeoutMs: number },
): Promise<TlsExchange> {
  const signed = signHeaders({
    method: 'PUT',
    path: o.path,
    query: [],
    headers: { host: hostOf(server), 'content-length': String(o.declaredLength) },
    payloadHash: UNSIGNED_PAYLOAD,
    creds: serverCreds(server),
    date: new Date(),
  })
  const head = `PUT ${o.path} HTTP/1.1\r\n${Object.entries(signed.headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let t0 = Date.now()
    let done = false
    const socket = tlsConnect({ host: '127.0.0.1', port: server.port, ca: server.caPem })
    const finish = (closed: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      const raw = Buffer.concat(chunks).toString('latin1')
      const sep = raw.indexOf('\r\n\r\n')
      const lines = (sep >= 0 ? raw.slice(0, sep) : raw).split('\r\n')
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0)
      const headers: Record<string, string> = {}
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':')
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim()
      }
      resolve({ status, headers, body: sep >= 0 ? raw.slice(sep + 4) : '', ms: Date.now() - t0, closed })
    }
    const timer = setTimeout(() => finish(false), o.timeoutMs)
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('end', () => finish(true))
    socket.on('close', () => finish(true))
    socket.on('error', () => finish(true))
    socket.once('secureConnect', () => {
      t0 = Date.now()
      socket.write(head)
      socket.write(o.body)
      if (o.halfClose) socket.end()
    })
  })
}
