/**
 * A multi-process cluster for black-box suites: a cluster file, `coffer node` processes on ports
 * chosen up front, optionally a sqld (`coffer meta-server`), and `coffer server` gateways over
 * them that share the root credentials and one master key (each gateway its own copy of the key
 * file, as on separate machines). Node only; every wait is bounded (the helpers it uses).
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePorts, initCluster, type NodeProc, startNode, stopNode } from './nodes.ts'
import { randomCredentials, startServer, type TestServer } from './server.ts'
import { type MetaServerProc, startMetaServer } from './sqld.ts'

export interface ClusterOptions {
  /** Names the temporary directory (`coffer-<name>-…`). */
  name: string
  /** How many `coffer node` processes. */
  nodes: number
  /** How many of them (the first ones) the gateways' `--nodes` lists; all by default. */
  listed?: number
  /** Starts a sqld the gateways share (`--meta`); without it each gateway keeps its own meta.db. */
  meta?: boolean
  /** `--ec K+M` of the gateways; the server's default when absent. */
  ec?: string
  /** Environment of every gateway (root credentials and the master key file are added). */
  env?: Record<string, string>
}

export interface TestCluster {
  root: string
  clusterFile: string
  nodes: NodeProc[]
  /** Present with `meta: true`. */
  sqld?: MetaServerProc
  /** The master key file of gateway `name` (under root). */
  keyFile(name: string): string
  /**
   * Starts gateway `name` (data under root/name, kept across restarts) over the cluster; `env` is
   * added to the cluster's. Its key file is written once, with the cluster's master key.
   */
  startGateway(name: string, opts?: { env?: Record<string, string>; readyTimeoutMs?: number }): Promise<TestServer>
  /** Stops every gateway it started, sqld and the nodes, and removes root. */
  stop(): Promise<void>
}

/** Nodes and sqld started side by side; gateways are started by the suite (startGateway). */
export async function startCluster(opts: ClusterOptions): Promise<TestCluster> {
  const root = await mkdtemp(join(tmpdir(), `coffer-${opts.name}-`))
  const clusterFile = join(root, 'cluster.json')
  initCluster(clusterFile)
  const ports = await freePorts(opts.nodes)
  const nodes: NodeProc[] = ports.map((port, i) => ({
    port,
    dataDir: join(root, `node-${i}`),
    url: `https://127.0.0.1:${port}`,
    log: '',
  }))
  const started: TestServer[] = []
  let sqld: MetaServerProc | undefined
  const cluster: TestCluster = {
    root,
    clusterFile,
    nodes,
    keyFile: (name) => join(root, `${name}.master.key`),
    startGateway: async (name, extra = {}) => {
      // 'wx': a gateway restarted keeps the key file it has (a rotation may have rewritten it).
      await writeFile(cluster.keyFile(name), masterKey, { mode: 0o600, flag: 'wx' }).catch(
        (e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e
        },
      )
      const listed = nodes.slice(0, opts.listed ?? nodes.length).map((n) => n.url)
      const g = await startServer({
        dataDir: join(root, name),
        // A loaded machine (other suites running) can take long to start a gateway over many processes.
        readyTimeoutMs: extra.readyTimeoutMs ?? 120_000,
        args: [
          '--cluster',
          clusterFile,
          ...(cluster.sqld ? ['--meta', cluster.sqld.url] : []),
          ...(opts.ec ? ['--ec', opts.ec] : []),
          '--nodes',
          listed.join(','),
        ],
        env: {
          COFFER_ROOT_ACCESS_KEY: creds.accessKeyId,
          COFFER_ROOT_SECRET_KEY: creds.secretAccessKey,
          ...opts.env,
          ...extra.env,
          COFFER_MASTER_KEY_FILE: cluster.keyFile(name),
        },
      })
      started.push(g)
      return g
    },
    stop: async () => {
      await Promise.all(started.map((g) => g.stop()))
      await sqld?.stop()
      await Promise.all(nodes.map((n) => stopNode(n)))
      await rm(root, { recursive: true, force: true })
    },
  }
  // What gateways of one cluster share besides the cluster file: the master key and root.
  const masterKey = randomBytes(32).toString('hex')
  const creds = randomCredentials()
  // The nodes and sqld do not depend on each other: started side by side.
  const [up, meta] = await Promise.allSettled([
    Promise.all(nodes.map((n) => startNode(n, clusterFile))),
    opts.meta ? startMetaServer(clusterFile, join(root, 'meta')) : Promise.resolve(undefined),
  ])
  if (meta.status === 'fulfilled') {
    sqld = meta.value
    cluster.sqld = meta.value
  }
  const failed = [up, meta].find((r) => r.status === 'rejected')
  if (failed) {
    await cluster.stop().catch(() => {})
    throw failed.reason
  }
  return cluster
}
