/**
 * Starts a gateway: data directory, root credentials, TLS material, local drives, the service and
 * the app, then the adapter's listener; closes them all on SIGINT/SIGTERM. Runtime-neutral.
 */
import { readdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { createApp } from '../app.ts'
import { incompleteBodyAnswer } from '../s3/handler.ts'
import type { ServerConfig } from '../config.ts'
import {
  closeService,
  DEFAULT_TUNING,
  ensureRootUser,
  openService,
  type NodeDirectory,
  type Service,
  type SpaceReport,
  startBackground,
} from '../service/index.ts'
import { createDiskStore, ecProblems, parseEc, type ShardStore } from '../storage/index.ts'
import { BytePool } from '../util/byte-pool.ts'
import { consoleLogger } from '../util/log.ts'
import { loadCodec } from './codecs.ts'
import { loadCluster, type Cluster } from './cluster.ts'
import { createGatewayFetch } from './cluster-fetch.ts'
import { createRemoteStore } from '../storage/remote/client.ts'
import type { Output, RunningServer, RuntimeAdapter } from './adapter.ts'
import { credentialsBanner, loadRootCredentials } from './credentials.ts'
import { makeDirs } from './durable-file.ts'
import { createFsDisk, type FsDiskOptions, fileSyncer, fsSpace } from './fs-disk.ts'
import { createNodeAead } from './aead-node.ts'
import { cacheLibsqlStatements } from './libsql-statements.ts'
import { loadMasterKeyFile } from './master-key.ts'
import { createPlatform } from './platform.ts'
import { DEFAULT_HASH_WORKERS, type RuntimeSettings } from './env.ts'
import { loadTlsMaterial } from './tls-options.ts'
import { createLoadSignal } from './load-signal.ts'
import { endpointUrl } from './endpoint.ts'

export type { Output } from './adapter.ts'

/**
 * Released shard read buffers kept for reuse, shared by the drives: 16 of the 1 MiB reads a
 * GET makes, so a GET's buffers cycle through the pool and eight at once find most of theirs there.
 */
const READ_POOL_IDLE_BYTES = 16 * 1024 * 1024

export interface Gateway {
  endpoint: string
  port: number
  stop(): Promise<void>
}

/** Requests in flight get this long to finish on shutdown before connections are cut. */
const SHUTDOWN_GRACE_MS = 10_000
/** After this, shutdown gives up on a clean close and exits non-zero. */
const SHUTDOWN_DEADLINE_MS = 20_000

export { endpointUrl }

/** Where a client on this machine connects when the server listens on a wildcard address. */
const clientHost = (host: string) => (host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host)

/**
 * Opens the local drives <data>/drives/0..N-1. Placement depends on the drive count, so a data
 * directory created with N drives must keep N: refuse a different count rather than lose objects.
 */
export async function openDrives(
  dataDir: string,
  count: number,
  options: FsDiskOptions = {},
): Promise<ReturnType<typeof createFsDisk>[]> {
  const dir = join(dataDir, 'drives')
  const existing = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n))
  if (existing.length > 0 && existing.length !== count) {
    throw new Error(
      `${dir} holds ${existing.length} drives but --drives is ${count}: start with --drives ${existing.length} (objects are placed by drive count)`,
    )
  }
  const disks = Array.from({ length: count }, (_, i) => createFsDisk(join(dir, String(i)), options))
  await Promise.all(disks.map((d) => d.check()))
  return disks
}

/**
 * The shard stores: storage nodes over HTTPS when --cluster/--nodes are given (this gateway
 * keeps only metadata, TLS material and credentials), else local drives with crashed writes'
 * temp files swept.
 */
