/**
 * The S3 servers under test, each started on 127.0.0.1 and registered for cleanup: Coffer embedded
 * (4+2 over 6 drives), Coffer over 6 `coffer node` processes, and the s3rver baseline.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { rename } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { S3Client } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { REPO_ROOT, runtimeCommand, startServer, type TestServer } from '../../test/helpers/server.ts'
import { selfSignedCert, spawnEntry, tempDir } from './child.ts'
import { onCleanup } from './cleanup.ts'
import { tlsAgent } from '../../test/helpers/s3-client.ts'

export interface S3Target {
  name: string
  endpoint: string
  ca: string
  accessKeyId: string
  secretAccessKey: string
  /** Server processes whose peak RSS is reported (the first is the gateway). */
  pids: number[]
  /** Makes 2 of 6 shard locations unavailable (for degraded reads). */
  degrade?: () => Promise<void>
  restore?: () => Promise<void>
  /** The Coffer gateway (for metadata access by the list benchmark). */
  server?: TestServer
  stop(): Promise<void>
}

/** SDK checksum behaviour: the 2025+ default (CRC32, aws-chunked trailers) or only when required. */
export type ChecksumMode = 'default' | 'when-required'

/** A client like test/helpers/s3-client.ts, with room for 32+ concurrent requests and long bodies. */
export function clientFor(t: S3Target, mode: ChecksumMode): S3Client {
  return new S3Client({
    endpoint: t.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey },
    maxAttempts: 1, // a retry would hide an error from the figures
    requestHandler: new NodeHttpHandler({
      httpsAgent: tlsAgent({ caPem: t.ca }, 64),
      connectionTimeout: 10_000,
      requestTimeout: 300_000,
    }),
    ...(mode === 'when-required'
      ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
      : {}),
  })
}

/** Background work off, so it neither competes with the figures nor heals a degraded set mid-run. */
const QUIET_ENV = { COFFER_HEAL_INTERVAL_MS: '3600000', COFFER_SCRUB_INTERVAL_MS: '3600000' }

function fromServer(name: string, server: TestServer, extraPids: () => number[] = () => []): Omit<S3Target, 'stop'> {
  return {
    name,
    endpoint: server.endpoint,
    ca: server.caPem,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    get pids() {
      return [server.pid, ...extraPids()]
    },
    server,
  }
}

/** A client of a Coffer gateway the caller started itself (the A/B and soak scripts). */
export function clientForServer(name: string, server: TestServer, mode: ChecksumMode): S3Client {
  return clientFor({ ...fromServer(name, server), stop: () => server.stop() }, mode)
}

/** `args`: extra `coffer server` flags (e.g. `--hash-workers 0` for the before/after rows). */
export async function startCofferEmbedded(args: string[] = []): Promise<S3Target> {
  const server = await startServer({ env: QUIET_ENV, args })
  const stop = onCleanup('coffer (embedded)', () => server.stop(), { pid: server.pid, dir: server.dataDir })
  const away = [0, 1].map((i) => join(server.dataDir, 'drives', String(i)))
  return {
    ...fromServer('coffer', server),
    // Renaming two drive directories makes them vanish for the server, as an unmounted disk would.
    degrade: async () => {
      for (const d of away) await rename(d, `${d}.away`)
    },
    restore: async () => {
      for (const d of away) await rename(`${d}.away`, d)
    },
    stop,
  }
}

/** True when this checkout's CLI has `coffer node` (distributed mode). */
export function nodeCommandAvailable(): boolean {
  const { cmd, argv } = runtimeCommand('node', ['node', '--help'])
  return spawnSync(cmd, argv, { cwd: REPO_ROOT, timeout: 30_000, stdio: 'ignore' }).status === 0
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer()
          s.once('error', reject)
          s.listen(0, '127.0.0.1', () => resolve(s))
        }),
    ),
  )
  const ports = servers.map((s) => (s.address() as { port: number }).port)
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  return ports
}

const NODE_LISTENING = /^coffer-node: listening on https:\/\/\S+?:(\d+)\s*$/m

async function startNode(clusterFile: string, dataDir: string, port: number): Promise<ChildProcess> {
  const { cmd, argv } = runtimeCommand('node', [
    'node',
    '--cluster',
    clusterFile,
    '--data',
    dataDir,
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
  ])
  const child = spawn(cmd, argv, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s))
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-10_000)))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coffer node on ${port}: no listening line\n${err}`)), 30_000)
    child.stdout!.on('data', () => {
      if (NODE_LISTENING.test(out)) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code, sig) => {
      clearTimeout(timer)
      reject(new Error(`coffer node on ${port} exited (${code ?? sig})\n${err}`))
    })
  })
  return child
}

async function killChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill(signal)
  await exited
}

/** A gateway over 6 `coffer node` processes (4+2); degrade() kills two nodes with SIGKILL. */
export async function startCofferNodes(count = 6): Promise<S3Target> {
  const tmp = tempDir('coffer-bench-nodes-')
  const clusterFile = join(tmp.dir, 'cluster.json')
  const init = runtimeCommand('node', ['cluster', 'init', '--out', clusterFile])
  const r = spawnSync(init.cmd, init.argv, { cwd: REPO_ROOT, timeout: 60_000, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`coffer cluster init failed: ${r.stderr}`)
  const ports = await freePorts(count)
  const nodes: ChildProcess[] = []
  const stopNodes = onCleanup('coffer nodes', async () => {
    await Promise.all(nodes.map((c) => killChild(c, 'SIGTERM')))
  })
  // Register pids as they appear, so Ctrl-C during start-up still kills them.
  const started = await Promise.allSettled(
    ports.map(async (port, i) => {
      const child = await startNode(clusterFile, join(tmp.dir, `node-${i}`), port)
      nodes.push(child)
      onCleanup(`coffer node ${i}`, () => {}, { pid: child.pid })
    }),
  )
  const failed = started.find((s) => s.status === 'rejected')
  if (failed) throw (failed as PromiseRejectedResult).reason
  const server = await startServer({
    dataDir: join(tmp.dir, 'gateway'),
    args: ['--cluster', clusterFile, '--nodes', ports.map((p) => `https://127.0.0.1:${p}`).join(',')],
    env: { ...QUIET_ENV, COFFER_READ_TIMEOUT_MS: '2000' },
  })
  const stopGateway = onCleanup('coffer gateway', () => server.stop(), { pid: server.pid })
  const live = () => nodes.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => c.pid!)
  return {
    ...fromServer('coffer 6 nodes', server, live),
    degrade: async () => {
      await Promise.all(nodes.slice(0, 2).map((c) => killChild(c, 'SIGKILL')))
    },
    stop: async () => {
      await stopGateway()
      await stopNodes()
      await tmp.remove()
    },
  }
}

export async function startS3rver(): Promise<S3Target & { dataDir: string }> {
  const tmp = tempDir('coffer-bench-s3rver-')
  const { cert, keyFile, certFile } = selfSignedCert(tmp.dir)
  const dataDir = join(tmp.dir, 'data')
  // s3rver signs ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node >= 17) only
  // offers through the legacy provider: without it every truncated page is a 500.
  const child = await spawnEntry(
    's3rver',
    join(import.meta.dirname, 's3rver-server.ts'),
    [dataDir, keyFile, certFile],
    ['--openssl-legacy-provider'],
  )
  return {
    name: 's3rver',
    endpoint: `https://127.0.0.1:${child.port}`,
    ca: cert,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    pids: [child.pid],
    dataDir,
    stop: async () => {
      await child.stop()
      await tmp.remove()
    },
  }
}
