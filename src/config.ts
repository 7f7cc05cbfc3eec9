/**
 * Server configuration: the type, its defaults and validation. Pure: src/runtime/env.ts fills it
 * from flags and environment variables; nothing here reads either.
 */

import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from './s3/handler.ts'
import { DEFAULT_MIN_FREE_BYTES, type Tuning } from './service/index.ts'

export interface ServerConfig {
  /** Data directory: drives, metadata file, TLS material, credentials. */
  dataDir: string
  host: string
  /** 0 asks the OS for a free port; the adapter prints the real one. */
  port: number
  region: string
  /** Enables virtual-hosted-style addressing: `bucket.<domain>`. */
  domain?: string
  /** Operator certificate and key (PEM files); when absent a local CA is generated. */
  certFile?: string
  keyFile?: string
  /** libSQL URL: `file:<data>/meta.db` by default, or a sqld URL. */
  metaUrl: string
  metaAuthToken?: string
  /** Number of local drives under <data>/drives/ (embedded mode). */
  drives: number
  /** Erasure coding, `K+M`: K data and M parity shards per stripe. */
  ec: string
  /** Reed–Solomon implementation: our WebAssembly SIMD kernel (wasm/) or the baseline package. */
  codec: 'simd' | 'baseline'
  /** Distributed mode: the cluster file from `coffer cluster init`, and the storage node URLs. */
  clusterFile?: string
  nodes?: string[]
  /** Background timings (COFFER_*_MS environment variables), mostly for tests. */
  tuning: Partial<Tuning>
  /** Request-body time limits and upload concurrency. */
  limits: RequestLimits
  /** Bytes every filesystem (drives, metadata) keeps free of data: writes get 507 below it. */
  minFreeBytes: number
  /** Accept AWS Signature Version 2 (header and query); off, SigV2 requests get AWS's V4-only error. */
  sigv2: boolean
}

export const DEFAULTS = {
  dataDir: './data',
  host: '127.0.0.1',
  port: 9000,
  region: 'us-east-1',
  drives: 6,
  ec: '4+2',
  codec: 'simd',
  bodyMinRate: DEFAULT_REQUEST_LIMITS.minRate,
  bodyIdleTimeoutS: DEFAULT_REQUEST_LIMITS.idleMs / 1000,
  bodyTimeLimitS: DEFAULT_REQUEST_LIMITS.maxMs / 1000,
  maxUploadsPerUser: DEFAULT_REQUEST_LIMITS.maxUploadsPerUser,
  maxUploadsPerConnection: DEFAULT_REQUEST_LIMITS.maxUploadsPerConnection,
  minFree: `${DEFAULT_MIN_FREE_BYTES / 1024 / 1024}MiB`,
  sigv2: 'on',
} as const

/**
 * The longest --body-idle-timeout: the runtimes drop a connection silent for 120 s without a
 * word (src/runtime/node.ts, bun.ts), and a stalled upload must hear RequestTimeout before that.
 */
export const MAX_BODY_IDLE_S = 100

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2 }
SIZE_UNITS.g = SIZE_UNITS.gib = 1024 ** 3
SIZE_UNITS.t = SIZE_UNITS.tib = 1024 ** 4

/** `512MiB`, `2GiB`, `1048576`: a byte count with an optional binary unit; undefined if malformed. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d{1,15})\s*([a-z]*)$/i.exec(text.trim())
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined
  if (!m || unit === undefined) return undefined
  const n = Number(m[1]) * unit
  return Number.isSafeInteger(n) ? n : undefined
}

/** Returns a list of problems, each saying what to change; empty when the config is usable. */
export function validateConfig(c: ServerConfig): string[] {
  const problems: string[] = []
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65535) problems.push(`--port must be 0..65535, got ${c.port}`)
  if (!/^[a-z0-9-]{1,64}$/.test(c.region)) problems.push(`--region must look like us-east-1, got "${c.region}"`)
  if (c.domain !== undefined && !/^[a-z0-9.-]+$/i.test(c.domain))
    problems.push(`--domain must be a DNS name, got "${c.domain}"`)
  if ((c.certFile === undefined) !== (c.keyFile === undefined))
    problems.push('--cert and --key go together: give both or neither')
  if (!Number.isInteger(c.drives) || c.drives < 1 || c.drives > 64)
    problems.push(`--drives must be 1..64, got ${c.drives}`)
  if (!/^\d{1,3}\+\d{1,3}$/.test(c.ec)) problems.push(`--ec must look like 4+2 (data+parity shards), got "${c.ec}"`)
  if (c.codec !== 'simd' && c.codec !== 'baseline')
    problems.push(`--codec must be simd or baseline, got "${c.codec as string}"`)
  if ((c.clusterFile === undefined) !== (c.nodes === undefined))
    problems.push('--cluster and --nodes go together: give both for distributed mode, neither for local drives')
  const l = c.limits
  if (!(l.idleMs >= 1000 && l.idleMs <= MAX_BODY_IDLE_S * 1000))
    problems.push(
      `--body-idle-timeout must be 1..${MAX_BODY_IDLE_S} seconds (connections silent for 120 s are closed), got ${l.idleMs / 1000}`,
    )
  if (l.maxMs !== 0 && l.maxMs < l.idleMs)
    problems.push(`--body-time-limit must be 0 (none) or at least --body-idle-timeout, got ${l.maxMs / 1000}`)
  for (const n of c.nodes ?? [])
    if (!/^https:\/\/[^/\s]+$/.test(n))
      problems.push(`--nodes takes https://host:port URLs separated by commas, got "${n}"`)
  return problems
}
