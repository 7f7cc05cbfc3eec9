/**
 * GC under sustained overwrites (`--only gc`, `--minutes N`): an embedded gateway with a short GC
 * grace period, a fixed live set of keys overwritten at full speed by 8 clients. Every 5 s it
 * samples the GC backlog (gc_queue entries, due and waiting) and the bytes of shard files on the
 * drives against those of the live objects (the write ids rows reference). The dead data allowed
 * on disk is what was written within grace + one GC interval (entries are not due before); the
 * run fails its bound if disk use ever exceeds 1.5 × live + that allowance. Then a drain phase:
 * 64 KiB overwrites for 30 s (quick: 15 s) with GC held off, and the server restarted with a 1 ms
 * grace removes everything queued: GC throughput in layouts/s, free of the grace period.
 * docs/architecture.md §9.
 */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { createClient } from '@libsql/client'
import { join } from 'node:path'
import { metaIds } from '../test/helpers/meta-file.ts'
import { s3Client } from '../test/helpers/s3-client.ts'
import { startServer, type TestServer } from '../test/helpers/server.ts'
import { listShards } from '../test/helpers/shards.ts'
import { onCleanup } from './lib/cleanup.ts'
import { tempDir } from './lib/child.ts'
import type { Metric, SuiteResult } from './lib/report.ts'
import type { SuiteContext } from './lib/suite.ts'

const LIVE_KEYS = 64
const OBJECT_BYTES = 256 * 1024
const CLIENTS = 8
const GRACE_MS = 10_000
/** The server's GC wakes at least this often when idle (GC_INTERVAL_MAX_MS, src/service/background.ts). */
const GC_INTERVAL_MS = Math.min(GRACE_MS, 2_000)
const SAMPLE_MS = 5_000
const QUIET = { COFFER_HEAL_INTERVAL_MS: '3600000', COFFER_SCRUB_INTERVAL_MS: '3600000' }

interface Sample {
  t: number
  queued: number
  due: number
  diskBytes: number
  liveBytes: number
  /** Stored bytes of the PUTs answered within the last grace + interval: dead data allowed to wait. */
  allowance: number
  puts: number
}

async function backlog(dataDir: string, dueBefore: number): Promise<{ queued: number; due: number }> {
  const c = createClient({ url: `file:${join(dataDir, 'meta.db')}` })
  try {
    const rs = await c.execute({
      sql: 'select count(*) as queued, coalesce(sum(enqueued_at <= ?), 0) as due from gc_queue',
      args: [dueBefore],
    })
    return { queued: Number(rs.rows[0]?.queued), due: Number(rs.rows[0]?.due) }
  } finally {
    c.close()
  }
}

async function diskUse(dataDir: string): Promise<{ disk: number; live: number }> {
  const { referenced } = await metaIds(dataDir)
  let disk = 0
  let live = 0
  for (const f of await listShards(dataDir)) {
    disk += f.size
    if (referenced.has(f.writeId)) live += f.size
  }
  return { disk, live }
}

const mb = (n: number) => (n / 1e6).toFixed(1)

