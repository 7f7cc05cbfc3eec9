/**
 * A master-key rotation commits its re-wrapped blobs, then swaps the key in memory. With the
 * metadata's group commit the commit is visible to other requests before it resolves (it waits
 * for the WAL sync), so a request in that window reads a blob wrapped under the new key while
 * the gateway still holds the old one: it must still open it (the soak found 500s here). The
 * replaced key must stay openable for a grace however the swap came (the rotation itself, the
 * background follow of the fingerprint, a second rotation right after: the soak again, seed 7519).
 * And an unwrap is itself a wait: a rotation may finish while one runs, so its retries look at
 * the keys as they are then (seed 476785), and a background follow that began before a rotation
 * must not undo it.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { masterKeyFingerprint, openUserSecret } from '../crypto/index.ts'
import * as meta from '../meta/index.ts'
import { createNodeAead } from '../runtime/aead-node.ts'
import { createPlatform } from '../runtime/platform.ts'
import { makeRig, testCodec, type Rig } from '../storage/erasure-storage.testkit.ts'
import type { MasterKeyFile } from './context.ts'
import { FINGERPRINT_SETTING, followMasterKey, underMaster } from './keyring.ts'
import { closeService, ensureRootUser, openService, rotateMasterKey, type Service } from './index.ts'
import { openSecret } from './user-secrets.ts'
import { testMasterKeyFile } from './master-key.testkit.ts'

const masterFile = (): MasterKeyFile => testMasterKeyFile(9)

let rig: Rig | undefined
let service: Service | undefined
let dir: string | undefined
afterEach(async () => {
  if (service) await closeService(service)
  await rig?.destroy()
  if (dir) await rm(dir, { recursive: true, force: true })
  service = rig = dir = undefined
})

/**
 * A service whose metadata WAL sync (group commit) can be slowed: while `slow.on`, each sync
 * takes 400 ms, so a rotation's commit stays unresolved for that long. Root's secret is sealed.
 */
async function openSlowService(file = masterFile()): Promise<{ svc: Service; slow: { on: boolean } }> {
  dir = await mkdtemp(join(tmpdir(), 'coffer-master-window-'))
  rig = await makeRig()
  const slow = { on: false }
  service = await openService({
    metaUrl: `file:${join(dir, 'meta.db')}`,
    metaSyncFile: async () => {
      if (slow.on) await new Promise((r) => setTimeout(r, 400))
    },
    stores: rig.stores,
    ec: { k: 4, m: 2 },
    codec: testCodec(),
    platform: createPlatform(),
    masterKey: file,
    aead: createNodeAead(),
  })
  await ensureRootUser(service, { accessKeyId: 'AKROOT', secretAccessKey: 'the-secret' })
  return { svc: service, slow }
}

/** Bounded: waits until a rotation's commit is visible (the fingerprint moved from `before`), not its answer. */
async function committed(svc: Service, before: string | undefined): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 5))
    if ((await meta.getSetting(svc.db, FINGERPRINT_SETTING)) !== before) return true
  }
  return false
}

const rootRow = async (svc: Service) => (await meta.getUser(svc.db, 'AKROOT'))!

it('a secret read between the rotation commit and the key swap still opens (group commit window)', async () => {
  const { svc, slow } = await openSlowService()
  const before = await meta.getSetting(svc.db, FINGERPRINT_SETTING)
  slow.on = true
  const rotation = rotateMasterKey(svc)
  expect(await committed(svc, before), 'the rotation committed').toBe(true)
  // The row holds the secret resealed under the new key; the gateway has not swapped yet.
  expect(await openSecret(svc, await rootRow(svc))).toBe('the-secret')
  await rotation
  expect(await openSecret(svc, await rootRow(svc))).toBe('the-secret')
})

