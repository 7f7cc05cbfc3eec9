/**
 * Flags and environment variables → ServerConfig (src/config.ts). Flags win over env, env over
 * DEFAULTS; every refusal says what to change. Reads nothing itself: argv and env are passed in.
 */
import { resolve, join } from 'node:path'
import { DEFAULTS, validateConfig, type ServerConfig } from '../config.ts'
import type { Tuning } from '../service/context.ts'

/** Settings only src/runtime acts on (threads are a runtime matter), parsed beside ServerConfig. */
export interface RuntimeSettings {
  /** Hash worker threads (Platform.offloadDigest); 0 hashes on the request thread. */
  hashWorkers: number
}

/** One worker beside the request thread: what a 2-core machine has room for (docs/architecture.md §8). */
export const DEFAULT_HASH_WORKERS = 1
const MAX_HASH_WORKERS = 64

interface FlagSpec {
  env?: string
  value: string
  help: string
  kind: 'string' | 'int'
}

/** The server flags, their env names and help text: the CLI help is generated from this table. */
export const SERVER_FLAGS: Record<string, FlagSpec> = {
  data: {
    env: 'COFFER_DATA',
    value: 'DIR',
    kind: 'string',
    help: `data directory: drives, metadata, TLS material, credentials (default ${DEFAULTS.dataDir})`,
  },
  host: { env: 'COFFER_HOST', value: 'HOST', kind: 'string', help: `address to listen on (default ${DEFAULTS.host})` },
  port: {
    env: 'COFFER_PORT',
    value: 'N',
    kind: 'int',
    help: `HTTPS port; 0 picks a free one (default ${DEFAULTS.port})`,
  },
  region: {
    env: 'COFFER_REGION',
    value: 'NAME',
    kind: 'string',
    help: `region served; SigV4 scopes must name it (default ${DEFAULTS.region})`,
  },
  domain: {
    env: 'COFFER_DOMAIN',
    value: 'NAME',
    kind: 'string',
    help: 'enables virtual-hosted-style addressing: bucket.NAME',
  },
  cert: {
    env: 'COFFER_CERT',
    value: 'FILE',
    kind: 'string',
    help: 'operator certificate chain (PEM); with --key. Default: a generated local CA',
  },
  key: { env: 'COFFER_KEY', value: 'FILE', kind: 'string', help: 'operator private key (PEM); with --cert' },
  meta: {
    env: 'COFFER_META_URL',
    value: 'URL',
    kind: 'string',
    help: 'libSQL URL (default file:<data>/meta.db); a sqld URL uses COFFER_META_AUTH_TOKEN',
  },
  drives: {
    env: 'COFFER_DRIVES',
    value: 'N',
    kind: 'int',
    help: `local drives under <data>/drives/ (default ${DEFAULTS.drives})`,
  },
  ec: {
    env: 'COFFER_EC',
    value: 'K+M',
    kind: 'string',
    help: `erasure coding: K data + M parity shards per stripe (default ${DEFAULTS.ec})`,
  },
  'hash-workers': {
    env: 'COFFER_HASH_WORKERS',
    value: 'N',
    kind: 'int',
    help: `worker threads hashing big request bodies (MD5, checksums); 0 = all on the request thread (default ${DEFAULT_HASH_WORKERS})`,
  },
  codec: {
    env: 'COFFER_CODEC',
    value: 'NAME',
    kind: 'string',
    help: `Reed–Solomon codec: simd (our WebAssembly SIMD kernel) or baseline (@subspace/reed-solomon-erasure.wasm) (default ${DEFAULTS.codec})`,
  },
  cluster: {
    env: 'COFFER_CLUSTER',
    value: 'FILE',
    kind: 'string',
    help: 'distributed mode: cluster file from `coffer cluster init` (with --nodes)',
  },
  nodes: {
    env: 'COFFER_NODES',
    value: 'URLS',
    kind: 'string',
    help: 'distributed mode: storage node URLs, comma-separated (with --cluster)',
  },
}

/** Background timings, environment only (tests shorten them): variable → Tuning field. */
export const TUNING_ENV = {
  COFFER_GC_GRACE_MS: 'gcGraceMs',
  COFFER_ORPHAN_GRACE_MS: 'orphanGraceMs',
  COFFER_HEAL_INTERVAL_MS: 'healIntervalMs',
  COFFER_SCRUB_INTERVAL_MS: 'scrubIntervalMs',
  COFFER_SCRUB_DEEP_BYTES: 'scrubDeepBytes',
  COFFER_READ_TIMEOUT_MS: 'readTimeoutMs',
} as const satisfies Record<string, keyof Tuning>

export type ParsedServerArgs =
  | { ok: true; config: ServerConfig & RuntimeSettings; help: boolean }
  | { ok: false; problems: string[] }

type Env = Record<string, string | undefined>

