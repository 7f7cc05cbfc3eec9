/**
 * Embedded-mode durability against a real gateway over 6 local drives (4+2): a drive deleted
 * while serving, bitrot in shard files, and too many drives lost. Uses the SDK and the shard files.
 */
import { cp, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { startServer, type TestServer, whenLogged } from '../helpers/server.ts'
import {
  blockRanges,
  byWriteId,
  driveDirs,
  flipBytesAt,
  flipRandomBlockBytes,
  getBytes,
  getHealth,
  incomplete,
  listShards,
  objectBytes,
  pool,
  putObj as put,
  seededRandom,
  sha256,
  snapshotFiles,
  tempFiles,
  verifyAll,
  waitFor,
  type Obj,
  type ShardFile,
} from '../helpers/shards.ts'

const MiB = 1024 * 1024
const SHARDS = 6 // 4+2, the default geometry
const SEED = Number(process.env.COFFER_TEST_SEED ?? Date.now() % 100_000)

describe('drive loss (embedded, 4+2 over 6 drives)', () => {
  let server: TestServer
  let s3: S3Client
  let backup: string
  const Bucket = bucketName('drives')
  const objects: Obj[] = []
  let ids = new Set<string>()

  beforeAll(async () => {
    server = await startServer({
      // Scrub stats every shard once a second; the healer drains its queue five times a second.
      // Shards only (--inline-max 0): these cases are about drives, and small objects would be inline.
      env: {
        COFFER_INLINE_MAX: '0',
        COFFER_SCRUB_INTERVAL_MS: '1000',
        COFFER_HEAL_INTERVAL_MS: '200',
        COFFER_SCRUB_DEEP_BYTES: '0',
      },
    })
    s3 = s3Client(server)
    backup = await mkdtemp(join(tmpdir(), 'coffer-drive-backup-'))
    await s3.send(new CreateBucketCommand({ Bucket }))
  })
  afterAll(async () => {
    s3?.destroy()
    await server?.stop()
    if (backup) await rm(backup, { recursive: true, force: true })
  })

  it(`stores ~60 objects of 0 B … 12 MiB, some multipart (seed ${SEED})`, async () => {
    const rand = seededRandom(SEED)
    const edges = [
      0,
      1,
      17,
      4095,
      4096,
      65537,
      256 * 1024 - 1,
      256 * 1024,
      256 * 1024 + 1,
      MiB - 1,
      MiB,
      MiB + 1,
      4 * MiB + 3,
      12 * MiB,
    ]
    const plan: { key: string; size: number; multipart?: boolean }[] = edges.map((size, i) => ({
      key: `edge/${i}-${size}`,
      size,
    }))
    for (let i = 0; i < 42; i++) plan.push({ key: `random/${i}`, size: Math.floor(rand() * rand() * 3 * MiB) })
    plan.push({ key: 'mpu/12MiB', size: 12 * MiB, multipart: true })
    plan.push({ key: 'mpu/10.5MiB', size: 10.5 * MiB + 11, multipart: true })
    plan.push({ key: 'mpu/7MiB', size: 7 * MiB, multipart: true })
    await pool(plan, 4, async (p) => void objects.push(await put(s3, Bucket, p.key, p.size, p.multipart)))
    expect(objects).toHaveLength(plan.length)

    const files = await listShards(server.dataDir)
    ids = new Set(files.map((f) => f.writeId))
    // One write per object, plus one per part beyond the first for the multipart ones.
    expect(ids.size).toBeGreaterThanOrEqual(plan.length)
    expect(incomplete(files, ids, SHARDS)).toEqual([])
    // 6 drives, 6 shards per write: each drive holds exactly one shard of every write.
    for (const drive of await driveDirs(server.dataDir))
      expect(files.filter((f) => f.drive === drive)).toHaveLength(ids.size)
  })

  it('rm -rf one drive while serving: every object reads back identical, whole and ranged', async () => {
    const [drive0] = await driveDirs(server.dataDir)
    await cp(drive0!, join(backup, '0'), { recursive: true })
    await rm(drive0!, { recursive: true, force: true })
    await verifyAll(s3, Bucket, objects)
    const h = await getHealth(server)
    expect(h.stats.degradedReads).toBeGreaterThan(0)
  })

  it('the healer rebuilds the drive: 6 shards per write again, byte-identical to the lost ones', async () => {
    await waitFor(
      'every write to have 6 shards and an empty heal backlog',
      async () => {
        const short = incomplete(await listShards(server.dataDir), ids, SHARDS)
        const h = await getHealth(server)
        return short.length === 0 && h.healBacklog === 0
          ? true
          : `${short.length} writes short of 6 shards, heal backlog ${h.healBacklog}`
      },
      60_000,
    )
    const [drive0] = await driveDirs(server.dataDir)
    const rebuilt = (await listShards(server.dataDir)).filter((f) => f.drive === drive0)
    expect(new Set(rebuilt.map((f) => f.writeId))).toEqual(ids)
    for (const f of rebuilt) {
      const before = await readFile(join(backup, '0', f.path.slice(drive0!.length)))
      expect((await readFile(f.path)).equals(before), f.path).toBe(true)
    }
    const h = await getHealth(server)
    expect(h.status).toBe('ok')
    expect(h.stores.every((s) => s.up)).toBe(true)
    expect(h.stats.missingShardsFound).toBeGreaterThanOrEqual(ids.size)
    expect(h.stats.shardsRebuilt).toBeGreaterThanOrEqual(ids.size)
  })

  it('losing a different pair of drives (m = 2) still reads everything: the rebuilt shards are good', async () => {
    const drives = await driveDirs(server.dataDir)
    // With drives 3 and 5 gone, every read needs the rebuilt drive 0 among its four shards.
    // The healer may still be writing into a drive (a shard queued by an earlier read): retry the
    // removal instead of failing on ENOTEMPTY.
    await Promise.all([3, 5].map((i) => rm(drives[i]!, { recursive: true, force: true, maxRetries: 10 })))
    await verifyAll(s3, Bucket, objects)
  })
})

describe('bitrot in shard files', () => {
  let server: TestServer
  let s3: S3Client
  const Bucket = bucketName('bitrot')
  /** key → the write ids of its data, in part order. */
  const writes = new Map<string, string[]>()
  const objects: Obj[] = []

  beforeAll(async () => {
    // The scrubber's deep pass (whole shards, every checksum) is what finds rot in parity shards.
    server = await startServer({
      env: {
        COFFER_INLINE_MAX: '0', // shards only: rot in shard files is what this block flips
        COFFER_SCRUB_INTERVAL_MS: '2000',
        COFFER_HEAL_INTERVAL_MS: '200',
        COFFER_SCRUB_DEEP_BYTES: String(256 * MiB),
      },
    })
    s3 = s3Client(server)
    await s3.send(new CreateBucketCommand({ Bucket }))
  })
  afterAll(async () => {
    s3?.destroy()
    await server?.stop()
  })

  /** The write ids that appeared on disk while `fn` ran (writes are sequential here). */
  async function newWrites(fn: () => Promise<unknown>): Promise<string[]> {
    const before = new Set((await listShards(server.dataDir)).map((f) => f.writeId))
    await fn()
    return [...new Set((await listShards(server.dataDir)).map((f) => f.writeId))].filter((id) => !before.has(id))
  }

  it('flipped bytes in data and parity blocks and in a header: reads stay correct, the rot is counted and repaired', async () => {
    const sizes: Record<string, number> = {
      a: 3 * MiB + 5,
      b: 2 * MiB,
      c: MiB + 1,
      d: 700_000,
      e: 4 * MiB,
      g: 1,
      clean: 2 * MiB,
    }
    for (const [key, size] of Object.entries(sizes)) {
      const ids = await newWrites(async () => objects.push(await put(s3, Bucket, key, size)))
      expect(ids).toHaveLength(1)
      writes.set(key, ids)
    }
    // A multipart object, part by part, so each part's write id is known.
    const mpBody = objectBytes('f', 11 * MiB)
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'f' }))
    const parts: { PartNumber: number; ETag: string }[] = []
    const partIds: string[] = []
    for (let p = 0; p < 3; p++) {
      const ids = await newWrites(async () => {
        const r = await s3.send(
          new UploadPartCommand({
            Bucket,
            Key: 'f',
            UploadId,
            PartNumber: p + 1,
            Body: mpBody.subarray(p * 5 * MiB, (p + 1) * 5 * MiB),
          }),
        )
        parts.push({ PartNumber: p + 1, ETag: r.ETag! })
      })
      expect(ids).toHaveLength(1)
      partIds.push(ids[0]!)
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'f', UploadId, MultipartUpload: { Parts: parts } }))
    writes.set('f', partIds)
    objects.push({ key: 'f', size: mpBody.length, sha: sha256(mpBody), multipart: true })

    const grouped = byWriteId(await listShards(server.dataDir))
    const shard = (key: string, index: number, part = 0): ShardFile =>
      grouped.get(writes.get(key)![part]!)!.find((f) => f.index === index)!
    // At most m = 2 bad shards per object; data shards are 0..3, parity 4..5.
    const victims: ShardFile[] = [
      shard('a', 0),
      shard('b', 1),
      shard('b', 4),
      shard('c', 5),
      shard('d', 2),
      shard('e', 0),
      shard('e', 3),
      shard('f', 2, 1),
      shard('g', 0),
    ]
    const allFiles = [...grouped.values()].flat()
    const originals = await snapshotFiles(allFiles.map((f) => f.path))
    const inodes = new Map(await Promise.all(allFiles.map(async (f) => [f.path, (await stat(f.path)).ino] as const)))

    const rand = seededRandom(SEED)
    for (const v of victims) {
      if (v === shard('d', 2))
        await flipBytesAt(v.path, [12], rand) // the header's k field: its CRC must catch it
      else if (v === shard('g', 0))
        await flipBytesAt(v.path, [(await blockRanges(v.path))[0]![0]], rand) // the one data byte
      else await flipRandomBlockBytes(v.path, 5, rand)
      expect((await readFile(v.path)).equals(originals.get(v.path)!), v.path).toBe(false)
    }

    await verifyAll(s3, Bucket, objects)
    // Ranged reads over the stripes of the damaged data shards too.
    const a = objectBytes('a', sizes.a!)
    for (const [from, to] of [
      [0, 300_000],
      [MiB, 3 * MiB + 4],
    ]) {
      expect((await getBytes(s3, Bucket, 'a', `bytes=${from}-${to}`)).equals(a.subarray(from, to! + 1))).toBe(true)
    }

    await waitFor(
      'the flipped shard files to be rebuilt byte-identical, backlog empty',
      async () => {
        for (const v of victims) {
          const now = await readFile(v.path).catch(() => undefined)
          if (!now?.equals(originals.get(v.path)!)) return `${v.path} not repaired yet`
        }
        const backlog = (await getHealth(server)).healBacklog
        return backlog === 0 ? true : `heal backlog ${backlog}`
      },
      45_000,
    )

    const h = await getHealth(server)
    expect(h.stats.degradedReads).toBeGreaterThan(0)
    expect(h.stats.corruptShardsFound).toBeGreaterThanOrEqual(victims.length)
    expect(h.stats.shardsRebuilt).toBeGreaterThanOrEqual(victims.length)
    // Healing rewrote only the damaged files; every other shard is the same file as before.
    const victimPaths = new Set(victims.map((v) => v.path))
    for (const f of allFiles.filter((x) => !victimPaths.has(x.path))) {
      expect((await stat(f.path)).ino, f.path).toBe(inodes.get(f.path))
      expect((await readFile(f.path)).equals(originals.get(f.path)!), f.path).toBe(true)
    }
    await verifyAll(s3, Bucket, objects)
  })
})

