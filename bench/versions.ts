/**
 * Versioning (`--only versions`): (1) ListObjectVersions and ListObjectsV2 page time in the
 * metadata at 10k and 1M versions (10 versions per key, every tenth key's newest a delete marker),
 * rows bulk-inserted into a migrated embedded database, pages read through the same queries the
 * server runs (src/meta/queries/list.ts), first page and a page from the middle; the 1M/10k ratio
 * should stay near 1 (docs/architecture.md §4, versions). (2) PUT throughput of a versioned and an
 * unversioned bucket in the same run, interleaved rounds against one embedded gateway.
 */
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { join } from 'node:path'
import {
  ensureDefaultNamespace,
  insertBucket,
  listObjects,
  listVersions,
  openDb,
  upsertRootUser,
} from '../src/meta/index.ts'
import { s3Client } from '../test/helpers/s3-client.ts'
import { startServer } from '../test/helpers/server.ts'
import { tempDir } from './lib/child.ts'
import { onCleanup } from './lib/cleanup.ts'
import type { Metric, SuiteResult } from './lib/report.ts'
import type { SuiteContext } from './lib/suite.ts'

const VERSIONS_PER_KEY = 10
const PAGE = 250

/** A migrated database whose bucket `b` holds `total` versions (bulk SQL: fast, same schema). */
async function bucketWith(dir: string, total: number) {
  const meta = await openDb(`file:${join(dir, `v${total}.db`)}`)
  await ensureDefaultNamespace(meta.db)
  await upsertRootUser(meta.db, { accessKeyId: 'ROOT', wrappedSecret: 'bench' })
  await insertBucket(meta.db, {
    name: 'b',
    namespace: 'default',
    owner: 'ROOT',
    region: 'us-east-1',
    createdAt: new Date(),
    versioning: 'Enabled',
  })
  const keys = total / VERSIONS_PER_KEY
  const CHUNK = 100_000
  for (let start = 0; start < total; start += CHUNK) {
    // i → key i / 10, version j = i % 10 (j = 9 newest: ord -10, latest); markers on every 10th key.
    await meta.client.execute({
      sql: `with recursive n(i) as (select ? union all select i + 1 from n where i + 1 < ?)
        insert into objects (bucket, key, version_id, ord, latest, delete_marker, size, etag, last_modified,
          headers, user_meta, layout)
        select 'b', printf('k/%07d', i / ${VERSIONS_PER_KEY}), printf('%032x', i), -(i % ${VERSIONS_PER_KEY}) - 1,
          (i % ${VERSIONS_PER_KEY}) = ${VERSIONS_PER_KEY - 1},
          (i % ${VERSIONS_PER_KEY}) = ${VERSIONS_PER_KEY - 1} and (i / ${VERSIONS_PER_KEY}) % 10 = 0,
          4096, '"e"', 1700000000000, '{}', '{}', '{"v":1,"segments":[]}'
        from n`,
      args: [start, Math.min(start + CHUNK, total)],
    })
  }
  return { meta, keys }
}

/** Median of `rounds` timings of `f`, in ms. */
async function median(rounds: number, f: () => Promise<unknown>): Promise<number> {
  const ms: number[] = []
  for (let i = 0; i < rounds; i++) {
    const t = performance.now()
    await f()
    ms.push(performance.now() - t)
  }
  ms.sort((a, b) => a - b)
  return ms[Math.floor(ms.length / 2)]!
}

async function listingTimes(dir: string, total: number, rounds: number) {
  const { meta, keys } = await bucketWith(dir, total)
  try {
    const middle = `k/${String(Math.floor(keys / 2)).padStart(7, '0')}`
    const page = (keyMarker?: string) => async () => {
      const r = await listVersions(meta.db, { bucket: 'b', prefix: '', keyMarker, maxKeys: PAGE })
      if (r === 'bad-marker' || r.versions.length !== PAGE) throw new Error('short versions page')
    }
    const current = (startAfter?: string) => async () => {
      const r = await listObjects(meta.db, { bucket: 'b', prefix: '', startAfter, maxKeys: PAGE })
      if (r.objects.length !== PAGE) throw new Error('short objects page')
    }
    return {
      versionsFirst: await median(rounds, page()),
      versionsMiddle: await median(rounds, page(middle)),
      objectsFirst: await median(rounds, current()),
      objectsMiddle: await median(rounds, current(middle)),
    }
  } finally {
    meta.close()
  }
}

