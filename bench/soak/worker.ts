/**
 * One soak worker: an S3 client loop over the buckets it owns (no other worker touches them, so
 * the model of each key is exact but for answers lost to faults). Each operation is drawn from the
 * worker's seeded stream, carried out with the real AWS SDK, and its answer folded into the model;
 * every read is checked against the model as it happens.
 */
import { Readable } from 'node:stream'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { adminCall, type AdminTarget } from '../../src/runtime/admin-cli.ts'
import { attempt, classify } from './answers.ts'
import type { OpClass } from './args.ts'
import { ABSENT, type BucketModel, type KeyModel, type Tenant, type Version, sha256 } from './model.ts'
import { payload, type Rng } from './rng.ts'
import type { Tally } from './tally.ts'

const KiB = 1024
const MiB = 1024 * KiB
const PART = 5 * MiB
/** The keys of every bucket: plain, deep, and a few that need encoding. */
export const KEYS: readonly string[] = [
  ...Array.from({ length: 16 }, (_, i) => `k/${String(i).padStart(2, '0')}`),
  'deep/a/b/c/d.bin',
  'with space+plus',
  'ünïcødé/ключ',
  'x',
]

const WEIGHTS: Record<OpClass, number> = {
  put: 18,
  overwrite: 14,
  get: 20,
  multipart: 4,
  delete: 6,
  'delete-many': 3,
  copy: 6,
  list: 5,
  rotate: 1.5,
  'rotate-master': 0.3,
  'bucket-cycle': 1,
  isolation: 3,
}

export interface WorkerContext {
  index: number
  seed: number
  rng: Rng
  tally: Tally
  tenants: readonly Tenant[]
  buckets: BucketModel[]
  ops: readonly OpClass[]
  /** Weights over WEIGHTS (--weights). */
  weights?: Partial<Record<OpClass, number>>
  /** The `slow` fault class: some uploads drip, some stall past the server's idle limit. */
  slow: boolean
  /** Seconds the server lets a body stall before 400 RequestTimeout. */
  bodyIdleS: number
  maxSize: number
  admin: AdminTarget
  deadline: number
  /** Resolves once the gateway process is up (bounded). */
  gatewayReady: () => Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A body that hands out `bytes` in chunks with pauses: a slow client (or a stalled one). */
function dripBody(bytes: Buffer, chunks: number, pauseMs: number, stallAt = -1, stallMs = 0): Readable {
  return Readable.from(
    (async function* () {
      const size = Math.ceil(bytes.length / chunks)
      for (let i = 0; i < chunks; i++) {
        if (i === stallAt) await sleep(stallMs)
        else if (i > 0) await sleep(pauseMs)
        yield bytes.subarray(i * size, Math.min(bytes.length, (i + 1) * size))
      }
    })(),
  )
}

/** CopySource: bucket and key, each path segment URL-encoded. */
const copySource = (bucket: string, key: string) => `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`

export class Worker {
  private counter = 0
  private readonly weights: Partial<Record<OpClass, number>>

  constructor(private readonly ctx: WorkerContext) {
    this.weights = Object.fromEntries(ctx.ops.map((o) => [o, ctx.weights?.[o] ?? WEIGHTS[o]]))
  }

  private get rng(): Rng {
    return this.ctx.rng
  }

  private get tally(): Tally {
    return this.ctx.tally
  }

  /** A fresh payload label, unique across workers, so a replay writes the same bytes. */
  private label(): number {
    return this.ctx.index * 10_000_000 + ++this.counter
  }

  private version(label: number, size: number): Version & { label: number } {
    return { hash: sha256(payload(this.ctx.seed, label, size)), size, label }
  }

