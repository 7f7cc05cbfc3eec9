/**
 * `coffer server` flags and environment variables → ServerConfig (src/config.ts validates it), via
 * the args.ts parser: flag > env > DEFAULTS. Reads nothing itself: argv and env are passed in.
 */
import { resolve, join } from 'node:path'
import { DEFAULTS, MAX_BODY_IDLE_S, parseSize, validateConfig, type ServerConfig } from '../config.ts'
import { OFFLOAD_MIN_BYTES } from '../s3/auth/checksums.ts'
import type { Tuning } from '../service/context.ts'
import { parseFlags, type CommandSpec } from './args.ts'
import { commandHelp, envLines, type EnvSpec } from './help.ts'

/** Settings only src/runtime acts on (threads are a runtime matter), parsed beside ServerConfig. */
export interface RuntimeSettings {
  /** Hash worker threads (Platform.offloadDigest); 0 hashes on the request thread. */
  hashWorkers: number
  /** Shard files past the page cache where the drive's filesystem takes O_DIRECT (direct-io.ts). */
  directIo: boolean
}

/** One worker beside the request thread: what a 2-core machine has room for (docs/architecture.md §8). */
export const DEFAULT_HASH_WORKERS = 1
const MAX_HASH_WORKERS = 64

/** Small objects inlined into the metadata up to this: where a same-run A/B showed a gain (16 KiB objects; 17 KiB so they fit under D@RE, +16 bytes), docs/architecture.md §8. */
const DEFAULT_INLINE_MAX = '17KiB'
const MAX_INLINE_MAX = 1024 * 1024