describe('drives unusable: one (writes degrade), three of six (503), then back (healed)', () => {
  let server: TestServer
  let s3: S3Client
  let drives: string[] = []
  const Bucket = bucketName('quorum')
  const objects: Obj[] = []
  const FIRST = 4
  const LOST = [1, 2, FIRST]
  /** A failure answer must come this fast: "fail fast", never a hang. */
  const FAST_MS = 5_000

  beforeAll(async () => {
    server = await startServer({
      env: {
        COFFER_INLINE_MAX: '0', // shards only: small writes would be inline and need no drive
        COFFER_READ_TIMEOUT_MS: '2000',
        COFFER_SCRUB_INTERVAL_MS: '1000',
        COFFER_HEAL_INTERVAL_MS: '200',
        COFFER_SCRUB_DEEP_BYTES: '0',
      },
    })
    s3 = s3Client(server)
    drives = await driveDirs(server.dataDir)
    await s3.send(new CreateBucketCommand({ Bucket }))
    for (const [key, size] of [
      ['small', 1000],
      ['medium', 2 * MiB + 3],
      ['large', 6 * MiB],
    ] as const)
      objects.push(await put(s3, Bucket, key, size))
  })
  afterAll(async () => {
    s3?.destroy()
    await server?.stop()
  })

  async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
    const t0 = Date.now()
    const value = await p
    return { value, ms: Date.now() - t0 }
  }

  /** A plain file where the drive directory was: unusable even for root (chmod would not stop root). */
  async function unplug(i: number): Promise<void> {
    await rename(drives[i]!, `${drives[i]}.away`)
    await writeFile(drives[i]!, 'this drive is gone\n')
  }
  async function plugBack(i: number): Promise<void> {
    await rm(drives[i]!)
    await rename(`${drives[i]}.away`, drives[i]!)
  }

  it('one drive unusable: writes still succeed (5 of 6 shards, counted as degraded) and read back', async () => {
    await unplug(FIRST)
    const h = await getHealth(server)
    expect({
      httpStatus: h.httpStatus,
      status: h.status,
      down: h.stores.filter((s) => !s.up).map((s) => s.id),
    }).toEqual({ httpStatus: 200, status: 'ok', down: [`drive-${FIRST}`] })
    for (const [key, size] of [
      ['degraded/small', 5000],
      ['degraded/big', 5 * MiB + 1],
    ] as const)
      objects.push(await put(s3, Bucket, key, size))
    objects.push(await put(s3, Bucket, 'degraded/mpu', 11 * MiB, true))
    await verifyAll(s3, Bucket, objects)
    expect((await getHealth(server)).stats.degradedWrites).toBeGreaterThan(0)
  })

  it('three of six unusable: writes answer 503 fast and leave nothing; reads answer 503 fast', async () => {
    for (const i of LOST.filter((d) => d !== FIRST)) await unplug(i)
    const shardsBefore = (await listShards(server.dataDir)).map((f) => f.path).sort()
    const h = await getHealth(server)
    expect(h.httpStatus).toBe(503)
    expect(h.status).toBe('degraded')
    expect(
      h.stores
        .filter((s) => !s.up)
        .map((s) => s.id)
        .sort(),
    ).toEqual(LOST.map((i) => `drive-${i}`))

    for (const [key, size] of [
      ['new/tiny', 1000],
      ['new/bigger', 3 * MiB],
    ] as const) {
      // Its own connection: the server answers before reading the whole body and then drops the
      // socket although the answer says keep-alive (reported), which would fail the next request.
      const once = s3Client(server)
      const { value: err, ms } = await timed(
        sdkError(once.send(new PutObjectCommand({ Bucket, Key: key, Body: objectBytes(key, size) }))),
      )
      once.destroy()
      expect({ key, status: err.status, name: err.name }).toEqual({
        key,
        status: 503,
        name: expect.stringMatching(/^(ServiceUnavailable|SlowDown)$/),
      })
      expect(ms).toBeLessThan(FAST_MS)
      expect((await sdkError(s3.send(new HeadObjectCommand({ Bucket, Key: key })))).status).toBe(404)
    }
    // Each refused write is a warning in the gateway's log, with why.
    const refusals = await whenLogged(server, 'request refused', (l) => l.level === 'warn' && l.status === 503, 2)
    expect(refusals.length).toBeGreaterThanOrEqual(2)
    const listed = await s3.send(new ListObjectsV2Command({ Bucket }))
    expect((listed.Contents ?? []).map((c) => c.Key).sort()).toEqual(objects.map((o) => o.key).sort())
    // The failed writes removed what they had stored on the drives that still work.
    const usable = drives.filter((_, i) => !LOST.includes(i))
    expect((await listShards(usable)).map((f) => f.path).sort()).toEqual(
      shardsBefore.filter((p) => usable.some((d) => p.startsWith(`${d}/`))),
    )
    expect(await tempFiles(usable)).toEqual([])

    for (const o of objects.filter((x) => x.size > 0)) {
      // A whole object needs k = 4 shards of every stripe, and only 3 drives are left.
      const { value: err, ms } = await timed(sdkError(getBytes(s3, Bucket, o.key)))
      expect({ key: o.key, status: err.status, name: err.name }).toEqual({
        key: o.key,
        status: 503,
        name: 'ServiceUnavailable',
      })
      expect(ms).toBeLessThan(FAST_MS)
      // A small range needs only the data block holding it: served when that block's drive
      // survived (placement decides), else 503 — never wrong bytes, never a hang.
      const t0 = Date.now()
      const ranged = await getBytes(s3, Bucket, o.key, 'bytes=0-99').then(
        (b) => ({ bytes: b }),
        (e) => ({ status: e?.$metadata?.httpStatusCode as number }),
      )
      expect(Date.now() - t0).toBeLessThan(FAST_MS)
      if ('bytes' in ranged) expect(ranged.bytes.equals(objectBytes(o.key, o.size).subarray(0, 100)), o.key).toBe(true)
      else expect(ranged.status, o.key).toBe(503)
    }
  })

  it('drives back: everything reads, writes work, the healer gives every write its 6 shards', async () => {
    for (const i of LOST) await plugBack(i)
    await verifyAll(s3, Bucket, objects)
    objects.push(await put(s3, Bucket, 'after', MiB))
    await verifyAll(s3, Bucket, objects.slice(-1))
    expect((await getHealth(server)).status).toBe('ok')
    const ids = new Set((await listShards(server.dataDir)).map((f) => f.writeId))
    await waitFor(
      'every write to have its 6 shards again',
      async () => {
        const short = incomplete(await listShards(server.dataDir), ids, SHARDS)
        return short.length === 0 ? true : `${short.length} of ${ids.size} writes short of 6 shards`
      },
      30_000,
    )
    const h = await getHealth(server)
    expect(h.stats.shardsRebuilt, `heal backlog ${h.healBacklog}, stats ${JSON.stringify(h.stats)}`).toBeGreaterThan(0)
  })
})