  async run(): Promise<void> {
    for (let i = 0; i < 1_000_000 && Date.now() < this.ctx.deadline; i++) {
      const kind = this.rng.weighted(this.weights)
      const r = this.rng.fork(i)
      try {
        // While the scheduler has the gateway down, wait for it rather than hammering a closed port.
        await this.ctx.gatewayReady()
        await this.step(kind, r)
      } catch (e) {
        this.tally.fail('soak error', `worker ${this.ctx.index} ${kind}: ${e instanceof Error ? e.stack : String(e)}`)
      }
    }
  }

  /** Runs one operation; true when its answer was lost (uncertain). */
  private async step(kind: OpClass, r: Rng): Promise<boolean> {
    const b = r.pick(this.ctx.buckets)
    if (kind === 'rotate' || kind === 'rotate-master') return this.rotate(kind, r)
    if (!(await this.ensureBucket(b))) return true
    switch (kind) {
      case 'put': {
        const fresh = KEYS.filter((k) => !b.key(k).mayExist())
        return this.put(b, r, fresh.length ? r.pick(fresh) : r.pick(KEYS))
      }
      case 'overwrite': {
        const existing = KEYS.filter((k) => b.key(k).mayExist())
        return this.put(b, r, existing.length ? r.pick(existing) : r.pick(KEYS))
      }
      case 'get':
        return this.get(b, r)
      case 'multipart':
        return this.multipart(b, r)
      case 'delete':
        return this.deleteOne(b, r)
      case 'delete-many':
        return this.deleteMany(b, r)
      case 'copy':
        return this.copy(b, r)
      case 'list':
        return !(await listAndCheck(this.tally, b, 'list', false))
      case 'bucket-cycle':
        return this.bucketCycle(b, r)
      case 'isolation':
        return this.isolation(b, r)
    }
    return false
  }

  private size(r: Rng): number {
    const band = r.next()
    if (band < 0.1) return r.int(0, 16)
    if (band < 0.45) return r.int(17, 64 * KiB)
    if (band < 0.8) return r.int(64 * KiB, Math.min(this.ctx.maxSize, 1200 * KiB))
    return r.int(Math.min(this.ctx.maxSize, 1200 * KiB), this.ctx.maxSize)
  }

  /** Makes sure the model knows whether the bucket exists, creating it when it is gone. */
  async ensureBucket(b: BucketModel): Promise<boolean> {
    if (b.state === 'exists') return true
    const client = b.tenant.client
    if (b.state === 'unknown') {
      const head = await attempt(this.tally, 'head-bucket', b.name, () =>
        client.send(new HeadBucketCommand({ Bucket: b.name })),
      )
      if (head.ok) {
        b.state = 'exists'
        return true
      }
      // No HTTP answer (a refused connection: a fault has the gateway down) says nothing about the bucket.
      if (head.outcome === 'uncertain' || head.status === undefined) return false
      if (head.status !== 404) {
        this.tally.fail(
          'bucket state',
          `${b.name}: HeadBucket by its owner ${b.tenant.namespace} → ${head.status} ${head.code}`,
        )
        return false
      }
      b.state = 'gone'
    }
    const created = await attempt(this.tally, 'create-bucket', b.name, () =>
      client.send(new CreateBucketCommand({ Bucket: b.name })),
    )
    if (created.ok) {
      b.state = 'exists'
      b.clear()
      return true
    }
    if (created.outcome === 'uncertain') {
      b.state = 'unknown'
      return false
    }
    // Refused before it reached the gateway: nothing changed, the bucket is still gone.
    if (created.status === undefined) return false
    this.tally.fail(
      'bucket state',
      `${b.name} was deleted, yet CreateBucket by ${b.tenant.namespace} → ${created.code}`,
    )
    return false
  }

