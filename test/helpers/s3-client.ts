/**
 * AWS SDK v3 S3 clients for the black-box suites, pointed at a test server and trusting its CA.
 * Uses the SDK's DEFAULT checksum behaviour (CRC32 + aws-chunked trailers) unless asked otherwise.
 */
import { Agent } from 'node:https'
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import type { TestServer } from './server.ts'

export interface S3ClientOptions {
  /** Virtual-hosted-style addressing instead of path style (needs a server started with --domain). */
  virtualHosted?: boolean
  /** Override the signing region (defaults to server.region). */
  region?: string
  /** Override credentials (e.g. to provoke InvalidAccessKeyId). */
  accessKeyId?: string
  secretAccessKey?: string
  /** Extra client config merged last. */
  config?: Partial<S3ClientConfig>
}

/**
 * An https Agent that trusts exactly the server's CA (never NODE_TLS_REJECT_UNAUTHORIZED), and
 * closes idle sockets before the server does. Node's Agent keeps an idle socket until the server
 * closes it unless it has a `timeout`; with one, it takes the server's `Keep-Alive: timeout=30`
 * hint and closes at 29 s. Without, a request sent on a socket idle for about the gateway's 30 s
 * (31 s on Node 24) meets the server's close and fails with EPIPE — several at once when they
 * went idle together — and a streamed body cannot be sent again (docs/architecture.md §8).
 */
export function tlsAgent(server: Pick<TestServer, 'caPem'>, maxSockets = 16): Agent {
  return new Agent({ ca: server.caPem, keepAlive: true, maxSockets, timeout: CLIENT_SOCKET_TIMEOUT_MS })
}

/** Above any keep-alive hint of the servers these clients use (30 s), so the hint decides. */
export const CLIENT_SOCKET_TIMEOUT_MS = 60_000

/** A default-settings S3 client for `server`: the SDK computes CRC32 and sends aws-chunked trailers. */
export function s3Client(server: TestServer, opts: S3ClientOptions = {}): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: opts.region ?? server.region,
    forcePathStyle: !opts.virtualHosted,
    credentials: {
      accessKeyId: opts.accessKeyId ?? server.accessKeyId,
      secretAccessKey: opts.secretAccessKey ?? server.secretAccessKey,
    },
    // No retries: a retried request would hide a flaky server answer from the assertion.
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      httpsAgent: tlsAgent(server),
      connectionTimeout: 10_000,
      requestTimeout: 60_000,
    }),
    ...opts.config,
  })
}

/** Same client but the SDK only sends checksums when an operation requires them (the pre-2025 default). */
export function s3ClientWhenRequired(server: TestServer, opts: S3ClientOptions = {}): S3Client {
  return s3Client(server, {
    ...opts,
    config: {
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...opts.config,
    },
  })
}

/** What an SDK rejection may carry: service exceptions have all of it, transport errors only some. */
type SdkRejection = { name?: string; Code?: string; message?: unknown; $metadata?: { httpStatusCode?: number } }

/** The error an SDK call rejected with, or a failure if it resolved. */
export async function sdkError(
  p: Promise<unknown>,
): Promise<{ name: string | undefined; status: number | undefined; message: string; raw: unknown }> {
  try {
    await p
  } catch (raw: unknown) {
    const e: SdkRejection = typeof raw === 'object' && raw !== null ? raw : {}
    return { name: e.name ?? e.Code, status: e.$metadata?.httpStatusCode, message: String(e.message), raw }
  }
  throw new Error('expected the S3 call to fail, but it succeeded')
}

/** Unique, valid bucket name for a test. */
export function bucketName(prefix = 'b'): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`.toLowerCase()
}

/** Read a GetObject Body fully. */
export async function bodyBytes(body: unknown): Promise<Buffer> {
  const b = body as { transformToByteArray?: () => Promise<Uint8Array> }
  if (!b?.transformToByteArray) throw new Error('GetObject returned no body')
  return Buffer.from(await b.transformToByteArray())
}
