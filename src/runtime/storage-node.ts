/**
 * `coffer node --cluster FILE --data DIR --port N [flags]`: a storage node serving its drive's
 * shards (storage/remote/server.ts) over HTTPS with a certificate from the cluster CA, to clients
 * that present one from the same CA (mutual TLS: the gateways of the cluster).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createDiskStore } from '../storage/disk-store.ts'
import { createNodeApp } from '../storage/remote/server.ts'
import { BytePool } from '../util/byte-pool.ts'
import { consoleLogger, type Logger } from '../util/log.ts'
import type { Output, RuntimeAdapter } from './adapter.ts'
import { parseFlags, usageError, type CommandSpec } from './args.ts'
import { loadCluster, type Cluster } from './cluster.ts'
import { makeDirs, writeFileDurably } from './durable-file.ts'
import { createFsDisk } from './fs-disk.ts'
import { commandHelp } from './help.ts'
import { endpointUrl } from './endpoint.ts'
import { CA_CERT_FILE, CA_KEY_FILE, ensureLocalTls, TLS_DIR } from './tls-ca.ts'

export interface NodeConfig {
  clusterFile: string
  dataDir: string
  port: number
  host: string
  /** Further names (DNS or IP) gateways reach this node by: they go into its certificate. */
  names?: string[]
  /** false: shard files through the page cache even where O_DIRECT works (default true). */
  directIo?: boolean
}

export interface StorageNode {
  endpoint: string
  port: number
  stop(): Promise<void>
}

/** The node's one drive lives here, beside its tls/ directory. */
export const NODE_DRIVE_DIR = 'drive'
const DEFAULT_HOST = '127.0.0.1'
/** Requests in flight get this long on shutdown; a gateway treats a cut shard as a missed write. */
const SHUTDOWN_GRACE_MS = 10_000
/**
 * Idle gateway connections stay open this long: above the gateway's own idle limit
 * (FREE_SOCKET_TIMEOUT_MS in cluster-fetch.ts, 100 s), so the gateway closes first and never
 * sends a request on a socket the node is closing; below the adapter's 120 s idle-socket limit.
 */
export const NODE_KEEP_ALIVE_MS = 115_000
const SHUTDOWN_DEADLINE_MS = 20_000
/** Released shard read buffers kept for reuse: eight GETs at once, each with a read in hand and one ahead. */
const READ_POOL_IDLE_BYTES = 8 * 1024 * 1024

export type ParsedNodeArgs =
  | { ok: true; config: NodeConfig }
  | { ok: true; help: true }
  | { ok: false; problems: string[] }

/** `coffer node`: its flags and help, parsed by args.ts. */
export const NODE_COMMAND = {
  name: 'coffer node',
  summary: 'run a storage node: keeps shards in <data>/drive, serves them to gateways over HTTPS',
  notes: [
    'The certificate comes from the cluster CA and names localhost, 127.0.0.1, ::1, --host and --names; only clients with a certificate from the cluster CA (the gateways, which issue their own from the cluster file) are let in.',
  ],
  flags: {
    cluster: {
      type: 'string',
      value: 'FILE',
      env: 'COFFER_CLUSTER',
      required: true,
      help: 'the cluster file from `coffer cluster init --out cluster.json`',
    },
    data: {
      type: 'string',
      value: 'DIR',
      env: 'COFFER_DATA',
      required: true,
      help: 'where this node keeps its shards and TLS material',
    },
    port: { type: 'int', value: 'N', env: 'COFFER_PORT', required: true, help: 'HTTPS port (0 = any free port)' },
    host: {
      type: 'string',
      value: 'HOST',
      env: 'COFFER_HOST',
      default: DEFAULT_HOST,
      help: 'address to listen on; a name or address also goes into the certificate',
    },
    names: {
      type: 'list',
      value: 'NAMES',
      env: 'COFFER_NODE_NAMES',
      help: 'further DNS names or IP addresses gateways use for this node (e.g. with --host 0.0.0.0)',
    },
    'direct-io': {
      type: 'string',
      value: 'on/off',
      env: 'COFFER_DIRECT_IO',
      default: 'on',
      help: 'write and read shard files past the page cache (O_DIRECT) where the filesystem takes it; `off` keeps them in the page cache',
    },
  },
} as const satisfies CommandSpec

export function parseNodeArgs(argv: string[], env: Record<string, string | undefined>): ParsedNodeArgs {
  const { values: v, help, problems } = parseFlags(NODE_COMMAND, argv, env)
  if (help) return { ok: true, help }
  if (v.port !== undefined && v.port > 65535) problems.push(`--port must be 0–65535, got ${v.port}`)
  for (const n of v.names)
    if (!/^[a-z0-9.:[\]-]+$/i.test(n))
      problems.push(`--names takes DNS names or IP addresses separated by commas, got "${n}"`)
  if (v['direct-io'] !== 'on' && v['direct-io'] !== 'off')
    problems.push(`--direct-io must be on or off, got "${v['direct-io']}"`)
  if (problems.length > 0) return { ok: false, problems }
  return {
    ok: true,
    config: {
      clusterFile: v.cluster,
      dataDir: v.data,
      port: v.port,
      host: v.host,
      names: v.names,
      directIo: v['direct-io'] !== 'off',
    },
  }
}

/**
 * The node's server certificate, issued by the cluster CA (tls-ca.ts does the issuing): the CA is
 * placed in <data>/tls first, so a changed cluster file makes ensureLocalTls reissue.
 */