/** Parses `coffer server` arguments (argv after the command) plus env into a validated config. */
export function parseServerArgs(args: string[], env: Env): ParsedServerArgs {
  const problems: string[] = []
  const flags = new Map<string, string>()
  let help = false
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--help' || arg === '-h') {
      help = true
      continue
    }
    if (!arg.startsWith('--')) {
      problems.push(`unexpected argument "${arg}": flags look like --port 9000 (see coffer help)`)
      continue
    }
    const eq = arg.indexOf('=')
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq)
    if (!(name in SERVER_FLAGS)) {
      problems.push(
        `unknown flag --${name}: known flags are ${Object.keys(SERVER_FLAGS)
          .map((f) => `--${f}`)
          .join(', ')}`,
      )
      if (eq < 0 && i + 1 < args.length && !args[i + 1]!.startsWith('--')) i++ // skip its value too
      continue
    }
    let value: string | undefined
    if (eq >= 0) value = arg.slice(eq + 1)
    else if (i + 1 < args.length && !args[i + 1]!.startsWith('--')) value = args[++i]
    if (value === undefined || value === '') {
      problems.push(`--${name} needs a value: --${name} ${SERVER_FLAGS[name]!.value}`)
      continue
    }
    if (flags.has(name)) problems.push(`--${name} is given twice: keep one`)
    flags.set(name, value)
  }
  if (help) return { ok: true, help, config: defaultsFor(env) }

  // An empty env variable counts as unset: `COFFER_DOMAIN= coffer server` should not mean domain "".
  const get = (name: string): string | undefined => {
    const flag = flags.get(name)
    if (flag !== undefined) return flag
    const envName = SERVER_FLAGS[name]!.env
    const v = envName ? env[envName] : undefined
    return v === undefined || v === '' ? undefined : v
  }
  const badNumbers = new Set<string>()
  const int = (name: string, dflt: number): number => {
    const raw = get(name)
    if (raw === undefined) return dflt
    if (/^\d{1,9}$/.test(raw.trim())) return Number(raw.trim())
    const source = flags.has(name) ? `--${name}` : SERVER_FLAGS[name]!.env!
    problems.push(`${source} needs a whole number, got "${raw}"`)
    badNumbers.add(name)
    return NaN
  }

  const dataDir = resolve(get('data') ?? DEFAULTS.dataDir)
  const config: ServerConfig & RuntimeSettings = {
    dataDir,
    host: get('host') ?? DEFAULTS.host,
    port: int('port', DEFAULTS.port),
    region: get('region') ?? DEFAULTS.region,
    domain: get('domain')?.toLowerCase(),
    certFile: optionalPath(get('cert')),
    keyFile: optionalPath(get('key')),
    metaUrl: get('meta') ?? `file:${join(dataDir, 'meta.db')}`,
    metaAuthToken: env.COFFER_META_AUTH_TOKEN || undefined,
    drives: int('drives', DEFAULTS.drives),
    ec: get('ec') ?? DEFAULTS.ec,
    codec: (get('codec') ?? DEFAULTS.codec) as ServerConfig['codec'],
    hashWorkers: int('hash-workers', DEFAULT_HASH_WORKERS),
    clusterFile: optionalPath(get('cluster')),
    nodes: get('nodes')
      ?.split(',')
      .map((n) => n.trim().replace(/\/+$/, ''))
      .filter((n) => n !== ''),
    tuning: readTuning(env, problems),
  }
  // validateConfig would repeat "must be 0..65535, got NaN" for a value already refused above.
  if (config.hashWorkers > MAX_HASH_WORKERS)
    problems.push(`--hash-workers must be 0..${MAX_HASH_WORKERS}, got ${config.hashWorkers}`)
  for (const p of validateConfig(config)) if (![...badNumbers].some((n) => p.startsWith(`--${n} `))) problems.push(p)
  return problems.length ? { ok: false, problems } : { ok: true, help, config }
}

function readTuning(env: Env, problems: string[]): Partial<Tuning> {
  const tuning: Partial<Tuning> = {}
  for (const [name, field] of Object.entries(TUNING_ENV)) {
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    if (!/^\d{1,12}$/.test(raw)) problems.push(`${name} needs a whole number, got "${raw}"`)
    else tuning[field] = Number(raw)
  }
  return tuning
}

const optionalPath = (p: string | undefined): string | undefined => (p === undefined ? undefined : resolve(p))

function defaultsFor(env: Env): ServerConfig & RuntimeSettings {
  const dataDir = resolve(env.COFFER_DATA || DEFAULTS.dataDir)
  return {
    ...DEFAULTS,
    dataDir,
    metaUrl: `file:${join(dataDir, 'meta.db')}`,
    tuning: {},
    hashWorkers: DEFAULT_HASH_WORKERS,
  }
}

/** Help text for `coffer server`, generated from SERVER_FLAGS. */
export function serverFlagsHelp(): string {
  return Object.entries(SERVER_FLAGS)
    .map(
      ([name, f]) =>
        `  --${`${name} ${f.value}`.padEnd(14)} ${f.env ? `[${f.env}]`.padEnd(18) : ''.padEnd(18)} ${f.help}`,
    )
    .join('\n')
}
