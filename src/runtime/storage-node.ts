/**
 * `coffer node --cluster FILE --data DIR --port N [--host H] [--names N,…]`: a storage node serving its drive's
 * shards (storage/remote/server.ts) over HTTPS with a certificate from the cluster CA.
 */
import { readFile, writeFile, chmod, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createDiskStore } from '../storage/disk-store.ts'
import { createNodeApp } from '../storage/remote/server.ts'
import { consoleLogger, type Logger } from '../util/log.ts'
import type { RuntimeAdapter } from './adapter.ts'
import { endpointUrl, type Output } from './bootstrap.ts'
import { loadCluster, type Cluster } from './cluster.ts'
import { createFsDisk } from './fs-disk.ts'
import { createPlatform } from './platform.ts'
import { CA_CERT_FILE, CA_KEY_FILE, ensureLocalTls, TLS_DIR } from './tls-ca.ts'

export interface NodeConfig {
  clusterFile: string
  dataDir: string
  port: number
  host: string
  /** Further names (DNS or IP) gateways reach this node by: they go into its certificate. */
  names?: string[]
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
const SHUTDOWN_DEADLINE_MS = 20_000
const EXIT_USAGE = 2

export type ParsedNodeArgs =
  | { ok: true; config: NodeConfig }
  | { ok: true; help: true }
  | { ok: false; problems: string[] }

export function nodeHelp(): string {
  return [
    'Usage: coffer node --cluster FILE --data DIR --port N [--host H] [--names N,…]',
    '',
    '  --cluster FILE  cluster file from `coffer cluster init` [COFFER_CLUSTER]',
    '  --data DIR      where this node keeps its shards and TLS material [COFFER_DATA]',
    '  --port N        HTTPS port (0 = any free port) [COFFER_PORT]',
    `  --host H        address to listen on (default ${DEFAULT_HOST}); a name or address also goes into the certificate [COFFER_HOST]`,
    '  --names N,…     further DNS names or IP addresses gateways use for this node (e.g. with --host 0.0.0.0) [COFFER_NODE_NAMES]',
    '',
  ].join('\n')
}

export function parseNodeArgs(argv: string[], env: Record<string, string | undefined>): ParsedNodeArgs {
  const flags: Record<string, string | undefined> = {
    cluster: env.COFFER_CLUSTER,
    data: env.COFFER_DATA,
    port: env.COFFER_PORT,
    host: env.COFFER_HOST,
    names: env.COFFER_NODE_NAMES,
  }
  const problems: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--help' || a === '-h') return { ok: true, help: true }
    const m = /^--(cluster|data|port|host|names)(?:=(.*))?$/.exec(a)
    if (!m) {
      problems.push(`unknown argument "${a}"`)
      continue
    }
    const value = m[2] ?? argv[++i]
    if (value === undefined) problems.push(`--${m[1]} needs a value`)
    else flags[m[1]!] = value
  }
  if (!flags.cluster)
    problems.push('--cluster FILE is required (create it with `coffer cluster init --out cluster.json`)')
  if (!flags.data) problems.push('--data DIR is required')
  const port = Number(flags.port)
  if (flags.port === undefined) problems.push('--port N is required')
  else if (!/^\d+$/.test(flags.port) || port > 65535) problems.push(`--port must be 0–65535, got "${flags.port}"`)
  if (problems.length > 0) return { ok: false, problems }
  const names = (flags.names ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '')
  for (const n of names)
    if (!/^[a-z0-9.:[\]-]+$/i.test(n))
      problems.push(`--names takes DNS names or IP addresses separated by commas, got "${n}"`)
  if (problems.length > 0) return { ok: false, problems }
  return {
    ok: true,
    config: { clusterFile: flags.cluster!, dataDir: flags.data!, port, host: flags.host ?? DEFAULT_HOST, names },
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
  await mkdir(dir, { recursive: true })
  const caFile = join(dir, CA_CERT_FILE)
  const keyFile = join(dir, CA_KEY_FILE)
  const current = await readFile(caFile, 'utf8').catch(() => undefined)
  if (current !== cluster.caPem) {
    await writeFile(keyFile, cluster.caKeyPem, { mode: 0o600 })
    await chmod(keyFile, 0o600)
    await writeFile(caFile, cluster.caPem, { mode: 0o644 })
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
  opts: { logger?: Logger; cluster?: Cluster } = {},
): Promise<StorageNode> {
  const cluster = opts.cluster ?? (await loadCluster(c.clusterFile))
  for (const w of cluster.warnings) io.err(`coffer-node: warning: ${w}`)
  await mkdir(c.dataDir, { recursive: true })
  const disk = createFsDisk(join(c.dataDir, NODE_DRIVE_DIR))
  await disk.check()
  const store = createDiskStore(`node-drive`, disk)
  const swept = await store.sweepTemp()
  if (swept > 0) io.err(`coffer-node: removed ${swept} partial shard file(s) left by an earlier crash`)
  const tls = await nodeTls(c.dataDir, c.host, c.names ?? [], cluster)
  if (tls.issued) io.err('coffer-node: issued a server certificate from the cluster CA')
  if ((c.host === '0.0.0.0' || c.host === '::') && (c.names ?? []).length === 0) {
    io.err(
      'coffer-node: warning: listening on all addresses, but the certificate names only localhost, 127.0.0.1 and ::1: give --names with the addresses gateways use',
    )
  }
  const app = createNodeApp({
    store,
    secret: cluster.secret,
    platform: createPlatform(),
    logger: opts.logger ?? consoleLogger,
  })
  const server = await adapter.serve({
    fetch: (req) => app.fetch(req),
    host: c.host,
    port: c.port,
    cert: tls.cert,
    key: tls.key,
  })
  const endpoint = endpointUrl(c.host, server.port)
  // The one line scripts and tests wait for: printed only once the listener is ready.
  io.out(`coffer-node: listening on ${endpoint}`)
  let stopping: Promise<void> | undefined
  return { endpoint, port: server.port, stop: () => (stopping ??= server.close(SHUTDOWN_GRACE_MS)) }
}

/** `coffer node ...`: resolves with an exit code, or undefined while the node runs (until SIGINT/SIGTERM). */
export async function runNodeCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  io: Output,
  adapter: RuntimeAdapter,
): Promise<number | undefined> {
  const parsed = parseNodeArgs(argv, env)
  if (!parsed.ok) {
    for (const p of parsed.problems) io.err(`coffer node: ${p}`)
    io.err(nodeHelp())
    return EXIT_USAGE
  }
  if ('help' in parsed) {
    io.out(nodeHelp())
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