export async function runVersions(ctx: SuiteContext): Promise<SuiteResult> {
  const t0 = performance.now()
  const tmp = tempDir('coffer-bench-versions-')
  const metrics: Metric[] = []
  const notes: string[] = []
  try {
    const sizes = [10_000, ctx.quick ? 200_000 : 1_000_000]
    const rounds = ctx.quick ? 5 : 15
    const times = []
    for (const total of sizes) {
      ctx.progress.status(`versions: ${total} versions`)
      times.push({ total, ...(await listingTimes(tmp.dir, total, rounds)) })
    }
    const [small, big] = times as [(typeof times)[0], (typeof times)[0]]
    const rows = times.map((t) => [
      t.total.toLocaleString('en'),
      t.versionsFirst.toFixed(2),
      t.versionsMiddle.toFixed(2),
      t.objectsFirst.toFixed(2),
      t.objectsMiddle.toFixed(2),
    ])
    rows.push([
      `ratio ${big.total / 1000}k / ${small.total / 1000}k`,
      (big.versionsFirst / small.versionsFirst).toFixed(2),
      (big.versionsMiddle / small.versionsMiddle).toFixed(2),
      (big.objectsFirst / small.objectsFirst).toFixed(2),
      (big.objectsMiddle / small.objectsMiddle).toFixed(2),
    ])
    for (const t of times) {
      for (const [name, v] of Object.entries({
        'ListObjectVersions page (first)': t.versionsFirst,
        'ListObjectVersions page (middle)': t.versionsMiddle,
        'ListObjectsV2 page (first)': t.objectsFirst,
        'ListObjectsV2 page (middle)': t.objectsMiddle,
      }))
        metrics.push({ suite: 'versions', case: `${name} ${t.total}`, target: 'coffer', value: v, unit: 'ms' })
    }

    // PUT throughput, versioned beside unversioned, interleaved in rounds against one gateway.
    ctx.progress.status('versions: PUT throughput')
    const server = await startServer({ dataDir: join(tmp.dir, 'server') })
    const stop = onCleanup('coffer (versions bench)', () => server.stop(), { pid: server.pid })
    const s3 = s3Client(server)
    const body = new Uint8Array(4096).fill(7)
    const seconds = ctx.quick ? 3 : 8
    const put: Record<string, { ops: number; ms: number }> = {
      unversioned: { ops: 0, ms: 0 },
      versioned: { ops: 0, ms: 0 },
    }
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'unversioned' }))
      await s3.send(new CreateBucketCommand({ Bucket: 'versioned' }))
      await s3.send(
        new PutBucketVersioningCommand({ Bucket: 'versioned', VersioningConfiguration: { Status: 'Enabled' } }),
      )
      for (let round = 0; round < 3; round++) {
        for (const Bucket of round % 2 ? ['versioned', 'unversioned'] : ['unversioned', 'versioned']) {
          const end = performance.now() + seconds * 1000
          const t = performance.now()
          let ops = 0
          // 8 clients overwriting 32 keys: every PUT in the versioned bucket adds a version.
          await Promise.all(
            Array.from({ length: 8 }, async (_, c) => {
              for (let i = 0; performance.now() < end; i++) {
                await s3.send(new PutObjectCommand({ Bucket, Key: `k${(c * 4 + i) % 32}`, Body: body }))
                ops++
              }
            }),
          )
          put[Bucket]!.ops += ops
          put[Bucket]!.ms += performance.now() - t
        }
      }
    } finally {
      s3.destroy()
      await stop()
    }
    const rate = (b: string) => put[b]!.ops / (put[b]!.ms / 1000)
    for (const b of ['unversioned', 'versioned'])
      metrics.push({ suite: 'versions', case: 'PUT 4KiB c8', target: b, value: rate(b), unit: 'ops/s' })
    notes.push(`load average at the end: see the report header; pages are medians of ${rounds} reads`)
    return {
      name: 'versions',
      ms: performance.now() - t0,
      tables: [
        {
          title: `Listing page time (ms, ${PAGE} entries, ${VERSIONS_PER_KEY} versions per key, metadata only)`,
          columns: ['versions in bucket', 'versions first', 'versions middle', 'objects v2 first', 'objects v2 middle'],
          rows,
          notes: ['ratio ≤ 2 is the goal: a page is an index seek whatever the bucket holds'],
        },
        {
          title: `PUT 4 KiB, 8 clients, 3 interleaved rounds of ${seconds} s per bucket`,
          columns: ['bucket', 'PUTs', 'ops/s'],
          rows: ['unversioned', 'versioned'].map((b) => [b, String(put[b]!.ops), rate(b).toFixed(1)]),
          notes: [`versioned / unversioned: ${(rate('versioned') / rate('unversioned')).toFixed(2)}×`],
        },
      ],
      metrics,
      notes,
    }
  } finally {
    await tmp.remove()
  }
}