it('a secret read before one rotation still opens while the next rotation commits (back-to-back rotations)', async () => {
  const { svc, slow } = await openSlowService()
  // Read under the first key, unwrapped only after a second rotation has begun its commit.
  const early = await rootRow(svc)
  await rotateMasterKey(svc)
  const between = await meta.getSetting(svc.db, FINGERPRINT_SETTING)
  slow.on = true
  const second = rotateMasterKey(svc)
  expect(await committed(svc, between), 'the second rotation committed').toBe(true)
  expect(await openSecret(svc, early)).toBe('the-secret')
  await second
  expect(await openSecret(svc, early), 'within the grace after both swaps').toBe('the-secret')
  expect(await openSecret(svc, await rootRow(svc))).toBe('the-secret')
})

it('a secret read before the commit still opens after the background follow took the new key early', async () => {
  // A key file as on disk: the rotation stages `<file>.new` before its commit.
  const file = masterFile()
  let stagedKey: Uint8Array | undefined
  file.stage = async (k) => {
    stagedKey = k
  }
  file.reload = async () => ({ key: file.key, staged: stagedKey })
  const { svc, slow } = await openSlowService(file)
  const early = await rootRow(svc)
  const before = await meta.getSetting(svc.db, FINGERPRINT_SETTING)
  slow.on = true
  const rotation = rotateMasterKey(svc)
  expect(await committed(svc, before), 'the rotation committed').toBe(true)
  // The background timer (background.ts) sees the new fingerprint before the commit resolves.
  expect(await followMasterKey(svc)).toBe('reloaded')
  expect(await openSecret(svc, early)).toBe('the-secret')
  await rotation
  expect(await openSecret(svc, early)).toBe('the-secret')
})

it('an unwrap that began under the old key opens a blob of the new key after the swap finished meanwhile', async () => {
  const { svc, slow } = await openSlowService()
  const before = await meta.getSetting(svc.db, FINGERPRINT_SETTING)
  slow.on = true
  const rotation = rotateMasterKey(svc)
  expect(await committed(svc, before), 'the rotation committed').toBe(true)
  // Read after the commit: sealed under the new key, which the rotation holds until its swap.
  const row = await rootRow(svc)
  let first = true
  const secret = await underMaster(svc, async (master) => {
    if (first) {
      first = false
      // The first try (the key in force when the request began) is still running when the
      // rotation swaps in its next key and releases it from the held keys (the soak, seed 476785).
      await rotation
    }
    return openUserSecret(master, row.accessKeyId, row.wrappedSecret!)
  })
  expect(secret).toBe('the-secret')
})

it('a background follow that began before a rotation does not put the gateway back on the replaced key', async () => {
  const file = masterFile()
  let stagedKey: Uint8Array | undefined
  file.stage = async (k) => {
    stagedKey = k
  }
  file.promote = async () => {
    file.key = stagedKey!
    stagedKey = undefined
  }
  // The follow's file read waits for `gate`, then sees the files as they were when it began.
  let gate: () => void = () => {}
  const opened = new Promise<void>((r) => (gate = r))
  let onDisk: { key?: Uint8Array; staged?: Uint8Array } = {}
  file.reload = async () => {
    onDisk = { key: file.key, staged: stagedKey }
    await opened
    return onDisk
  }
  const { svc, slow } = await openSlowService(file)
  const before = await meta.getSetting(svc.db, FINGERPRINT_SETTING)
  slow.on = true
  const first = rotateMasterKey(svc)
  expect(await committed(svc, before), 'the first rotation committed').toBe(true)
  // The background check sees the first rotation's fingerprint and goes to read the key file…
  const follow = followMasterKey(svc)
  await first
  slow.on = false
  // …while a second rotation runs to its end.
  await rotateMasterKey(svc)
  gate()
  await follow
  const stored = await meta.getSetting(svc.db, FINGERPRINT_SETTING)
  expect(await masterKeyFingerprint(svc.keys.master), 'the key in force is the stored one').toBe(stored)
})