/** `coffer server`: the flags, their environment variables and help; README's table is generated from it. */
export const SERVER_COMMAND = {
  name: 'coffer server',
  summary: 'run a gateway: S3 over HTTPS, over local drives or (with --cluster and --nodes) storage nodes',
  notes: ['`npm start -- [flags]` runs it too.'],
  flags: {
    data: {
      type: 'string',
      value: 'DIR',
      env: 'COFFER_DATA',
      default: DEFAULTS.dataDir,
      help: 'data directory: drives, metadata, TLS material, credentials',
    },
    host: { type: 'string', value: 'HOST', env: 'COFFER_HOST', default: DEFAULTS.host, help: 'address to listen on' },
    port: {
      type: 'int',
      value: 'N',
      env: 'COFFER_PORT',
      default: DEFAULTS.port,
      help: 'HTTPS port (`0` picks a free one and prints it)',
    },
    region: {
      type: 'string',
      value: 'NAME',
      env: 'COFFER_REGION',
      default: DEFAULTS.region,
      help: 'the region this endpoint serves; SigV4 scopes must name it',
    },
    domain: {
      type: 'string',
      value: 'NAME',
      env: 'COFFER_DOMAIN',
      help: 'enables virtual-hosted-style `bucket.NAME` addressing',
    },
    cert: {
      type: 'string',
      value: 'FILE',
      env: 'COFFER_CERT',
      shownDefault: 'a generated local CA',
      help: 'operator certificate chain (PEM), with --key; otherwise a local CA is generated under `<data>/tls/`',
    },
    key: { type: 'string', value: 'FILE', env: 'COFFER_KEY', help: 'operator private key (PEM), with --cert' },
    meta: {
      type: 'string',
      value: 'URL',
      env: 'COFFER_META_URL',
      shownDefault: 'file:<data>/meta.db',
      help: 'libSQL URL; a sqld `http://` or `libsql://` URL (`coffer meta-server` prints one) shares metadata between gateways (token from the --cluster file, or `COFFER_META_AUTH_TOKEN`)',
    },
    drives: {
      type: 'int',
      value: 'N',
      env: 'COFFER_DRIVES',
      default: DEFAULTS.drives,
      help: 'number of local drives under `<data>/drives/`; fixed once data is written',
    },
    ec: {
      type: 'string',
      value: 'K+M',
      env: 'COFFER_EC',
      default: DEFAULTS.ec,
      help: 'erasure coding: K data + M parity shards per stripe; K+M ≤ drives (or nodes)',
    },
    codec: {
      type: 'string',
      value: 'NAME',
      env: 'COFFER_CODEC',
      default: DEFAULTS.codec,
      help: 'Reed–Solomon implementation: `simd` (our WebAssembly SIMD kernel, `wasm/`; relaxed SIMD where the runtime has it) or `baseline` (`@subspace/reed-solomon-erasure.wasm`). Same parity bytes: either reads and heals what the other wrote',
    },
    'hash-workers': {
      type: 'int',
      value: 'N',
      env: 'COFFER_HASH_WORKERS',
      default: DEFAULT_HASH_WORKERS,
      help: `worker threads computing MD5 and checksums of request bodies ≥ ${OFFLOAD_MIN_BYTES / 1024} KiB; \`0\` keeps all hashing on the request thread`,
    },
    cluster: {
      type: 'string',
      value: 'FILE',
      env: 'COFFER_CLUSTER',
      help: 'distributed mode: the cluster file from `coffer cluster init` (with --nodes)',
    },
    nodes: {
      type: 'list',
      value: 'URLS',
      env: 'COFFER_NODES',
      help: 'distributed mode: the storage nodes, `https://host:port` (with --cluster); they bootstrap the cluster layout, which then lives in the metadata (`coffer admin node`)',
    },
    'body-min-rate': {
      type: 'int',
      value: 'BYTES',
      env: 'COFFER_BODY_MIN_RATE',
      default: DEFAULTS.bodyMinRate,
      help: 'bytes per second a request body must average; one that falls behind by more than --body-idle-timeout gets 400 RequestTimeout (`0`: only the idle limit)',
    },
    'body-idle-timeout': {
      type: 'int',
      value: 'SECONDS',
      env: 'COFFER_BODY_IDLE_TIMEOUT',
      default: DEFAULTS.bodyIdleTimeoutS,
      help: `how far a request body may fall behind --body-min-rate; a body silent this long gets 400 RequestTimeout (1..${MAX_BODY_IDLE_S})`,
    },
    'body-time-limit': {
      type: 'int',
      value: 'SECONDS',
      env: 'COFFER_BODY_TIME_LIMIT',
      default: DEFAULTS.bodyTimeLimitS,
      help: 'longest a whole request body may take (400 RequestTimeout after); larger uploads use multipart (`0`: no limit)',
    },
    'max-uploads-per-user': {
      type: 'int',
      value: 'N',
      env: 'COFFER_MAX_UPLOADS_PER_USER',
      default: DEFAULTS.maxUploadsPerUser,
      help: 'PutObject/UploadPart requests one access key may stream at once; more get 503 SlowDown (`0`: no limit)',
    },
    'max-uploads-per-connection': {
      type: 'int',
      value: 'N',
      env: 'COFFER_MAX_UPLOADS_PER_CONNECTION',
      default: DEFAULTS.maxUploadsPerConnection,
      help: 'uploads one client connection may carry at once (HTTP/2 on Deno; HTTP/1.1 carries one); more get 503 SlowDown (`0`: no limit)',
    },
    'min-free': {
      type: 'string',
      value: 'SIZE',
      env: 'COFFER_MIN_FREE',
      default: DEFAULTS.minFree,
      help: 'space every drive, node and the metadata keep free of object data (`512MiB`, `2GiB`); a write that would go below gets 507 InsufficientStorage, deletes keep working',
    },
    'inline-max': {
      type: 'string',
      value: 'SIZE',
      env: 'COFFER_INLINE_MAX',
      default: DEFAULT_INLINE_MAX,
      help: 'objects whose stored bytes (after encryption) are at most this and known up front are kept in the metadata commit instead of on shards: one sync instead of k+m (`64KiB`, `0` turns it off; at most 1MiB)',
    },
    'direct-io': {
      type: 'string',
      value: 'on/off',
      env: 'COFFER_DIRECT_IO',
      default: 'on',
      help: "write and read shard files past the page cache (O_DIRECT) where a drive's filesystem takes it; `off` keeps them in the page cache (a filesystem that refuses O_DIRECT is found out and served buffered either way)",
    },
    sigv2: {
      type: 'string',
      value: 'on/off',
      env: 'COFFER_SIGV2',
      default: DEFAULTS.sigv2,
      help: 'accept AWS Signature Version 2 (`AWS AK:signature` headers, `AWSAccessKeyId`/`Expires`/`Signature` URLs: boto3 `s3` signing, s3cmd, AWS CLI v1 presign); `off` refuses them with 400 InvalidRequest as SigV4-only AWS regions do',
    },
  },
} as const satisfies CommandSpec

