import { afterEach, describe, expect, it } from 'vitest'
import { createPlatform } from '../runtime/platform.ts'
import { createNodeAead } from '../runtime/aead-node.ts'
import { makeRig, pseudoRandom, sha256, testCodec, type Rig } from '../storage/erasure-storage.testkit.ts'
import { readAll, streamFromBytes } from '../util/streams.ts'
import {
  actorFor,
  closeService,
  completeUpload,
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
import * as meta from '../meta/index.ts'
import { objects } from '../meta/schema.ts'
import { findUpload, storePart } from './multipart.ts'
import { testMasterKeyFile } from './master-key.testkit.ts'

// A read or an UploadPart that looked its row up just before a namespace-key rotation committed
// holds a record wrapped by a key version that no longer exists. It must still find the object
// key (through the row's new wrapping), not fail with a 500.

const masterFile = (): MasterKeyFile => testMasterKeyFile()
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

/** A body that hands out its first bytes, then waits for `release()` before the rest. */
function heldBody(bytes: Uint8Array, firstBytes: number) {
  let release!: () => void
  const released = new Promise<void>((r) => {
    release = r
  })
  let started!: () => void
  const reading = new Promise<void>((r) => {
    started = r
  })
  let sent = 0
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      if (sent === 0) started()
      if (sent >= firstBytes) await released
      const n = Math.min(65_536, bytes.length - sent)
      c.enqueue(bytes.subarray(sent, sent + n))
      sent += n
      if (sent >= bytes.length) c.close()
    },
  })
  return { body, reading, release }
}

describe('writes racing a namespace-key rotation (issue 10, defect 1)', () => {
  it('a PUT that wrapped its key before a rotation committed and commits after it reads back; the next rotation works', async () => {
    const svc = await open()
    const actor = await actorFor(svc, ROOT.accessKeyId)
    await createBucket(svc, actor, 'b', 'us-east-1')
    const data = pseudoRandom(1_000_000, 3)
    const held = heldBody(data, 200_000)
    const put = putObject(svc, actor, {
      bucket: 'b',
      key: 'late',
      body: held.body,
      digests: () => ({ etag: '"x"' }),
      headers: {},
      userMeta: {},
    })
    await held.reading // the write has taken namespace key version 1 and is storing
    expect((await rotateNamespaceKey(svc, 'default')).keyVersion).toBe(2)
    held.release()
    await put
    const read = async () =>
      sha256(await drain(await (await readObject(svc, actor, { bucket: 'b', key: 'late' })).read(0, data.length)))
    expect(await read()).toBe(sha256(data))
    expect((await rotateNamespaceKey(svc, 'default')).keyVersion).toBe(3)
    expect(await read()).toBe(sha256(data))
  })

  it('an upload created before a rotation completes after it, and its object reads back', async () => {
    const svc = await open()
    const actor = await actorFor(svc, ROOT.accessKeyId)
    await createBucket(svc, actor, 'b', 'us-east-1')
    const { uploadId } = await createUpload(svc, actor, { bucket: 'b', key: 'm', headers: {}, userMeta: {} })
    const part = pseudoRandom(70_000, 4)
    const p = await storePart(svc, await findUpload(svc, actor, { bucket: 'b', key: 'm', uploadId }), {
      partNumber: 1,
      body: streamFromBytes(part),
      digests: () => ({ etag: '"p"' }),
    })
    await rotateNamespaceKey(svc, 'default')
    await completeUpload(svc, actor, {
      bucket: 'b',
      key: 'm',
      uploadId,
      parts: [{ partNumber: 1, etag: p.etag, checksums: {} }],
      conditions: {},
    })
    expect((await rotateNamespaceKey(svc, 'default')).keyVersion).toBe(3)
    const obj = await readObject(svc, actor, { bucket: 'b', key: 'm' })
    expect(sha256(await drain(await obj.read(0, part.length)))).toBe(sha256(part))
  })

  it('rotations finish while writes keep coming, and every write reads back', async () => {
    const svc = await open()
    const actor = await actorFor(svc, ROOT.accessKeyId)
    await createBucket(svc, actor, 'b', 'us-east-1')
    const written = new Map<string, string>()
    let stop = false
    const writer = async (w: number) => {
      for (let i = 0; !stop && i < 2000; i++) {
        const data = pseudoRandom(1000 + i, w * 10_000 + i)
        await putObject(svc, actor, {
          bucket: 'b',
          key: `w${w}-${i % 40}`,
          body: streamFromBytes(data),
          digests: () => ({ etag: '"x"' }),
          headers: {},
          userMeta: {},
        })
        written.set(`w${w}-${i % 40}`, sha256(data))
      }
    }
    const writers = Promise.all([0, 1, 2].map(writer))
    try {
      for (let r = 0; r < 5; r++) expect((await rotateNamespaceKey(svc, 'default')).keyVersion).toBe(r + 2)
    } finally {
      stop = true
      await writers
    }
    expect(written.size).toBeGreaterThan(0)
    for (const [key, digest] of written) {
      const obj = await readObject(svc, actor, { bucket: 'b', key })
      expect(sha256(await drain(await obj.read(0, obj.info.size))), key).toBe(digest)
    }
  }, 60_000)
})

describe('a row naming a key version that is gone (left by a Coffer before the commit gate)', () => {
  it('a rotation refuses with the object named and the way out, instead of an anonymous unwrap error', async () => {
    const svc = await open()
    const actor = await actorFor(svc, ROOT.accessKeyId)
    await createBucket(svc, actor, 'b', 'us-east-1')
    await putObject(svc, actor, {
      bucket: 'b',
      key: 'lost',
      body: streamFromBytes(pseudoRandom(1000, 1)),
      digests: () => ({ etag: '"x"' }),
      headers: {},
      userMeta: {},
    })
    const row = (await meta.getObject(svc.db, 'b', 'lost'))!
    await svc.db.update(objects).set({ encryption: { ...(row.encryption as object), nsKeyVersion: 7 } })
    await expect(rotateNamespaceKey(svc, 'default')).rejects.toThrow(
      /object b\/lost names key version 7 of namespace default, which no longer exists .*delete it/,
    )
  })
})