async function nodeTls(
  dataDir: string,
  host: string,
  names: readonly string[],
  cluster: Cluster,
): Promise<{ cert: string; key: string; issued: boolean }> {
  const dir = join(dataDir, TLS_DIR)
  await makeDirs(dir)
  const caFile = join(dir, CA_CERT_FILE)
  const keyFile = join(dir, CA_KEY_FILE)
  const current = await readFile(caFile, 'utf8').catch(() => undefined)
  if (current !== cluster.caPem) {
    // The key first, each durable before the next: a ca.pem that matches the cluster file is
    // never written again, so it must not reach the disk before (or without) its key.
    await writeFileDurably(keyFile, cluster.caKeyPem, { mode: 0o600 })
    await writeFileDurably(caFile, cluster.caPem, { mode: 0o644 })
  }
  // localhost, 127.0.0.1 and ::1 are always in; the listen address (unless a wildcard) and
  // --names are added, as DNS or IP names. Not as a domain: a node serves no bucket subdomains.
  const wildcard = host === '0.0.0.0' || host === '::'
  const t = await ensureLocalTls(dataDir, undefined, wildcard ? names : [host, ...names])
  return { cert: t.cert, key: t.key, issued: t.issuedServerCert }
}

/** Starts a node (used by runNodeCommand and by tests in-process). */
export async function startStorageNode(
  c: NodeConfig,
  adapter: RuntimeAdapter,
  io: Output,
  opts: {
    logger?: Logger
    cluster?: Cluster
    /** false: every request goes through the app, as on runtimes without the fast routes (tests compare the two). */
    fastShardRoutes?: boolean
  } = {},
): Promise<StorageNode> {
  const cluster = opts.cluster ?? (await loadCluster(c.clusterFile))
  for (const w of cluster.warnings) io.err(`coffer-node: warning: ${w}`)
  await makeDirs(c.dataDir)
  const disk = createFsDisk(join(c.dataDir, NODE_DRIVE_DIR), { directIo: c.directIo })
  await disk.check()
  // Shard GETs on Node read into pooled buffers (node-shard-routes.ts); the app's GET route does not.
  const store = createDiskStore(`node-drive`, disk, { readPool: new BytePool(READ_POOL_IDLE_BYTES) })
  const swept = await store.sweepTemp()
  if (swept > 0) io.err(`coffer-node: removed ${swept} partial shard file(s) left by an earlier crash`)
  const tls = await nodeTls(c.dataDir, c.host, c.names ?? [], cluster)
  if (tls.issued) io.err('coffer-node: issued a server certificate from the cluster CA')
  if ((c.host === '0.0.0.0' || c.host === '::') && (c.names ?? []).length === 0) {
    io.err(
      'coffer-node: warning: listening on all addresses, but the certificate names only localhost, 127.0.0.1 and ::1: give --names with the addresses gateways use',
    )
  }
  const logger = opts.logger ?? consoleLogger
  const app = createNodeApp({ store, logger })
  // Mutual TLS: the handshake refuses a client without a valid certificate from the cluster CA.
  const server = await adapter.serve({
    fetch: (req) => app.fetch(req),
    host: c.host,
    port: c.port,
    cert: tls.cert,
    key: tls.key,
    clientCa: cluster.caPem,
    keepAliveTimeoutMs: NODE_KEEP_ALIVE_MS,
    // Node serves shard PUT and GET from the store directly, as the app would (adapter.ts).
    ...(opts.fastShardRoutes === false ? {} : { shards: { store, logger } }),
  })
  const endpoint = endpointUrl(c.host, server.port)
  // The one line scripts and tests wait for: printed only once the listener is ready.
  io.out(`coffer-node: listening on ${endpoint}`)
  let stopping: Promise<void> | undefined
  const stop = async () => {
    await server.close(SHUTDOWN_GRACE_MS)
  }
  return { endpoint, port: server.port, stop: () => (stopping ??= stop()) }
}

/** `coffer node ...`: resolves with an exit code, or undefined while the node runs (until SIGINT/SIGTERM). */
export async function runNodeCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  io: Output,
  adapter: RuntimeAdapter,
): Promise<number | undefined> {
  const parsed = parseNodeArgs(argv, env)
  if (!parsed.ok) return usageError(io, NODE_COMMAND.name, parsed.problems)
  if ('help' in parsed) {
    io.out(commandHelp(NODE_COMMAND))
    return 0
  }
  let node: StorageNode
  try {
    node = await startStorageNode(parsed.config, adapter, io)
  } catch (e) {
    const code = (e as { code?: string }).code
    const why =
      code === 'EADDRINUSE'
        ? `${parsed.config.host}:${parsed.config.port} is already in use: choose another --port`
        : e instanceof Error
          ? e.message
          : String(e)
    io.err(`coffer-node: cannot start: ${why}`)
    return 1
  }
  let signalled = false
  adapter.onSignals(['SIGINT', 'SIGTERM'], (signal) => {
    if (signalled) adapter.exit(1)
    signalled = true
    io.err(`coffer-node: ${signal}: closing`)
    const deadline = setTimeout(() => adapter.exit(1), SHUTDOWN_DEADLINE_MS)
    node.stop().then(
      () => {
        clearTimeout(deadline)
        adapter.exit(0)
      },
      () => adapter.exit(1),
    )
  })
  return undefined
}