async function openStores(
  c: ServerConfig & Partial<RuntimeSettings>,
  nodes: NodeDirectory | undefined,
): Promise<ShardStore[]> {
  if (nodes) return nodes.bootstrap.map((url) => nodes.storeFor({ id: url, address: url }))

  const disks = await openDrives(c.dataDir, c.drives, { directIo: c.directIo })
  // One pool of shard read buffers for all drives: a GET's read buffers come back once their
  // packages are open (docs/architecture.md §8, "Garbage collection drives GET CPU").
  const readPool = new BytePool(READ_POOL_IDLE_BYTES)
  const stores = disks.map((disk, i) => createDiskStore(`drive-${i}`, disk, { readPool }))
  await Promise.all(stores.map((s) => s.sweepTemp()))
  return stores
}

/**
 * How a distributed gateway reaches a storage node of the cluster layout: a RemoteStore over its
 * address, whose id is the node's id (the store id data layouts record). Undefined for drives.
 */
async function nodeDirectory(c: ServerConfig, cluster: Cluster | undefined): Promise<NodeDirectory | undefined> {
  if (!cluster || !c.nodes) return undefined
  // Nodes admit only clients with a certificate from the cluster CA (mutual TLS); the gateway
  // issues itself one at each start with the CA key of the cluster file, kept in memory only.
  const fetch = await createGatewayFetch(cluster)
  return {
    bootstrap: c.nodes,
    storeFor: (node) =>
      createRemoteStore({
        id: node.id,
        url: node.address,
        fetch,
        timeoutMs: c.tuning.readTimeoutMs ?? DEFAULT_TUNING.readTimeoutMs,
      }),
  }
}

/**
 * The free space of an embedded metadata file's filesystem (its directory: the file may not exist
 * yet); undefined for a sqld URL, whose disk is the sqld server's to watch.
 */
function metaSpaceOf(url: string): (() => Promise<SpaceReport | undefined>) | undefined {
  if (!url.startsWith('file:') || url.startsWith('file::memory:')) return undefined
  const path = url.slice('file:'.length).replace(/\?.*$/, '')
  return () => fsSpace(dirname(path))
}

/**
 * The sqld token: COFFER_META_AUTH_TOKEN when set (a sqld not run by `coffer meta-server`), else
 * the one `coffer meta-server` keeps in the cluster file. An embedded file needs none.
 */
function metaAuthToken(c: ServerConfig, cluster: Cluster | undefined): string | undefined {
  if (c.metaAuthToken !== undefined) return c.metaAuthToken
  if (c.metaUrl.startsWith('file:') || c.metaUrl === ':memory:') return undefined
  return cluster?.meta?.token
}

function friendlyListenError(e: unknown, c: ServerConfig): Error {
  const code = (e as { code?: string }).code ?? (e as { name?: string }).name
  if (code === 'EADDRINUSE' || code === 'AddrInUse')
    return new Error(`${c.host}:${c.port} is already in use: choose another --port, or stop the process using it`)
  if (code === 'EADDRNOTAVAIL' || code === 'AddrNotAvailable')
    return new Error(`cannot listen on ${c.host}: it is not an address of this machine; change --host`)
  if (code === 'EACCES' || code === 'PermissionDenied')
    return new Error(`not allowed to listen on ${c.host}:${c.port}: use a port above 1023 or grant the permission`)
  return e instanceof Error ? e : new Error(String(e))
}

