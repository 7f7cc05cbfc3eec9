/**
 * Runs the ShardStore contract against DiskStore (a local temp drive) and RemoteStore (a storage
 * node started in-process, reached over real HTTPS on 127.0.0.1 with the cluster CA and secret).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { initCluster, type Cluster } from '../../src/runtime/cluster.ts'
import { createGatewayFetch } from '../../src/runtime/cluster-fetch.ts'
import { nodeAdapter } from '../../src/runtime/node.ts'
import { startStorageNode } from '../../src/runtime/storage-node.ts'
import { createDiskStore } from '../../src/storage/disk-store.ts'
import { createRemoteStore } from '../../src/storage/remote/client.ts'
import { createTestDisk } from '../../src/storage/disk.testkit.ts'
import { silentLogger } from '../../src/util/log.ts'
import { shardStoreContract } from './shard-store.contract.ts'

shardStoreContract('DiskStore', async () => {
  const disk = await createTestDisk()
  return { store: createDiskStore('d0', disk), cleanup: () => disk.destroy() }
})

let clusterDir: string | undefined
let cluster: Promise<Cluster> | undefined
const getCluster = () =>
  (cluster ??= (async () => {
    clusterDir = await mkdtemp(join(tmpdir(), 'coffer-contract-cluster-'))
    return initCluster(join(clusterDir, 'cluster.json'))
  })())
afterAll(async () => {
  if (clusterDir) await rm(clusterDir, { recursive: true, force: true })
})

const quiet = { out: () => {}, err: () => {} }

shardStoreContract('RemoteStore over HTTPS', async () => {
  const c = await getCluster()
  const dataDir = await mkdtemp(join(tmpdir(), 'coffer-contract-node-'))
  const node = await startStorageNode(
    { clusterFile: c.path, dataDir, port: 0, host: '127.0.0.1' },
    nodeAdapter(),
    quiet,
    { cluster: c, logger: silentLogger },
  )
  const fetch = await createGatewayFetch(c)
  // A small page size, so the contract's listing crosses several pages.
  const store = createRemoteStore({
    url: node.endpoint,
    fetch,
    timeoutMs: 10_000,
    listPageSize: 7,
  })
  return {
    store,
    async cleanup() {
      fetch.close()
      await node.stop()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
})