  private async put(b: BucketModel, r: Rng, key: string): Promise<boolean> {
    const size = this.size(r)
    const label = this.label()
    const bytes = payload(this.ctx.seed, label, size)
    const v = { hash: sha256(bytes), size, label }
    const m = b.key(key)
    const mode = this.ctx.slow && size > 0 ? r.weighted({ normal: 90, drip: 7, stall: 3 }) : 'normal'
    const chunks = Math.max(1, Math.min(size, r.int(4, 12)))
    let body: Buffer | Readable = bytes
    if (mode === 'drip') {
      body = dripBody(bytes, chunks, r.int(50, 250))
      this.tally.fault('slow-client', `${b.name}/${key}`)
    } else if (mode === 'stall') {
      body = dripBody(bytes, Math.max(2, chunks), 10, 1, (this.ctx.bodyIdleS + 2) * 1000)
      this.tally.fault('stalled-client', `${b.name}/${key}`)
    }
    const a = await attempt(this.tally, mode === 'normal' ? 'put' : `put-${mode}`, `${b.name}/${key}`, () =>
      b.tenant.client.send(
        new PutObjectCommand({
          Bucket: b.name,
          Key: key,
          Body: body,
          ContentLength: size,
          ContentType: 'application/octet-stream',
        }),
      ),
    )
    // A stalled body is normally refused (400 RequestTimeout), but not always: the body guard
    // counts only time spent waiting for the client (src/s3/body-guard.ts), so while the gateway
    // itself is not reading — held up by a slow or killed node — the client's silence is not
    // silence to it, and the upload may end as an ordinary one (seed 1170924923, 1 of 97). Then it
    // is a write like any other and the model takes it. The limit itself is pinned exactly by
    // test/s3/body-limits.test.ts; here the answer, when it is a refusal, must be the right one.
    // A refused connection is no answer: the gateway was down (kill-gateway), and the SDK's retry
    // of the stalled upload found nobody listening (seed 9191).
    if (mode === 'stall' && !a.ok && a.outcome === 'rejected' && a.status !== undefined)
      this.tally.check(
        a.code === 'RequestTimeout',
        'stalled body answer',
        () => `${b.name}/${key}: ${a.status} ${a.code}, expected 400 RequestTimeout`,
      )
    if (a.ok) m.set(v)
    else if (a.outcome === 'uncertain') m.maybe(v)
    return !a.ok && a.outcome === 'uncertain'
  }

  private async get(b: BucketModel, r: Rng): Promise<boolean> {
    const existing = KEYS.filter((k) => b.key(k).mayExist())
    const key = existing.length && r.chance(0.9) ? r.pick(existing) : r.pick(KEYS)
    const m = b.key(key)
    const sizes = m.states().filter((v) => v.size > 0)
    const ranged = sizes.length > 0 && r.chance(0.3)
    const anySize = ranged ? r.pick(sizes).size : 0
    const start = ranged ? r.int(0, anySize - 1) : 0
    const end = ranged ? r.int(start, Math.min(anySize - 1, start + 300 * KiB)) : 0
    return !(await getAndCheck(this.tally, this.ctx.seed, b, key, m, ranged ? [start, end] : undefined, 'get', false))
  }