export async function startGateway(
  c: ServerConfig & Partial<RuntimeSettings>,
  adapter: RuntimeAdapter,
  env: Record<string, string | undefined>,
  io: Output,
): Promise<Gateway> {
  // A new data directory's own name must persist too: everything acknowledged lives under it.
  await makeDirs(c.dataDir)
  const creds = await loadRootCredentials(c.dataDir, env)
  const tls = await loadTlsMaterial(c)
  // Idle hash workers are unref'd, so an early failure below cannot keep the process alive.
  const platform = createPlatform({ hashWorkers: c.hashWorkers ?? DEFAULT_HASH_WORKERS })
  const cluster = c.clusterFile ? await loadCluster(c.clusterFile) : undefined
  const nodes = await nodeDirectory(c, cluster)
  const stores = await openStores(c, nodes)
  const ec = parseEc(c.ec)
  const problems = ecProblems(ec, stores.length)
  if (problems.length > 0)
    throw new Error(`${problems.join('; ')} (--ec ${c.ec} over ${stores.length} ${c.nodes ? 'nodes' : 'drives'})`)
  const codec = await loadCodec(c.codec, (m) => io.err(`coffer: ${m}`))
  const load = createLoadSignal()
  // Embedded metadata: prepared statements kept per connection (src/meta/statement-cache.ts).
  cacheLibsqlStatements()
  const service: Service = await openService({
    metaUrl: c.metaUrl,
    metaAuthToken: metaAuthToken(c, cluster),
    metaSyncFile: fileSyncer(),
    stores,
    ec,
    codec,
    platform,
    logger: consoleLogger,
    tuning: c.tuning,
    masterKey: await loadMasterKeyFile(c.dataDir, env),
    aead: createNodeAead(),
    minFreeBytes: c.minFreeBytes,
    metaSpace: metaSpaceOf(c.metaUrl),
    nodes,
    load,
  }).catch((e: unknown) => {
    load.close()
    throw e
  })
  let server: RunningServer
  try {
    await ensureRootUser(service, { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey })
    const app = createApp({
      service,
      platform,
      region: c.region,
      domain: c.domain,
      limits: c.limits,
      sigv2: c.sigv2,
    })
    server = await adapter
      .serve({
        fetch: (req, info) => {
          load.started()
          return app.fetch(req, info)
        },
        host: c.host,
        port: c.port,
        cert: tls.cert,
        key: tls.key,
        incompleteBody: incompleteBodyAnswer,
      })
      .catch((e: unknown) => Promise.reject(friendlyListenError(e, c)))
    startBackground(service)
  } catch (e) {
    await closeService(service).catch(() => {})
    load.close()
    await platform.close()
    throw e
  }

  for (const note of tls.notes) io.err(`coffer: ${note}`)
  for (const limit of adapter.limits) io.err(`coffer: note (${adapter.name}): ${limit}`)
  const endpoint = endpointUrl(c.host, server.port)
  if (creds.source === 'generated')
    io.out(credentialsBanner(creds, endpointUrl(clientHost(c.host), server.port), tls.caFile, c.region))
  // The one line scripts and the test harness wait for: printed only once the listener is ready.
  io.out(`coffer: erasure coding ${c.ec} over ${stores.length} ${c.nodes ? 'nodes' : 'drives'}, codec ${codec.name}`)
  io.out(`coffer: listening on ${endpoint}`)

  let stopping: Promise<void> | undefined
  const stop = () =>
    (stopping ??= (async () => {
      await server.close(SHUTDOWN_GRACE_MS)
      await closeService(service)
      load.close()
      await platform.close()
    })())
  return { endpoint, port: server.port, stop }
}

/** Runs `coffer server` until SIGINT/SIGTERM: closes listener and service, then exits 0. */
export async function runServer(
  c: ServerConfig & Partial<RuntimeSettings>,
  adapter: RuntimeAdapter,
  env: Record<string, string | undefined>,
  io: Output,
): Promise<void> {
  const gateway = await startGateway(c, adapter, env, io)
  let signalled = false
  adapter.onSignals(['SIGINT', 'SIGTERM'], (signal) => {
    if (signalled) {
      io.err(`coffer: ${signal} again: exiting without waiting`)
      adapter.exit(1)
    }
    signalled = true
    io.err(`coffer: ${signal}: closing (requests in flight get ${SHUTDOWN_GRACE_MS / 1000} s)`)
    const deadline = setTimeout(() => {
      io.err('coffer: shutdown did not finish in time: exiting')
      adapter.exit(1)
    }, SHUTDOWN_DEADLINE_MS)
    gateway.stop().then(
      () => {
        clearTimeout(deadline)
        adapter.exit(0)
      },
      (e: unknown) => {
        io.err(`coffer: error while closing: ${e instanceof Error ? e.message : String(e)}`)
        adapter.exit(1)
      },
    )
  })
}
