/**
 * Server configuration: the type, its defaults and validation. Pure: src/runtime/env.ts fills it
 * from flags and environment variables; nothing here reads either.
 */

import type { Tuning } from './service/index.ts'

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
}

export const DEFAULTS = {
  dataDir: './data',
  host: '127.0.0.1',
  port: 9000,
  region: 'us-east-1',
  drives: 6,
  ec: '4+2',
  codec: 'simd',
} as const

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
  for (const n of c.nodes ?? [])
    if (!/^https:\/\/[^/\s]+$/.test(n))
      problems.push(`--nodes takes https://host:port URLs separated by commas, got "${n}"`)
  return problems
}
