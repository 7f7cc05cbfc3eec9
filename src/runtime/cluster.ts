/**
 * The cluster file (`coffer cluster init --out cluster.json`): a 256-bit cluster secret and the
 * cluster CA in one JSON file, mode 0600; loadCluster reads and validates it. Uses node:fs.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fromBase64, toBase64, toHex } from '../util/bytes.ts'
import type { Output } from './adapter.ts'
import { writeFileDurably } from './durable-file.ts'
import { EXIT_USAGE, parseFlags, splitWords, usageError, type CommandSpec } from './args.ts'
import { commandHelp, commandList } from './help.ts'
import { CA_KEY_FILE, ensureLocalTls, TLS_DIR } from './tls-ca.ts'

// FORMAT: the cluster file. Every gateway and node of a cluster reads it. DO NOT CHANGE the field
// names or meaning; a new shape gets CLUSTER_VERSION 2 and a reader for both.
export const CLUSTER_FORMAT = 'coffer-cluster'
export const CLUSTER_VERSION = 1
/** Bytes of the cluster secret (256 bits). */
export const CLUSTER_SECRET_BYTES = 32

export interface ClusterFile {
  format: typeof CLUSTER_FORMAT
  version: typeof CLUSTER_VERSION
  /** base64 of CLUSTER_SECRET_BYTES random bytes. */
  secret: string
  /** PEM of the cluster CA certificate: gateways trust only this for node connections. */
  caCert: string
  /** PEM (PKCS#8) of the CA key: nodes issue their own server certificate with it at first start. */
  caKey: string
  created: string
  /**
   * Optional (added by `coffer meta-server` at its first start; readers that predate it ignore
   * it): how gateways authenticate to the cluster's sqld. `key` is the Ed25519 public key sqld
   * checks tokens with (raw 32 bytes, URL-safe base64); `token` a JWT signed by its private key,
   * which is then thrown away. Both together, or neither.
   */
  meta?: { key: string; token: string }
}

export interface Cluster {
  path: string
  secret: Uint8Array
  caPem: string
  caKeyPem: string
  /** The sqld auth of the cluster file's `meta` field, once `coffer meta-server` has added it. */
  meta?: { key: string; token: string }
  /** Problems worth a line in the start-up log (e.g. file readable by others). */
  warnings: string[]
}

/**
 * A new CA from tls-ca.ts: ensureLocalTls creates one in a scratch directory (with a throwaway
 * server certificate); the CA's two PEMs are kept, the rest is removed.
 */