/** Background timings, environment only (tests shorten them): variable → Tuning field. */
export const TUNING_ENV = {
  COFFER_GC_GRACE_MS: 'gcGraceMs',
  COFFER_ORPHAN_GRACE_MS: 'orphanGraceMs',
  COFFER_HEAL_INTERVAL_MS: 'healIntervalMs',
  COFFER_SCRUB_INTERVAL_MS: 'scrubIntervalMs',
  COFFER_SCRUB_DEEP_BYTES: 'scrubDeepBytes',
  COFFER_READ_TIMEOUT_MS: 'readTimeoutMs',
  COFFER_KMS_DAY_SECONDS: 'kmsDaySeconds',
  // Test and demo only: shrinks the lifecycle day (README, Lifecycle).
  COFFER_LIFECYCLE_DAY_SECONDS: 'lifecycleDaySeconds',
  COFFER_LIFECYCLE_INTERVAL_MS: 'lifecycleIntervalMs',
  COFFER_LIFECYCLE_BATCH: 'lifecycleBatch',
  COFFER_LIFECYCLE_PAUSE_MS: 'lifecyclePauseMs',
  COFFER_LIFECYCLE_BUSY_PERCENT: 'lifecycleBusyPercent',
  COFFER_REBALANCE_RATE: 'rebalanceRate',
  COFFER_REBALANCE_BATCH: 'rebalanceBatch',
  COFFER_REBALANCE_PAUSE_MS: 'rebalancePauseMs',
  COFFER_REBALANCE_INTERVAL_MS: 'rebalanceIntervalMs',
} as const satisfies Record<string, keyof Tuning>

/** Variables with no flag: in the help and the README's table beside the flags. */
export const SERVER_ENV_ONLY: readonly EnvSpec[] = [
  {
    env: ['COFFER_ROOT_ACCESS_KEY', 'COFFER_ROOT_SECRET_KEY'],
    shownDefault: 'generated at first start',
    help: 'root credentials; when unset they are generated into `<data>/credentials.json` (mode 0600) and printed once',
  },
  {
    env: ['COFFER_META_AUTH_TOKEN'],
    help: "auth token for a sqld metadata URL (--meta) not run by `coffer meta-server`; wins over the cluster file's",
  },
  {
    env: ['COFFER_MASTER_KEY_FILE'],
    shownDefault: '<data>/master.key',
    help: 'the D@RE master key file (32 raw bytes, 64 hex digits or base64); created at first start when unset',
  },
  {
    env: Object.keys(TUNING_ENV).filter(
      (k) => !k.startsWith('COFFER_LIFECYCLE_') && !k.startsWith('COFFER_REBALANCE_'),
    ),
    help: "background timings (ms), the scrub read budget (bytes) and the seconds a day of a KMS key deletion's waiting period lasts, mostly for tests (see Durability and SSE-KMS in the README)",
  },
  {
    env: Object.keys(TUNING_ENV).filter((k) => k.startsWith('COFFER_LIFECYCLE_')),
    shownDefault: '86400, 3600000, 200, 100, 5',
    help: 'lifecycle worker: the length of a day in seconds (a TEST AND DEMO SETTING ONLY: shrunk, rules act within seconds), the time between passes (ms), rows per round, the least pause between rounds (ms) and the share of the time (percent) it takes while requests are served, its budget (see Lifecycle in the README)',
  },
  {
    env: Object.keys(TUNING_ENV).filter((k) => k.startsWith('COFFER_REBALANCE_')),
    shownDefault: '67108864, 100, 100, 3600000',
    help: 'rebalance mover (storage nodes): its I/O budget in bytes moved per second (0 turns it off), object versions per round, the pause between rounds (ms) and the time between passes when the layout has not changed (ms) (see Operating a cluster in the README)',
  },
]