  private async multipart(b: BucketModel, r: Rng): Promise<boolean> {
    const key = r.pick(KEYS)
    const m = b.key(key)
    const big = r.chance(0.25)
    const size = big ? PART + r.int(1, 512 * KiB) : r.int(1, 1 * MiB)
    const label = this.label()
    const bytes = payload(this.ctx.seed, label, size)
    const v = { hash: sha256(bytes), size, label }
    const client = b.tenant.client
    const target = `${b.name}/${key}`
    const created = await attempt(this.tally, 'mpu-create', target, () =>
      client.send(new CreateMultipartUploadCommand({ Bucket: b.name, Key: key })),
    )
    if (!created.ok) return created.outcome === 'uncertain'
    const UploadId = created.value.UploadId!
    const pieces = big ? [bytes.subarray(0, PART), bytes.subarray(PART)] : [bytes]
    const parts: { PartNumber: number; ETag: string }[] = []
    const abort = () =>
      attempt(this.tally, 'mpu-abort', target, () =>
        client.send(new AbortMultipartUploadCommand({ Bucket: b.name, Key: key, UploadId })),
      )
    // Sometimes a part is sent twice: the first copy becomes garbage the collector must find.
    const resend = r.chance(0.2)
    for (const [i, piece] of pieces.entries()) {
      for (let n = 0; n < (resend && i === 0 ? 2 : 1); n++) {
        const up = await attempt(this.tally, 'mpu-part', target, () =>
          client.send(new UploadPartCommand({ Bucket: b.name, Key: key, UploadId, PartNumber: i + 1, Body: piece })),
        )
        if (!up.ok) {
          if (up.outcome === 'rejected') await abort()
          return up.outcome === 'uncertain'
        }
        if (n === 0) parts.push({ PartNumber: i + 1, ETag: up.value.ETag! })
        else parts[i] = { PartNumber: i + 1, ETag: up.value.ETag! }
      }
    }
    if (r.chance(0.1)) {
      const a = await abort()
      return !a.ok && a.outcome === 'uncertain'
    }
    const done = await attempt(this.tally, 'mpu-complete', target, () =>
      client.send(
        new CompleteMultipartUploadCommand({ Bucket: b.name, Key: key, UploadId, MultipartUpload: { Parts: parts } }),
      ),
    )
    if (done.ok) m.set(v)
    else if (done.outcome === 'uncertain') m.maybe(v)
    return !done.ok && done.outcome === 'uncertain'
  }

  private async deleteOne(b: BucketModel, r: Rng): Promise<boolean> {
    const key = r.pick(KEYS)
    const a = await attempt(this.tally, 'delete', `${b.name}/${key}`, () =>
      b.tenant.client.send(new DeleteObjectCommand({ Bucket: b.name, Key: key })),
    )
    if (a.ok) b.key(key).set(ABSENT)
    else if (a.outcome === 'uncertain') b.key(key).maybe(ABSENT)
    return !a.ok && a.outcome === 'uncertain'
  }

  private async deleteMany(b: BucketModel, r: Rng): Promise<boolean> {
    const keys = [...new Set(Array.from({ length: r.int(1, 8) }, () => r.pick(KEYS)))]
    return !(await deleteKeys(this.tally, b, keys, 'delete-many'))
  }

  private async copy(b: BucketModel, r: Rng): Promise<boolean> {
    const sources = this.ctx.buckets.filter((s) => s.state === 'exists' && s.tenant === b.tenant)
    const src = r.pick(sources)
    const existing = KEYS.filter((k) => src.key(k).mayExist())
    if (existing.length === 0) return false
    const srcKey = r.pick(existing)
    const dstKey = r.pick(KEYS)
    const from = src.key(srcKey)
    const to = b.key(dstKey)
    const fromStates = from.states().filter((v) => v !== ABSENT && v.hash !== ABSENT.hash)
    const a = await attempt(this.tally, 'copy', `${src.name}/${srcKey} → ${b.name}/${dstKey}`, () =>
      b.tenant.client.send(
        new CopyObjectCommand({ Bucket: b.name, Key: dstKey, CopySource: copySource(src.name, srcKey) }),
      ),
    )
    if (a.ok) to.setAny(fromStates)
    else if (a.outcome === 'uncertain') to.maybeAny(fromStates)
    else if (a.code === 'NoSuchKey')
      this.tally.check(
        from.has(ABSENT.hash),
        'acknowledged object missing',
        () => `copy source ${src.name}/${srcKey}: NoSuchKey, model ${from.describe()}`,
      )
    return !a.ok && a.outcome === 'uncertain'
  }