async function createClusterCa(): Promise<{ caPem: string; caKeyPem: string }> {
  const scratch = await mkdtemp(join(tmpdir(), 'coffer-cluster-ca-'))
  try {
    const tls = await ensureLocalTls(scratch)
    const caKeyPem = await readFile(join(scratch, TLS_DIR, CA_KEY_FILE), 'utf8')
    return { caPem: tls.caPem, caKeyPem }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

export async function initCluster(out: string, opts: { force?: boolean } = {}): Promise<Cluster> {
  const path = resolve(out)
  const exists = await stat(path).then(
    () => true,
    () => false,
  )
  if (exists && !opts.force)
    throw new Error(`${path} already exists: keep it (every node and gateway uses it), or pass --force to replace it`)
  const secret = crypto.getRandomValues(new Uint8Array(CLUSTER_SECRET_BYTES))
  const ca = await createClusterCa()
  const file: ClusterFile = {
    format: CLUSTER_FORMAT,
    version: CLUSTER_VERSION,
    secret: toBase64(secret),
    caCert: ca.caPem,
    caKey: ca.caKeyPem,
    created: new Date().toISOString(),
  }
  await writeClusterFile(path, file)
  return { path, secret, caPem: ca.caPem, caKeyPem: ca.caKeyPem, warnings: [] }
}

/** Reads and validates a cluster file; errors say what to do. */
export async function loadCluster(file: string): Promise<Cluster> {
  const path = resolve(file)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    throw new Error(
      `cannot read cluster file ${path} (${(e as { code?: string }).code ?? String(e)}): create one with \`coffer cluster init --out ${file}\` and copy it to every node and gateway`,
    )
  }
  const bad = (why: string) => new Error(`${path} is not a usable cluster file: ${why}`)
  let json: Partial<ClusterFile>
  try {
    json = JSON.parse(text) as Partial<ClusterFile>
  } catch {
    throw bad('not JSON')
  }
  if (json.format !== CLUSTER_FORMAT) throw bad(`"format" must be "${CLUSTER_FORMAT}"`)
  if (json.version !== CLUSTER_VERSION)
    throw bad(`version ${String(json.version)} is not supported (this coffer reads version ${CLUSTER_VERSION})`)
  const secret = typeof json.secret === 'string' ? fromBase64(json.secret) : undefined
  if (!secret || secret.length !== CLUSTER_SECRET_BYTES)
    throw bad(`"secret" must be ${CLUSTER_SECRET_BYTES} bytes in base64`)
  if (typeof json.caCert !== 'string' || !json.caCert.includes('-----BEGIN CERTIFICATE-----'))
    throw bad('"caCert" must be a PEM certificate')
  if (typeof json.caKey !== 'string' || !json.caKey.includes('-----BEGIN PRIVATE KEY-----'))
    throw bad('"caKey" must be a PEM private key')
  const meta = json.meta
  if (meta !== undefined && (typeof meta?.key !== 'string' || typeof meta?.token !== 'string'))
    throw bad('"meta" must hold "key" and "token" (written by `coffer meta-server`)')
  const warnings: string[] = []
  const mode = (await stat(path)).mode & 0o777
  if (mode & 0o077)
    warnings.push(
      `${path} is readable by other users (mode ${mode.toString(8)}): chmod 600 it, it holds the cluster secret`,
    )
  return { path, secret, caPem: json.caCert, caKeyPem: json.caKey, meta, warnings }
}

/**
 * Adds the `meta` field to a cluster file (other fields untouched), the same way init writes it:
 * a temp file at mode 0600, then a rename. Refuses to replace a `meta` already there: gateways
 * hold its token.
 */
export async function addClusterMeta(file: string, meta: { key: string; token: string }): Promise<void> {
  const path = resolve(file)
  const json = JSON.parse(await readFile(path, 'utf8')) as ClusterFile
  if (json.meta) throw new Error(`${path} already has a metadata token`)
  await writeClusterFile(path, { ...json, meta })
}

async function writeClusterFile(path: string, file: ClusterFile): Promise<void> {
  // Temp file then rename, mode 0600 from the start: the secret is never readable by others.
  // Durable when it resolves: `meta` holds the token of a sqld that meta-server already set up.
  const tmp = `${path}.${toHex(crypto.getRandomValues(new Uint8Array(6)))}.tmp`
  await writeFileDurably(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, tmp, exclusive: true })
}

/** `coffer cluster init`: its flags and help, parsed by args.ts. */
export const CLUSTER_INIT_COMMAND = {
  name: 'coffer cluster init',
  summary: 'create a cluster file (mode 0600): a 256-bit cluster secret and a cluster CA for storage nodes',
  flags: {
    out: { type: 'string', value: 'FILE', required: true, help: 'where to write the cluster file' },
    force: { type: 'boolean', help: 'replace an existing file (its nodes and gateways must all get the new one)' },
  },
  notes: [
    'Copy the file to every storage node (`coffer node --cluster FILE ...`) and gateway (`coffer server --cluster FILE --nodes URL,...`). Anyone holding it can act as a gateway.',
  ],
} as const satisfies CommandSpec

/** The `coffer cluster` verbs (one so far). */
export const CLUSTER_COMMANDS: readonly CommandSpec[] = [CLUSTER_INIT_COMMAND]

function clusterHelp(): string {
  return ['Usage:', ...commandList(CLUSTER_COMMANDS), '', 'Run `coffer cluster VERB --help` for its flags.', ''].join(
    '\n',
  )
}

/** `coffer cluster init --out FILE [--force]`; resolves with the exit code. */
export async function runClusterCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  io: Output,
): Promise<number> {
  const { words, rest, help } = splitWords({}, argv, 1)
  const [verb] = words
  if (verb === undefined || verb === 'help') {
    // Asked for help: stdout, exit 0. No verb at all is a usage error: stderr, exit 2.
    if (help || verb === 'help') {
      io.out(clusterHelp())
      return 0
    }
    io.err(clusterHelp())
    return EXIT_USAGE
  }
  if (verb !== 'init') return usageError(io, 'coffer cluster', [`unknown verb "${verb}": the verbs are init`])
  const p = parseFlags(CLUSTER_INIT_COMMAND, rest, env)
  if (p.help) {
    io.out(commandHelp(CLUSTER_INIT_COMMAND))
    return 0
  }
  if (p.problems.length) return usageError(io, CLUSTER_INIT_COMMAND.name, p.problems)
  try {
    const c = await initCluster(p.values.out, { force: p.values.force })
    io.out(`coffer: wrote cluster file ${c.path} (mode 0600): copy it to every node and gateway; keep it secret`)
    return 0
  } catch (e) {
    io.err(`coffer cluster init: ${e instanceof Error ? e.message : String(e)}`)
    return 1
  }
}
