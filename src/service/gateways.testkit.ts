/**
 * Test kit: a service as the tests open it, and gateways of one cluster in one process — services
 * over one libSQL file and the same drives, each with its own caches and key lock, as separate
 * gateway processes have.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNodeAead } from '../runtime/aead-node.ts'
import { createPlatform } from '../runtime/platform.ts'
import { makeRig, testCodec } from '../storage/erasure-storage.testkit.ts'
import type { ShardStore } from '../storage/shard-store.ts'
import { closeService, ensureRootUser, openService, type Service, type ServiceOptions } from './index.ts'
import { testMasterKeyFile } from './master-key.testkit.ts'

export interface Gateways {
  services: Service[]
  close(): Promise<void>
}

/**
 * A service as the tests open it: 4+2 over `stores`, the test codec and master key, node:crypto's
 * AEAD; the root user AKROOT (secret `secret`) exists.
 */
export async function openTestService(
  metaUrl: string,
  stores: ShardStore[],
  tuning?: ServiceOptions['tuning'],
): Promise<Service> {
  const svc = await openService({
    ...(tuning ? { tuning } : {}),
    metaUrl,
    stores,
    ec: { k: 4, m: 2 },
    codec: testCodec(),
    platform: createPlatform(),
    masterKey: testMasterKeyFile(),
    aead: createNodeAead(),
  })
  await ensureRootUser(svc, { accessKeyId: 'AKROOT', secretAccessKey: 'secret' })
  return svc
}

/** `count` services sharing metadata, drives and master key; each has the root user AKROOT. */
export async function openGateways(count: number): Promise<Gateways> {
  const dir = await mkdtemp(join(tmpdir(), 'coffer-gateways-'))
  const rig = await makeRig()
  const services: Service[] = []
  const close = async () => {
    for (const s of services.splice(0)) await closeService(s)
    await rig.destroy()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    for (let i = 0; i < count; i++) {
      services.push(await openTestService(`file:${join(dir, 'meta.db')}`, rig.stores))
    }
  } catch (e) {
    await close()
    throw e
  }
  return { services, close }
}