  private async rotate(kind: 'rotate' | 'rotate-master', r: Rng): Promise<boolean> {
    const dare = this.ctx.tenants.filter((t) => t.encryption)
    const ns = r.pick(dare).namespace
    const body = kind === 'rotate' ? { namespace: ns } : { master: true }
    try {
      const res = await adminCall(this.ctx.admin, 'POST', '/keys/rotate', body)
      if (res.status === 200) this.tally.op(kind, 'ok')
      else {
        this.tally.op(kind, res.status >= 400 && res.status < 500 ? 'rejected' : 'uncertain')
        if (res.status >= 500)
          this.tally.serverError(
            kind,
            kind === 'rotate' ? ns : 'master',
            'admin',
            JSON.stringify(res.body).slice(0, 300),
          )
      }
      return false
    } catch {
      this.tally.op(kind, 'uncertain')
      return true
    }
  }

  /**
   * Empties the bucket, deletes it and creates it again, perhaps for another namespace. Half the
   * time a slow PUT by the old owner is in flight meanwhile: it must not land in the new bucket.
   */
  private async bucketCycle(b: BucketModel, r: Rng): Promise<boolean> {
    const old = b.tenant
    const client = old.client
    const uploads = await attempt(this.tally, 'list-uploads', b.name, () =>
      client.send(new ListMultipartUploadsCommand({ Bucket: b.name })),
    )
    if (!uploads.ok) return uploads.outcome === 'uncertain'
    for (const u of uploads.value.Uploads ?? []) {
      const a = await attempt(this.tally, 'mpu-abort', `${b.name}/${u.Key}`, () =>
        client.send(new AbortMultipartUploadCommand({ Bucket: b.name, Key: u.Key!, UploadId: u.UploadId! })),
      )
      if (!a.ok) return a.outcome === 'uncertain'
    }
    const present = KEYS.filter((k) => b.key(k).mayExist())
    if (present.length && !(await deleteKeys(this.tally, b, present, 'delete-many'))) return true
    if (KEYS.some((k) => b.key(k).mayExist())) return false
    const strayKey = KEYS[r.int(0, KEYS.length - 1)]!
    const straySize = r.int(32 * KiB, 96 * KiB)
    const strayV = this.version(this.label(), straySize)
    const stray = r.chance(0.5)
      ? attempt(this.tally, 'put-stray', `${b.name}/${strayKey}`, () =>
          client.send(
            new PutObjectCommand({
              Bucket: b.name,
              Key: strayKey,
              Body: dripBody(payload(this.ctx.seed, strayV.label, straySize), 10, 200),
              ContentLength: straySize,
            }),
          ),
        )
      : undefined
    if (stray) await sleep(300)
    const del = await attempt(this.tally, 'delete-bucket', b.name, () =>
      client.send(new DeleteBucketCommand({ Bucket: b.name })),
    )
    let recreatedBy: Tenant | undefined
    if (del.ok) {
      b.state = 'gone'
      b.clear()
      b.incarnation++
      b.tenant = r.chance(0.6) ? r.pick(this.ctx.tenants.filter((t) => t !== old)) : old
      const created = await attempt(this.tally, 'create-bucket', b.name, () =>
        b.tenant.client.send(new CreateBucketCommand({ Bucket: b.name })),
      )
      if (created.ok) {
        b.state = 'exists'
        recreatedBy = b.tenant
        if (stray) {
          // The new owner writes the key the stray PUT is still streaming to.
          const own = this.version(this.label(), r.int(1, 4 * KiB))
          const a = await attempt(this.tally, 'put', `${b.name}/${strayKey}`, () =>
            b.tenant.client.send(
              new PutObjectCommand({
                Bucket: b.name,
                Key: strayKey,
                Body: payload(this.ctx.seed, own.label, own.size),
              }),
            ),
          )
          if (a.ok) b.key(strayKey).set(own)
          else if (a.outcome === 'uncertain') b.key(strayKey).maybe(own)
        }
      } else b.state = created.outcome === 'uncertain' ? 'unknown' : 'gone'
    } else if (del.outcome === 'uncertain') b.state = 'unknown'
    if (stray) {
      const s = await stray
      if (del.ok) {
        // The bucket it was sent to was deleted while it streamed: 200 means it landed somewhere it must not.
        const where = recreatedBy ? `now owned by namespace ${recreatedBy.namespace}` : 'now absent'
        this.tally.check(
          !s.ok,
          'PUT acknowledged into a deleted bucket',
          () =>
            `${old.namespace} PUT ${b.name}/${strayKey} answered 200 after ${b.name} was deleted during its upload (${where})`,
        )
        if (s.ok || s.outcome === 'uncertain') b.key(strayKey).maybe(strayV)
      } else if (s.ok) b.key(strayKey).set(strayV)
      else if (s.outcome === 'uncertain') b.key(strayKey).maybe(strayV)
    }
    return !del.ok && del.outcome === 'uncertain'
  }

