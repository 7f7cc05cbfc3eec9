import { afterEach, describe, expect, it } from 'vitest'
import { createPlatform } from '../runtime/platform.ts'
import { createNodeAead } from '../runtime/aead-node.ts'
import { makeRig, pseudoRandom, sha256, testCodec, type Rig } from '../storage/erasure-storage.testkit.ts'
import { readAll, streamFromBytes } from '../util/streams.ts'
import {
  actorFor,
  closeService,
  createBucket,
  createUpload,
  ensureRootUser,
  type MasterKeyFile,
  openService,
  putObject,
  readObject,
  rotateNamespaceKey,
  type Service,
} from './index.ts'
import { findUpload, storePart } from './multipart.ts'

// A read or an UploadPart that looked its row up just before a namespace-key rotation committed
// holds a record wrapped by a key version that no longer exists. It must still find the object
// key (through the row's new wrapping), not fail with a 500.

const masterFile = (): MasterKeyFile => ({
  key: new Uint8Array(32).fill(7),
  generated: false,
  where: 'test',
  save: async () => {},
  stage: async () => {},
  promote: async () => {},
  discard: async () => {},
})
const ROOT = { accessKeyId: 'AKROOT', secretAccessKey: 'secret' }

let rig: Rig | undefined
let service: Service | undefined
afterEach(async () => {
  if (service) await closeService(service)
  await rig?.destroy()
  service = undefined
  rig = undefined
})

async function open(): Promise<Service> {
  rig = await makeRig()
  service = await openService({
    metaUrl: ':memory:',
    stores: rig.stores,
    ec: { k: 4, m: 2 },
    codec: testCodec(),
    platform: createPlatform(),
    masterKey: masterFile(),
    aead: createNodeAead(),
  })
  await ensureRootUser(service, ROOT)
  return service
}

const drain = (s: ReadableStream<Uint8Array>) => readAll(s, 1 << 20)

describe('reads and parts racing a namespace-key rotation', () => {
  it('a GET holding the row from before the rotation still reads the object', async () => {
    const svc = await open()
    const actor = await actorFor(svc, ROOT.accessKeyId)
    await createBucket(svc, actor, 'b', 'us-east-1')
    const body = pseudoRandom(300_000, 5)
    await putObject(svc, actor, {
      bucket: 'b',
      key: 'k',
      body: streamFromBytes(body, 65_536),
      digests: () => ({ etag: '"x"' }),
      headers: {},
      userMeta: {},
    })
    const stale = await readObject(svc, actor, { bucket: 'b', key: 'k' })
    expect((await rotateNamespaceKey(svc, 'default')).rewrapped).toBe(1)
    expect(sha256(await drain(await stale.read(0, body.length)))).toBe(sha256(body))
    expect(sha256(await drain(await stale.read(1000, 2000)))).toBe(sha256(body.subarray(1000, 2000)))
  })

  it('an UploadPart holding the upload row from before the rotation still encrypts its part', async () => {
    const svc = await open()
    const actor = await actorFor(svc, ROOT.accessKeyId)
    await createBucket(svc, actor, 'b', 'us-east-1')
    const { uploadId } = await createUpload(svc, actor, { bucket: 'b', key: 'm', headers: {}, userMeta: {} })
    const stale = await findUpload(svc, actor, { bucket: 'b', key: 'm', uploadId })
    await rotateNamespaceKey(svc, 'default')
    const part = pseudoRandom(70_000, 9)
    const row = await storePart(svc, stale, {
      partNumber: 1,
      body: streamFromBytes(part),
      digests: () => ({ etag: '"p"' }),
    })
    expect(row.size).toBe(part.length)
  })
})