export type ParsedServerArgs =
  | { ok: true; help: false; config: ServerConfig & RuntimeSettings }
  | { ok: true; help: true }
  | { ok: false; problems: string[] }

type Env = Record<string, string | undefined>

/** Parses `coffer server` arguments (argv after the command) plus env into a validated config. */
export function parseServerArgs(args: string[], env: Env): ParsedServerArgs {
  const { values: v, help, problems } = parseFlags(SERVER_COMMAND, args, env)
  if (help) return { ok: true, help }
  const dataDir = resolve(v.data)
  const config: ServerConfig & RuntimeSettings = {
    dataDir,
    host: v.host,
    port: v.port,
    region: v.region,
    domain: v.domain?.toLowerCase(),
    certFile: optionalPath(v.cert),
    keyFile: optionalPath(v.key),
    metaUrl: v.meta ?? `file:${join(dataDir, 'meta.db')}`,
    metaAuthToken: env.COFFER_META_AUTH_TOKEN || undefined,
    drives: v.drives,
    ec: v.ec,
    codec: v.codec as ServerConfig['codec'],
    hashWorkers: v['hash-workers'],
    directIo: v['direct-io'] !== 'off',
    clusterFile: optionalPath(v.cluster),
    // validateConfig tells "--cluster without --nodes" apart by undefined, so no nodes is undefined.
    nodes: v.nodes.length ? v.nodes.map((n) => n.replace(/\/+$/, '')) : undefined,
    tuning: { ...readTuning(env, problems), inlineMax: parseSize(v['inline-max']) ?? parseSize(DEFAULT_INLINE_MAX)! },
    limits: {
      minRate: v['body-min-rate'],
      idleMs: v['body-idle-timeout'] * 1000,
      maxMs: v['body-time-limit'] * 1000,
      maxUploadsPerUser: v['max-uploads-per-user'],
      maxUploadsPerConnection: v['max-uploads-per-connection'],
    },
    minFreeBytes: parseSize(v['min-free']) ?? parseSize(DEFAULTS.minFree)!,
    sigv2: v.sigv2 !== 'off',
  }
  if (v['direct-io'] !== 'on' && v['direct-io'] !== 'off')
    problems.push(`--direct-io must be on or off, got "${v['direct-io']}"`)
  if (v.sigv2 !== 'on' && v.sigv2 !== 'off') problems.push(`--sigv2 must be on or off, got "${v.sigv2}"`)
  if (parseSize(v['min-free']) === undefined)
    problems.push(`--min-free takes a size like 512MiB, 2GiB or 1048576 (bytes), got "${v['min-free']}"`)
  const inlineMax = parseSize(v['inline-max'])
  if (inlineMax === undefined || inlineMax > MAX_INLINE_MAX)
    problems.push(`--inline-max takes a size from 0 to 1MiB like 64KiB or 131072 (bytes), got "${v['inline-max']}"`)
  if (config.hashWorkers > MAX_HASH_WORKERS)
    problems.push(`--hash-workers must be 0..${MAX_HASH_WORKERS}, got ${config.hashWorkers}`)
  // A bad number was refused above and left at its default, so validateConfig does not repeat it.
  problems.push(...validateConfig(config))
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

/** `coffer server --help`: the flags, then the variables that have none. */
export function serverHelp(): string {
  return [commandHelp(SERVER_COMMAND).trimEnd(), '', 'Environment only:', ...envLines(SERVER_ENV_ONLY), ''].join('\n')
}