  /** Another namespace's user tries to read, list and write this bucket: every attempt must be refused. */
  private async isolation(b: BucketModel, r: Rng): Promise<boolean> {
    const others = this.ctx.tenants.filter((t) => t !== b.tenant)
    const intruder = r.pick(others)
    const key = r.pick(KEYS)
    const probes: [string, () => Promise<unknown>][] = [
      ['get', () => intruder.client.send(new GetObjectCommand({ Bucket: b.name, Key: key }))],
      ['list', () => intruder.client.send(new ListObjectsV2Command({ Bucket: b.name }))],
      ['head-bucket', () => intruder.client.send(new HeadBucketCommand({ Bucket: b.name }))],
    ]
    const v = this.version(this.label(), r.int(1, 2 * KiB))
    probes.push([
      'put',
      () =>
        intruder.client.send(
          new PutObjectCommand({ Bucket: b.name, Key: key, Body: payload(this.ctx.seed, v.label, v.size) }),
        ),
    ])
    let lost = false
    for (const [what, call] of probes) {
      const a = await attempt(this.tally, `isolation-${what}`, `${b.name}/${key}`, call)
      if (!a.ok && a.outcome === 'uncertain') {
        lost = true
        if (what === 'put') b.key(key).maybe(v)
        continue
      }
      this.tally.check(
        !a.ok,
        'cross-namespace access',
        () => `${intruder.namespace} ${what} ${b.name}/${key} (bucket of ${b.tenant.namespace}) answered 200`,
      )
      if (a.ok && what === 'put') b.key(key).set(v)
    }
    return lost
  }
}

/**
 * The object's bytes. `tries` > 1 retries a connection that died without an HTTP answer (a
 * keep-alive socket the server had just closed): the final checks ask whether the object is
 * readable, not whether one socket was.
 */
async function getBytes(
  b: BucketModel,
  key: string,
  range: [number, number] | undefined,
  tries: number,
): Promise<Uint8Array> {
  for (let i = 1; ; i++) {
    try {
      const res = await b.tenant.client.send(
        new GetObjectCommand({ Bucket: b.name, Key: key, Range: range ? `bytes=${range[0]}-${range[1]}` : undefined }),
      )
      return await res.Body!.transformToByteArray()
    } catch (raw) {
      if (i >= tries || classify(raw).status !== undefined) throw raw
      await new Promise((r) => setTimeout(r, 500))
    }
  }
}

/** GETs one key (whole or a range) and checks the bytes against the model; false when the answer was lost. */
export async function getAndCheck(
  tally: Tally,
  seed: number,
  b: BucketModel,
  key: string,
  m: KeyModel,
  range: [number, number] | undefined,
  op: string,
  strict: boolean,
): Promise<boolean> {
  const target = `${b.name}/${key}${range ? ` bytes=${range[0]}-${range[1]}` : ''}`
  let bytes: Uint8Array
  try {
    bytes = await getBytes(b, key, range, strict ? 3 : 1)
  } catch (raw) {
    const e = classify(raw)
    if (e.status === 500) tally.serverError(op, target, e.requestId, `${e.code}: ${e.message}`)
    if (e.code === 'NoSuchKey') {
      tally.op(op, 'ok')
      tally.check(
        m.has(ABSENT.hash),
        'acknowledged object missing',
        () => `${target}: NoSuchKey, model ${m.describe()}`,
      )
      return true
    }
    if (e.code === 'InvalidRange') {
      tally.op(op, 'ok')
      return true
    }
    tally.op(op, e.outcome)
    if (strict)
      tally.fail(
        'unreadable after faults healed',
        `${target}: ${e.status ?? 'no answer'} ${e.code} ${e.message.slice(0, 200)} (request id ${e.requestId}); model ${m.describe()}`,
      )
    return false
  }
  tally.op(op, 'ok')
  if (!range) {
    const h = sha256(bytes)
    tally.check(
      m.has(h),
      'wrong bytes',
      () => `${target}: ${bytes.length} bytes sha256 ${h.slice(0, 12)}…, model ${m.describe()}`,
    )
    return true
  }
  const h = sha256(bytes)
  const fits = m.states().some((v) => {
    const label = (v as Version & { label?: number }).label
    if (label === undefined || v.size <= range[0]) return false
    const whole = payload(seed, label, v.size)
    return sha256(whole.subarray(range[0], Math.min(v.size, range[1] + 1))) === h
  })
  tally.check(
    fits,
    'wrong bytes',
    () => `${target}: ${bytes.length} bytes match no possible version, model ${m.describe()}`,
  )
  return true
}

/** Lists the bucket (paged) and checks it against the model; false when an answer was lost. */
export async function listAndCheck(tally: Tally, b: BucketModel, op: string, strict: boolean): Promise<boolean> {
  const seen = new Map<string, number>()
  let token: string | undefined
  for (let page = 0; page < 50; page++) {
    const a = await attempt(tally, op, b.name, () =>
      b.tenant.client.send(new ListObjectsV2Command({ Bucket: b.name, MaxKeys: 7, ContinuationToken: token })),
    )
    if (!a.ok) {
      if (strict)
        tally.fail(
          'unlistable after faults healed',
          `${b.name}: ${a.status ?? 'no answer'} ${a.code} (request id ${a.requestId})`,
        )
      return a.outcome !== 'uncertain'
    }
    for (const o of a.value.Contents ?? []) seen.set(o.Key!, o.Size ?? -1)
    if (!a.value.IsTruncated) break
    token = a.value.NextContinuationToken
  }
  for (const [key, size] of seen) {
    const m = b.keys.get(key)
    tally.check(
      m?.states().some((v) => v.size === size) === true,
      'listed object not in the model',
      () =>
        `${b.name} (${b.tenant.namespace}) lists ${key} (${size} B); model ${m?.describe() ?? 'never written here'}`,
    )
  }
  for (const [key, m] of b.keys)
    if (m.mustExist())
      tally.check(seen.has(key), 'acknowledged object not listed', () => `${b.name}/${key}: model ${m.describe()}`)
  return true
}

/** DeleteObjects on `keys`; false when the answer was lost. */
export async function deleteKeys(tally: Tally, b: BucketModel, keys: readonly string[], op: string): Promise<boolean> {
  const a = await attempt(tally, op, `${b.name} (${keys.length} keys)`, () =>
    b.tenant.client.send(
      new DeleteObjectsCommand({ Bucket: b.name, Delete: { Objects: keys.map((Key) => ({ Key })) } }),
    ),
  )
  if (!a.ok) {
    if (a.outcome === 'uncertain') for (const k of keys) b.key(k).maybe(ABSENT)
    return a.outcome !== 'uncertain'
  }
  for (const d of a.value.Deleted ?? []) b.key(d.Key!).set(ABSENT)
  let lost = false
  for (const e of a.value.Errors ?? []) {
    if (e.Code === 'InternalError') tally.serverError(op, `${b.name}/${e.Key}`, 'in DeleteObjects', e.Message ?? '')
    b.key(e.Key!).maybe(ABSENT)
    lost = true
  }
  return !lost
}
