/**
 * A master-key rotation commits its re-wrapped blobs, then swaps the key in memory. With the
 * metadata's group commit the commit is visible to other requests before it resolves (it waits
 * for the WAL sync), so a request in that window reads a blob wrapped under the new key while
 * the gateway still holds the old one: it must still open it (the soak found 500s here). The
 * replaced key must stay openable for a grace however the swap came (the rotation itself, the
 * background follow of the fingerprint, a second rotation right after: the soak again, seed 7519).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import * as meta from '../meta/index.ts'
import { createNodeAead } from '../runtime/aead-node.ts'
import { createPlatform } from '../runtime/platform.ts'
import { makeRig, testCodec, type Rig } from '../storage/erasure-storage.testkit.ts'
import type { MasterKeyFile } from './context.ts'
import { FINGERPRINT_SETTING, followMasterKey } from './keyring.ts'
import { closeService, ensureRootUser, openService, rotateMasterKey, type Service } from './index.ts'
import { openSecret } from './user-secrets.ts'

const masterFile = (): MasterKeyFile => ({
  key: new Uint8Array(32).fill(9),
  generated: false,
  where: 'test',
  save: async () => {},
  stage: async () => {},
  promote: async () => {},
  discard: async () => {},
})

let rig: Rig | undefined
let service: Service | undefined
let dir: string | undefined
afterEach(async () => {
  if (service) await closeService(service)
  await rig?.destroy()
  if (dir) await rm(dir, { recursive: true, force: true })
  service = rig = dir = undefined
})

it('a secret read between the rotation commit and the key swap still opens (group commit window)', async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-master-window-'))
  rig = await makeRig()
  let slow = false
  service = await openService({
    metaUrl: `file:${join(dir, 'meta.db')}`,
    // The WAL sync of group commit, slowed: the rotation's commit stays unresolved for 400 ms.
    metaSyncFile: async () => {
      if (slow) await new Promise((r) => setTimeout(r, 400))
    },
    stores: rig.stores,
    ec: { k: 4, m: 2 },
    codec: testCodec(),
    platform: createPlatform(),
    masterKey: masterFile(),
    aead: createNodeAead(),
  })
  const svc = service
  await ensureRootUser(svc, { accessKeyId: 'AKROOT', secretAccessKey: 'the-secret' })
  const before = await meta.getSetting(svc.db, FINGERPRINT_SETTING)
  slow = true
  const rotation = rotateMasterKey(svc)
  // Bounded: wait until the rotation's commit is visible (the new fingerprint), not its answer.
  let seen = false
  for (let i = 0; i < 200 && !seen; i++) {
    await new Promise((r) => setTimeout(r, 5))
    seen = (await meta.getSetting(svc.db, FINGERPRINT_SETTING)) !== before
  }
  expect(seen, 'the rotation committed').toBe(true)
  const row = await meta.getUser(svc.db, 'AKROOT')
  // The row holds the secret resealed under the new key; the gateway has not swapped yet.
  expect(await openSecret(svc, row!)).toBe('the-secret')
  await rotation
  expect(await openSecret(svc, (await meta.getUser(svc.db, 'AKROOT'))!)).toBe('the-secret')
})

it('a secret read before one rotation still opens while the next rotation commits (back-to-back rotations)', async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-master-window-'))
  rig = await makeRig()
  let slow = false
  service = await openService({
    metaUrl: `file:${join(dir, 'meta.db')}`,
    metaSyncFile: async () => {
      if (slow) await new Promise((r) => setTimeout(r, 400))
    },
    stores: rig.stores,
    ec: { k: 4, m: 2 },
    codec: testCodec(),
    platform: createPlatform(),
    masterKey: masterFile(),
    aead: createNodeAead(),
  })
  const svc = service
  await ensureRootUser(svc, { accessKeyId: 'AKROOT', secretAccessKey: 'the-secret' })
  // Read under the first key, unwrapped only after a second rotation has begun its commit.
  const early = (await meta.getUser(svc.db, 'AKROOT'))!
  await rotateMasterKey(svc)
  const between = await meta.getSetting(svc.db, FINGERPRINT_SETTING)
  slow = true
  const second = rotateMasterKey(svc)
  let seen = false
  for (let i = 0; i < 200 && !seen; i++) {
    await new Promise((r) => setTimeout(r, 5))
    seen = (await meta.getSetting(svc.db, FINGERPRINT_SETTING)) !== between
  }
  expect(seen, 'the second rotation committed').toBe(true)
  expect(await openSecret(svc, early)).toBe('the-secret')
  await second
  expect(await openSecret(svc, early), 'within the grace after both swaps').toBe('the-secret')
  expect(await openSecret(svc, (await meta.getUser(svc.db, 'AKROOT'))!)).toBe('the-secret')
})

it('a secret read before the commit still opens after the background follow took the new key early', async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-master-window-'))
  rig = await makeRig()
  let slow = false
  // A key file as on disk: the rotation stages `<file>.new` before its commit.
  const file = masterFile()
  let stagedKey: Uint8Array | undefined
  file.stage = async (k) => {
    stagedKey = k
  }
  file.reload = async () => ({ key: file.key, staged: stagedKey })
  service = await openService({
    metaUrl: `file:${join(dir, 'meta.db')}`,
    metaSyncFile: async () => {
      if (slow) await new Promise((r) => setTimeout(r, 400))
    },
    stores: rig.stores,
    ec: { k: 4, m: 2 },
    codec: testCodec(),
    platform: createPlatform(),
    masterKey: file,
    aead: createNodeAead(),
  })
  const svc = service
  await ensureRootUser(svc, { accessKeyId: 'AKROOT', secretAccessKey: 'the-secret' })
  const early = (await meta.getUser(svc.db, 'AKROOT'))!
  const before = await meta.getSetting(svc.db, FINGERPRINT_SETTING)
  slow = true
  const rotation = rotateMasterKey(svc)
  let seen = false
  for (let i = 0; i < 200 && !seen; i++) {
    await new Promise((r) => setTimeout(r, 5))
    seen = (await meta.getSetting(svc.db, FINGERPRINT_SETTING)) !== before
  }
  expect(seen, 'the rotation committed').toBe(true)
  // The background timer (background.ts) sees the new fingerprint before the commit resolves.
  expect(await followMasterKey(svc)).toBe('reloaded')
  expect(await openSecret(svc, early)).toBe('the-secret')
  await rotation
  expect(await openSecret(svc, early)).toBe('the-secret')
})