export async function runGc(ctx: SuiteContext): Promise<SuiteResult> {
  const t0 = performance.now()
  const minutes = ctx.minutes ?? (ctx.quick ? 0.5 : 1)
  const tmp = tempDir('coffer-bench-gc-')
  const dataDir = tmp.dir
  const removeDir = onCleanup('gc bench data', () => tmp.remove(), { dir: dataDir })
  let server: TestServer = await startServer({ dataDir, env: { ...QUIET, COFFER_GC_GRACE_MS: String(GRACE_MS) } })
  let stop = onCleanup('coffer (gc bench)', () => server.stop(), { pid: server.pid, dir: dataDir })
  const s3 = s3Client(server)
  const Bucket = 'gc-bench'
  const body = Buffer.alloc(OBJECT_BYTES, 7)
  const keys = Array.from({ length: LIVE_KEYS }, (_, i) => `live/${i}`)
  const samples: Sample[] = []
  const answered: { at: number; bytes: number }[] = []
  let errors = 0
  try {
    await s3.send(new CreateBucketCommand({ Bucket }))
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket, Key, Body: body }))
    const start = Date.now()
    const end = start + minutes * 60_000
    let next = 0
    const clients = Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < end) {
        const Key = keys[next++ % keys.length]!
        body.writeUInt32BE(next, 0) // a different ETag each time; the size is what matters
        try {
          await s3.send(new PutObjectCommand({ Bucket, Key, Body: body }))
          answered.push({ at: Date.now(), bytes: OBJECT_BYTES * 1.5 })
        } catch {
          errors++
        }
      }
    })
    const sampler = (async () => {
      while (Date.now() < end) {
        await new Promise((r) => setTimeout(r, SAMPLE_MS))
        const now = Date.now()
        const b = await backlog(dataDir, now - GRACE_MS)
        const d = await diskUse(dataDir)
        const since = now - GRACE_MS - GC_INTERVAL_MS
        const allowance = answered.filter((a) => a.at >= since).reduce((n, a) => n + a.bytes, 0)
        samples.push({
          t: (now - start) / 1000,
          ...b,
          diskBytes: d.disk,
          liveBytes: d.live,
          allowance,
          puts: answered.length,
        })
        ctx.progress.step(
          `gc: ${samples.at(-1)!.t.toFixed(0)} s, backlog ${b.queued}, disk ${mb(d.disk)} MB / live ${mb(d.live)} MB`,
        )
      }
    })()
    await Promise.all([...clients, sampler])
    const runSeconds = (Date.now() - start) / 1000

    // Drain: a backlog of small dead layouts piled up with GC held off (a 1 h grace), then a
    // restart with a 1 ms grace, timed until the queue is empty: GC throughput without grace.
    s3.destroy()
    await server.stop()
    server = await startServer({ dataDir, env: { ...QUIET, COFFER_GC_GRACE_MS: '3600000' } })
    stop = onCleanup('coffer (gc bench, pile-up)', () => server.stop(), { pid: server.pid, dir: dataDir })
    const pileUp = s3Client(server)
    const small = Buffer.alloc(64 * 1024, 3)
    const pileEnd = Date.now() + (ctx.quick ? 15_000 : 30_000)
    let n = 0
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (Date.now() < pileEnd) {
          await pileUp
            .send(new PutObjectCommand({ Bucket, Key: `small/${n++ % LIVE_KEYS}`, Body: small }))
            .catch(() => {})
        }
      }),
    )
    pileUp.destroy()
    await server.stop()
    const left = (await backlog(dataDir, Date.now())).queued
    ctx.progress.step(`gc: draining ${left} queued layouts`)
    server = await startServer({ dataDir, env: { ...QUIET, COFFER_GC_GRACE_MS: '1' } })
    stop = onCleanup('coffer (gc bench, drain)', () => server.stop(), { pid: server.pid, dir: dataDir })
    const drainStart = performance.now()
    let drained = left
    for (let i = 0; i < 1_200 && drained > 0; i++) {
      await new Promise((r) => setTimeout(r, 100))
      drained = (await backlog(dataDir, Date.now())).queued
    }
    const drainSeconds = (performance.now() - drainStart) / 1000

    const worst = samples.reduce<Sample | undefined>(
      (w, s) =>
        !w || s.diskBytes / (1.5 * s.liveBytes + s.allowance) > w.diskBytes / (1.5 * w.liveBytes + w.allowance) ? s : w,
      undefined,
    )
    const within = samples.every((s) => s.diskBytes <= 1.5 * s.liveBytes + s.allowance)
    const enqueued = answered.length
    const lastQueued = samples.at(-1)?.queued ?? 0
    const collectedRate = (enqueued - lastQueued) / runSeconds
    const metrics: Metric[] = [
      { suite: 'gc', case: 'overwrites', target: 'coffer', value: enqueued / runSeconds, unit: 'PUT/s' },
      { suite: 'gc', case: 'collected during overwrites', target: 'coffer', value: collectedRate, unit: 'layouts/s' },
      {
        suite: 'gc',
        case: 'drain (grace 1 ms)',
        target: 'coffer',
        value: left > 0 && drained === 0 ? left / drainSeconds : null,
        unit: 'layouts/s',
        extra: { layouts: left, seconds: drainSeconds },
      },
      {
        suite: 'gc',
        case: 'worst disk / (1.5 × live + allowance)',
        target: 'coffer',
        value: worst ? worst.diskBytes / (1.5 * worst.liveBytes + worst.allowance) : null,
        unit: 'ratio',
      },
    ]
    return {
      name: 'gc',
      ms: performance.now() - t0,
      tables: [
        {
          title: `GC under overwrites: ${LIVE_KEYS} live keys of ${OBJECT_BYTES / 1024} KiB, ${CLIENTS} clients, ${minutes} min, grace ${GRACE_MS / 1000} s`,
          columns: ['t (s)', 'PUTs', 'queued', 'due', 'disk MB', 'live MB', 'disk/live', 'bound MB', 'within'],
          rows: samples.map((s) => [
            s.t.toFixed(0),
            String(s.puts),
            String(s.queued),
            String(s.due),
            mb(s.diskBytes),
            mb(s.liveBytes),
            (s.diskBytes / s.liveBytes).toFixed(2),
            mb(1.5 * s.liveBytes + s.allowance),
            s.diskBytes <= 1.5 * s.liveBytes + s.allowance ? 'yes' : 'NO',
          ]),
          notes: [
            `bound = 1.5 × live + the stored bytes of PUTs answered in the last grace + GC interval (${(GRACE_MS + GC_INTERVAL_MS) / 1000} s): dead data not yet due`,
            `${enqueued} overwrites (${(enqueued / runSeconds).toFixed(1)} PUT/s, ${errors} errors); GC collected ${collectedRate.toFixed(1)} layouts/s during the run`,
            `drain after restart with grace 1 ms (64 KiB objects piled up with GC held off): ${left} layouts in ${drainSeconds.toFixed(1)} s${left > 0 && drained === 0 ? ` = ${(left / drainSeconds).toFixed(0)} layouts/s` : drained > 0 ? ` (${drained} left: not drained in 120 s)` : ''}`,
          ],
        },
      ],
      metrics,
      notes: within ? [] : ['disk use exceeded 1.5 × live + grace allowance at some sample (see the table)'],
    }
  } finally {
    s3.destroy()
    await stop()
    await removeDir()
  }
}
