/**
 * Several gateways on one cluster: a real sqld (`coffer meta-server`), six `coffer node`s (4+2)
 * and two `coffer server` processes sharing both, driven with the AWS SDK through each gateway.
 * Races between the gateways, a sqld crash under load, and a gateway killed mid-upload.
 */
import { copyFile } from 'node:fs/promises'
import { Readable } from 'node:stream'
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListBucketsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectRetentionCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminJson, adminRun, type Credentials, tenant } from '../helpers/admin.ts'
import { startCluster, type TestCluster } from '../helpers/cluster.ts'
import { bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { getBytes, objectBytes, pool, sha256, waitFor } from '../helpers/shards.ts'
import type { TestServer } from '../helpers/server.ts'
import type { MetaServerProc } from '../helpers/sqld.ts'

const KiB = 1024
const MiB = 1024 * KiB
const NODES = 6
/** A refusal while sqld is down must come this fast: a quick 503, never a hang. */
const FAST_MS = 12_000

describe('two gateways on one sqld over six storage nodes', () => {
  let cluster: TestCluster
  let sqld: MetaServerProc
  const gateways: TestServer[] = []
  const clients: S3Client[] = []
  const Bucket = bucketName('gw')
  const keyFile = (name: string) => cluster.keyFile(name)

  beforeAll(async () => {
    cluster = await startCluster({
      name: 'gateways',
      nodes: NODES,
      meta: true,
      env: { COFFER_READ_TIMEOUT_MS: '5000' },
    })
    sqld = cluster.sqld!
    // Started together: both migrate the empty sqld at the same moment.
    gateways.push(...(await Promise.all([cluster.startGateway('gw-a'), cluster.startGateway('gw-b')])))
    clients.push(...gateways.map((g) => s3Client(g)))
    await clients[0]!.send(new CreateBucketCommand({ Bucket }))
  }, 180_000)

  afterAll(async () => {
    for (const c of clients) c.destroy()
    await cluster?.stop()
  })

  const [A, B] = [0, 1]
  const other = (g: number) => 1 - g

  it('concurrent mixed load through both gateways: every acknowledged write reads back through the other', async () => {
    const sizes = [0, 1, 5 * KiB, 300 * KiB, 1 * MiB + 3, 2 * MiB]
    const work = Array.from({ length: 48 }, (_, i) => ({ i, g: i % 2, key: `mixed/${i % 16}`, size: sizes[i % 6]! }))
    const acked = new Map<string, { sha: string; g: number; seq: number }>()
    let seq = 0
    await pool(work, 6, async (w) => {
      const body = objectBytes(`${w.key}#${w.i}`, w.size)
      await clients[w.g]!.send(new PutObjectCommand({ Bucket, Key: w.key, Body: body }))
      // Acknowledged writes of one key may finish in any order; the last acknowledged one is
      // not necessarily the winner, so each key must read back as one of its acknowledged bodies.
      const prev = acked.get(w.key)
      const entry = { sha: sha256(body), g: w.g, seq: ++seq }
      acked.set(w.key, prev ? { ...entry, sha: `${prev.sha}|${entry.sha}` } : entry)
    })
    expect(acked.size).toBe(16)
    for (const [key, a] of acked) {
      for (const g of [A, B]) {
        const got = await getBytes(clients[g]!, Bucket, key)
        expect(a.sha.split('|'), `${key} through gateway ${g}`).toContain(sha256(got))
      }
      // Both gateways see the same winner.
      const [x, y] = await Promise.all([A, B].map((g) => clients[g]!.send(new HeadObjectCommand({ Bucket, Key: key }))))
      expect(x!.ETag).toBe(y!.ETag)
    }
  })

  it('If-None-Match: * from both gateways at once: exactly one 200, the other 412', async () => {
    for (let round = 0; round < 6; round++) {
      const Key = `create-once/${round}`
      const bodies = [A, B].map((g) => objectBytes(`${Key}@${g}`, 64 * KiB))
      const results = await Promise.allSettled(
        [A, B].map((g) => clients[g]!.send(new PutObjectCommand({ Bucket, Key, Body: bodies[g], IfNoneMatch: '*' }))),
      )
      const won = results.findIndex((r) => r.status === 'fulfilled')
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
      const lost = results[other(won)] as PromiseRejectedResult
      expect(lost.reason.$metadata?.httpStatusCode).toBe(412)
      expect(sha256(await getBytes(clients[other(won)]!, Bucket, Key))).toBe(sha256(bodies[won]!))
    }
  })

  it('multipart completion raced from both gateways: one completes, the other answers its result again', async () => {
    const Key = 'mpu/race'
    const { UploadId } = await clients[A]!.send(new CreateMultipartUploadCommand({ Bucket, Key }))
    const parts = [objectBytes('p1', 5 * MiB), objectBytes('p2', 1 * MiB)]
    const etags = await Promise.all(
      parts.map(async (Body, i) => {
        const r = await clients[i % 2]!.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }))
        return { ETag: r.ETag!, PartNumber: i + 1 }
      }),
    )
    const results = await Promise.allSettled(
      [A, B].map((g) =>
        clients[g]!.send(
          new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: etags } }),
        ),
      ),
    )
    // One completion commits; the other finds the upload gone and, as AWS does for a completion
    // retried after it succeeded, answers the same 200 (the version that upload made).
    const done = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined))
    expect(done.every((r) => r !== undefined)).toBe(true)
    expect(done[0]!.ETag).toBe(done[1]!.ETag)
    for (const g of [A, B]) expect(sha256(await getBytes(clients[g]!, Bucket, Key))).toBe(sha256(Buffer.concat(parts)))
  })

  it('versions written through both gateways at once: one order, distinct ids, the newest is what both serve', async () => {
    const Versioned = bucketName('gw-ver')
    await clients[A]!.send(new CreateBucketCommand({ Bucket: Versioned }))
    await clients[B]!.send(
      new PutBucketVersioningCommand({ Bucket: Versioned, VersioningConfiguration: { Status: 'Enabled' } }),
    )
    const Key = 'versions/race'
    const acked = new Map<string, string>() // version id → sha of the body it acknowledged
    await pool(
      Array.from({ length: 24 }, (_, i) => i),
      6,
      async (i) => {
        const body = objectBytes(`${Key}#${i}`, 1 + (i % 3) * 100 * KiB)
        const r = await clients[i % 2]!.send(new PutObjectCommand({ Bucket: Versioned, Key, Body: body }))
        expect(acked.has(r.VersionId!)).toBe(false)
        acked.set(r.VersionId!, sha256(body))
      },
    )
    // Delete markers raced from both gateways too: each is a version of its own.
    const markers = await Promise.all(
      [A, B].map((g) => clients[g]!.send(new DeleteObjectCommand({ Bucket: Versioned, Key }))),
    )
    for (const m of markers) expect(m.DeleteMarker).toBe(true)
    const listings = await Promise.all(
      [A, B].map((g) => clients[g]!.send(new ListObjectVersionsCommand({ Bucket: Versioned, Prefix: Key }))),
    )
    const ids = (l: (typeof listings)[number]) => [
      ...(l.Versions ?? []).map((v) => v.VersionId!),
      ...(l.DeleteMarkers ?? []).map((v) => v.VersionId!),
    ]
    expect(new Set(ids(listings[0]!)).size).toBe(26)
    expect(listings[0]!.Versions!.map((v) => v.VersionId)).toEqual(listings[1]!.Versions!.map((v) => v.VersionId))
    expect(new Set(listings[0]!.Versions!.map((v) => v.VersionId))).toEqual(new Set(acked.keys()))
    // Exactly one latest entry, a delete marker; removing both markers (through the other
    // gateways) brings back the newest data version, which both gateways then serve.
    const latest = [...(listings[0]!.Versions ?? []), ...(listings[0]!.DeleteMarkers ?? [])].filter((v) => v.IsLatest)
    expect(latest).toHaveLength(1)
    expect(markers.map((m) => m.VersionId)).toContain(latest[0]!.VersionId)
    for (const [g, m] of markers.entries()) {
      await clients[other(g)]!.send(new DeleteObjectCommand({ Bucket: Versioned, Key, VersionId: m.VersionId }))
    }
    const newest = listings[0]!.Versions![0]!.VersionId!
    for (const g of [A, B]) {
      const head = await clients[g]!.send(new HeadObjectCommand({ Bucket: Versioned, Key }))
      expect(head.VersionId).toBe(newest)
      expect(sha256(await getBytes(clients[g]!, Versioned, Key))).toBe(acked.get(newest))
    }
  })

  it('Object Lock holds across gateways: retention and a legal hold set through one bind the other', async () => {
    const Locked = bucketName('gw-lock')
    await clients[A]!.send(new CreateBucketCommand({ Bucket: Locked, ObjectLockEnabledForBucket: true }))
    const Key = 'locked'
    const until = new Date(Date.now() + 24 * 3600 * 1000)
    const put = await clients[A]!.send(
      new PutObjectCommand({
        Bucket: Locked,
        Key,
        Body: objectBytes(Key, 10 * KiB),
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: until,
      }),
    )
    const VersionId = put.VersionId!
    const refused = await sdkError(clients[B]!.send(new DeleteObjectCommand({ Bucket: Locked, Key, VersionId })))
    expect(refused.name).toBe('AccessDenied')
    const shorter = await sdkError(
      clients[B]!.send(
        new PutObjectRetentionCommand({
          Bucket: Locked,
          Key,
          VersionId,
          Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + 3600 * 1000) },
        }),
      ),
    )
    expect(shorter.name).toBe('AccessDenied')
    // A legal hold set through B keeps a GOVERNANCE version that A could otherwise bypass.
    const gov = await clients[A]!.send(
      new PutObjectCommand({
        Bucket: Locked,
        Key: 'held',
        Body: objectBytes('held', 1 * KiB),
        ObjectLockMode: 'GOVERNANCE',
        ObjectLockRetainUntilDate: until,
      }),
    )
    await clients[B]!.send(
      new PutObjectLegalHoldCommand({
        Bucket: Locked,
        Key: 'held',
        VersionId: gov.VersionId,
        LegalHold: { Status: 'ON' },
      }),
    )
    const held = await sdkError(
      clients[A]!.send(
        new DeleteObjectCommand({
          Bucket: Locked,
          Key: 'held',
          VersionId: gov.VersionId,
          BypassGovernanceRetention: true,
        }),
      ),
    )
    expect(held.name).toBe('AccessDenied')
    for (const g of [A, B]) {
      const head = await clients[g]!.send(new HeadObjectCommand({ Bucket: Locked, Key, VersionId }))
      expect(head.ObjectLockMode).toBe('COMPLIANCE')
    }
  })

  it('bucket creation raced by two tenants through both gateways: one owns it, the other gets BucketAlreadyExists', async () => {
    const acme: Credentials = await tenant(gateways[A]!, 'acme', 'off')
    const acmeOnB = s3Client(gateways[B]!, acme)
    try {
      for (let round = 0; round < 4; round++) {
        const name = bucketName(`race${round}`)
        const results = await Promise.allSettled([
          clients[A]!.send(new CreateBucketCommand({ Bucket: name })),
          acmeOnB.send(new CreateBucketCommand({ Bucket: name })),
        ])
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
        const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
        expect(lost.reason.name).toBe('BucketAlreadyExists')
        expect(lost.reason.$metadata?.httpStatusCode).toBe(409)
      }
    } finally {
      acmeOnB.destroy()
    }
  })

  it('a user created through one gateway works on the other within seconds, and a deleted one stops working', async () => {
    const user = await adminJson<Credentials>(gateways[A]!, [
      'user',
      'create',
      'bob',
      '--namespace',
      'default',
      '--policy',
      'readonly',
    ])
    const bobOnB = s3Client(gateways[B]!, user)
    try {
      await waitFor(
        'the new user to be accepted by the other gateway',
        async () => ((await bobOnB.send(new ListBucketsCommand({}))).Buckets ? true : 'no answer'),
        5_000,
      )
      await adminJson(gateways[A]!, ['user', 'delete', user.accessKeyId])
      // The other gateway's user cache keeps a row for USER_CACHE_TTL_MS (3 s), no longer.
      await waitFor(
        'the deleted user to be refused by the other gateway',
        async () => {
          const e = await sdkError(bobOnB.send(new ListBucketsCommand({})))
          return e.status === 403 ? true : `status ${e.status}`
        },
        // sdkError throws while the call still succeeds: waitFor keeps polling then.
        8_000,
      )
    } finally {
      bobOnB.destroy()
    }
  })

  it('a master-key rotation through one gateway: the other refuses to seal under the old key, then follows the new key file without a restart', async () => {
    const vault = await tenant(gateways[A]!, 'vault', 'on')
    const vaultOnA = s3Client(gateways[A]!, vault)
    const vaultOnB = s3Client(gateways[B]!, vault)
    try {
      const secret = objectBytes('vault/secret', 200 * KiB)
      await vaultOnA.send(new CreateBucketCommand({ Bucket: 'vault-bucket' }))
      await vaultOnA.send(new PutObjectCommand({ Bucket: 'vault-bucket', Key: 'k', Body: secret }))
      expect(await adminJson(gateways[A]!, ['key', 'rotate', '--master'])).toMatchObject({ rotated: 'master' })
      // Gateway B's key file still holds the old key: it must not seal a new user's secret (or
      // wrap a namespace key) under it, which no other gateway could open.
      const refused = await adminRun(gateways[B]!, [
        'user',
        'create',
        'late',
        '--namespace',
        'default',
        '--policy',
        'readonly',
      ]).then(
        () => 'created',
        (e: { stderr?: string }) => String(e.stderr),
      )
      expect(refused).toMatch(/master key was rotated/)
      // The operator copies the new key file: B takes it within seconds, no restart.
      await copyFile(keyFile('gw-a'), keyFile('gw-b'))
      let late: Credentials | undefined
      await waitFor(
        'gateway B to follow the rotated master key',
        async () => {
          late = await adminJson<Credentials>(gateways[B]!, [
            'user',
            'create',
            'late',
            '--namespace',
            'default',
            '--policy',
            'readonly',
          ])
          return true
        },
        10_000,
        500,
      )
      // A user sealed by B authenticates on A; B still reads what was encrypted before.
      const lateOnA = s3Client(gateways[A]!, late!)
      try {
        expect((await lateOnA.send(new ListBucketsCommand({}))).Buckets).toBeDefined()
      } finally {
        lateOnA.destroy()
      }
      expect(sha256(await getBytes(vaultOnB, 'vault-bucket', 'k'))).toBe(sha256(secret))
    } finally {
      vaultOnA.destroy()
      vaultOnB.destroy()
    }
  })

  it('sqld killed under load: quick 503s, then both gateways recover by themselves; nothing acknowledged is lost', async () => {
    const acked = new Map<string, string>()
    const failures: { status: number | undefined; name: string | undefined; ms: number }[] = []
    let stop = false
    const writer = async (g: number) => {
      for (let i = 0; !stop && i < 2_000; i++) {
        const Key = `outage/${g}/${i}`
        const body = objectBytes(Key, 32 * KiB)
        const t0 = Date.now()
        try {
          await clients[g]!.send(new PutObjectCommand({ Bucket, Key, Body: body }))
          acked.set(Key, sha256(body))
        } catch (e) {
          const r = e as { name?: string; $metadata?: { httpStatusCode?: number } }
          failures.push({ status: r.$metadata?.httpStatusCode, name: r.name, ms: Date.now() - t0 })
          await new Promise((r) => setTimeout(r, 100))
        }
      }
    }
    const load = Promise.all([writer(A), writer(B)])
    try {
      await waitFor('some writes before the crash', async () => acked.size >= 10 || `${acked.size}`, 20_000, 50)
      await sqld.crash()
      const before = failures.length
      await waitFor(
        'writes to be refused while sqld is down',
        async () => failures.length >= before + 4 || 'none yet',
        30_000,
        50,
      )
      await sqld.restart()
      const ackedAtRestart = acked.size
      await waitFor(
        'both gateways to acknowledge writes again',
        async () => {
          const keys = [...acked.keys()].slice(ackedAtRestart)
          return (
            (keys.some((k) => k.startsWith('outage/0/')) && keys.some((k) => k.startsWith('outage/1/'))) || 'not yet'
          )
        },
        30_000,
        100,
      )
    } finally {
      stop = true
      await load
    }
    expect(failures.length).toBeGreaterThan(0)
    for (const f of failures) {
      expect(f.status, JSON.stringify(f)).toBe(503)
      expect(['ServiceUnavailable', 'SlowDown'], JSON.stringify(f)).toContain(f.name)
      expect(f.ms, JSON.stringify(f)).toBeLessThan(FAST_MS)
    }
    // Every acknowledged write reads back, through the gateway that did not take it.
    await pool([...acked], 4, async ([Key, sha]) => {
      const g = other(Number(Key.split('/')[1]))
      expect(sha256(await getBytes(clients[g]!, Bucket, Key)), Key).toBe(sha)
    })
  })

  it('a gateway killed mid-upload leaves no partial object: the other still serves the previous one', async () => {
    const Key = 'killed/mid-upload'
    const v1 = objectBytes('v1', 300 * KiB)
    await clients[B]!.send(new PutObjectCommand({ Bucket, Key, Body: v1 }))
    const fresh = bucketName('killed')
    await clients[B]!.send(new CreateBucketCommand({ Bucket: fresh }))
    // Half of an 8 MiB body, then nothing more until the gateway is gone.
    const half = objectBytes('v2', 4 * MiB)
    let sent = 0
    const body = new Readable({
      read() {
        if (sent === 0) {
          sent = half.length
          this.push(half)
        }
      },
    })
    const sdk = s3Client(gateways[A]!, {
      config: { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' },
    })
    const puts = [Key, 'new'].map((k, i) =>
      sdk
        .send(
          new PutObjectCommand({
            Bucket: i === 0 ? Bucket : fresh,
            Key: k,
            Body: i === 0 ? body : Readable.from([half]),
            ContentLength: 8 * MiB,
          }),
        )
        .then(
          () => 'acknowledged',
          () => 'failed',
        ),
    )
    await new Promise((r) => setTimeout(r, 1_500))
    await gateways[A]!.kill('SIGKILL')
    expect(await Promise.all(puts)).toEqual(['failed', 'failed'])
    sdk.destroy()
    body.destroy()
    expect(sha256(await getBytes(clients[B]!, Bucket, Key))).toBe(sha256(v1))
    const e = await sdkError(clients[B]!.send(new HeadObjectCommand({ Bucket: fresh, Key: 'new' })))
    expect(e.status).toBe(404)
  })
})
