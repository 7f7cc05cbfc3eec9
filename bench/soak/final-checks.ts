/**
 * The end of a soak run, once faults stop: every process back up, every acknowledged object read
 * back whole (first through whatever damage is left, then after a full heal pass), every bucket
 * listed against the model, then — after the garbage and orphan grace periods — no shard file on
 * any node that no object or part references, and every live write back to its six shards.
 */
import { createClient } from '@libsql/client'
import { join } from 'node:path'
import { AbortMultipartUploadCommand, ListBucketsCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3'
import { adminCall, type AdminTarget } from '../../src/runtime/admin-cli.ts'
import { attempt } from './answers.ts'
import { GC_GRACE_MS, healthOk, ORPHAN_GRACE_MS, type SoakCluster } from './cluster.ts'
import type { BucketModel, Tenant } from './model.ts'
import { byWriteId, listShardFiles } from './shard-files.ts'
import { layoutIds } from './meta-facts.ts'
import type { Tally } from './tally.ts'
import { getAndCheck, KEYS, listAndCheck, type Worker } from './worker.ts'

const SHARDS = 6
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)))

/** Polls `check` every 500 ms until it returns true or `ms` pass; returns the last result. */
async function waitFor(ms: number, check: () => Promise<boolean>): Promise<boolean> {
  const until = Date.now() + ms
  for (let i = 0; i < 10_000; i++) {
    if (await check()) return true
    if (Date.now() >= until) return false
    await sleep(500)
  }
  return false
}

interface Health {
  stores?: { up?: boolean }[]
}

async function allStoresUp(admin: AdminTarget, cluster: SoakCluster): Promise<boolean> {
  if (!(await healthOk(cluster.endpoint, cluster.caPem))) return false
  const res = await adminCall(admin, 'GET', '/heal').catch(() => undefined)
  const h = res?.body as Health | undefined
  return res?.status === 200 && (h?.stores ?? []).length > 0 && (h?.stores ?? []).every((s) => s.up !== false)
}

/** Every process running again and every store seen up by the gateway (bounded). */
export async function restoreCluster(cluster: SoakCluster, admin: AdminTarget, tally: Tally): Promise<void> {
  for (const [i, n] of cluster.nodes.entries())
    if (!cluster.nodeUp(i))
      await cluster.startNode(i).catch((e) => tally.fail('restart', `node ${n.index}: ${String(e).slice(0, 500)}`))
  if (!cluster.gatewayUp())
    await cluster.startGateway().catch((e) => tally.fail('restart', `gateway: ${String(e).slice(0, 500)}`))
  const up = await waitFor(60_000, () => allStoresUp(admin, cluster))
  tally.check(up, 'cluster did not come back', () => 'gateway health or a store not up within 60 s of the last fault')
}

/** One full scrub, heal and collection pass (`coffer admin heal run`). */
export async function healRun(admin: AdminTarget, tally: Tally): Promise<void> {
  try {
    const res = await adminCall(admin, 'POST', '/heal')
    tally.op('heal-run', res.status === 200 ? 'ok' : 'uncertain')
    if (res.status >= 500) tally.serverError('heal-run', 'admin', 'admin', JSON.stringify(res.body).slice(0, 300))
  } catch (e) {
    tally.op('heal-run', 'uncertain')
    tally.fail('heal run', String(e))
  }
}

/** Reads every key of every bucket the model knows; `strict`: an unreadable object is a failure. */
export async function verifyAll(
  tally: Tally,
  seed: number,
  buckets: readonly BucketModel[],
  workers: readonly Worker[],
  op: string,
): Promise<void> {
  for (const [i, b] of buckets.entries()) {
    if (b.state !== 'exists') {
      // A create or delete whose answer was lost: find out now that nothing fails.
      await workers[i % workers.length]!.ensureBucket(b)
    }
    if (b.state !== 'exists') {
      tally.fail('bucket state', `${b.name}: still ${b.state} after faults healed`)
      continue
    }
    const keys = KEYS.filter((k) => b.keys.has(k))
    let next = 0
    await Promise.all(
      Array.from({ length: 3 }, async () => {
        for (let j = next++; j < keys.length; j = next++) {
          const key = keys[j]!
          await getAndCheck(tally, seed, b, key, b.key(key), undefined, op, true)
        }
      }),
    )
    await listAndCheck(tally, b, `${op}-list`, true)
  }
}

/** Each namespace's ListBuckets shows exactly the soak's buckets it owns now, none of another's. */
export async function checkBucketOwners(
  tally: Tally,
  tenants: readonly Tenant[],
  buckets: readonly BucketModel[],
): Promise<void> {
  for (const t of tenants) {
    const a = await attempt(tally, 'list-buckets', t.namespace, () => t.client.send(new ListBucketsCommand({})))
    if (!a.ok) {
      tally.fail(
        'unlistable after faults healed',
        `ListBuckets of ${t.namespace}: ${a.status ?? 'no answer'} ${a.code}`,
      )
      continue
    }
    const listed = new Set((a.value.Buckets ?? []).map((b) => b.Name!))
    const own = buckets.filter((b) => b.state === 'exists' && b.tenant === t).map((b) => b.name)
    const foreign = [...listed].filter((n) => !own.includes(n))
    const missing = own.filter((n) => !listed.has(n))
    tally.check(
      foreign.length === 0 && missing.length === 0,
      'bucket in the wrong namespace',
      () =>
        `${t.namespace} lists ${foreign.length ? `buckets it does not own: ${foreign.join(', ')}` : ''}${missing.length ? ` and misses its own: ${missing.join(', ')}` : ''}`,
    )
  }
}

/** Aborts every multipart upload left open (their parts would otherwise rightly stay). */
export async function abortOpenUploads(tally: Tally, buckets: readonly BucketModel[]): Promise<void> {
  for (const b of buckets) {
    if (b.state !== 'exists') continue
    const list = await attempt(tally, 'list-uploads', b.name, () =>
      b.tenant.client.send(new ListMultipartUploadsCommand({ Bucket: b.name })),
    )
    if (!list.ok) continue
    for (const u of list.value.Uploads ?? [])
      await attempt(tally, 'mpu-abort', `${b.name}/${u.Key}`, () =>
        b.tenant.client.send(new AbortMultipartUploadCommand({ Bucket: b.name, Key: u.Key!, UploadId: u.UploadId! })),
      )
  }
}

interface MetaFacts {
  /** Write ids objects and parts point at. */
  live: Set<string>
  /** Write ids queued for collection (gc_queue) or still marked in flight (write_intents). */
  pending: Set<string>
  /** gc_queue rows past their grace and not leased: work the collector should have done. */
  gcDue: number
  /** gc_queue rows leased after a failed attempt (a store was down): retried when the lease ends. */
  gcLeased: number
  /** write_intents older than the orphan grace: the orphan collector should have settled them. */
  staleIntents: number
}

async function readMeta(gatewayDir: string, now: number): Promise<MetaFacts> {
  const db = createClient({ url: `file:${join(gatewayDir, 'meta.db')}` })
  try {
    const live = new Set<string>()
    const pending = new Set<string>()
    for (const table of ['objects', 'parts']) {
      const rs = await db.execute(`select layout from ${table}`)
      for (const row of rs.rows) layoutIds(JSON.parse(String(row.layout)), live)
    }
    let gcDue = 0
    let gcLeased = 0
    const gc = await db.execute('select layout, enqueued_at, retry_at from gc_queue')
    for (const row of gc.rows) {
      layoutIds(JSON.parse(String(row.layout)), pending)
      if (Number(row.retry_at) > now) gcLeased++
      else if (Number(row.enqueued_at) < now - GC_GRACE_MS) gcDue++
    }
    let staleIntents = 0
    for (const row of (await db.execute('select id, started_at from write_intents')).rows) {
      pending.add(String(row.id))
      if (Number(row.started_at) < now - ORPHAN_GRACE_MS) staleIntents++
    }
    return { live, pending, gcDue, gcLeased, staleIntents }
  } finally {
    db.close()
  }
}

/**
 * After the grace periods: shard files whose write id no row names at all (no object, part, queued
 * garbage or write intent) are leaks nothing will ever collect; garbage past its grace and stale
 * intents are work the collectors left undone; live writes with fewer than six shard files were
 * not healed. `opsEnded`: when the last operation ended.
 */
export async function checkLeaks(
  tally: Tally,
  cluster: SoakCluster,
  admin: AdminTarget,
  opsEnded: number,
  leakedIsFailure: boolean,
): Promise<{ files: number; live: number; leaked: number; gcLeased: number }> {
  await sleep(opsEnded + ORPHAN_GRACE_MS + 2000 - Date.now())
  await healRun(admin, tally)
  const nodeDirs = cluster.nodes.map((n) => n.dataDir)
  let leaked: string[] = []
  let facts: MetaFacts = { live: new Set(), pending: new Set(), gcDue: 0, gcLeased: 0, staleIntents: 0 }
  let files = 0
  // Background collection runs every grace period; give it a few rounds to finish what is due.
  await waitFor(4 * GC_GRACE_MS + 10_000, async () => {
    facts = await readMeta(cluster.gatewayDir, Date.now())
    const shards = await listShardFiles(nodeDirs)
    files = shards.length
    leaked = [...byWriteId(shards).keys()].filter((id) => !facts.live.has(id) && !facts.pending.has(id))
    return (leaked.length === 0 || !leakedIsFailure) && facts.gcDue === 0 && facts.staleIntents === 0
  })
  // With `--without leaks` they are still counted (printed at the end), only not as a failure.
  if (leakedIsFailure)
    tally.check(
      leaked.length === 0,
      'shards leaked',
      () =>
        `${leaked.length} write ids have shard files that no object, part, gc_queue row or write intent names, ${ORPHAN_GRACE_MS / 1000} s after the last write: ${leaked.slice(0, 5).join(', ')}`,
    )
  tally.check(
    facts.gcDue === 0,
    'garbage not collected',
    () =>
      `${facts.gcDue} gc_queue rows past their ${GC_GRACE_MS / 1000} s grace and not leased, after a heal run and ${(4 * GC_GRACE_MS + 10_000) / 1000} s of background collection`,
  )
  tally.check(
    facts.staleIntents === 0,
    'orphans not collected',
    () =>
      `${facts.staleIntents} write intents older than the ${ORPHAN_GRACE_MS / 1000} s orphan grace remain after a heal run`,
  )
  const grouped = byWriteId(await listShardFiles(nodeDirs))
  const short = [...facts.live].filter((id) => new Set((grouped.get(id) ?? []).map((f) => f.index)).size < SHARDS)
  tally.check(
    short.length === 0,
    'not healed',
    () =>
      `${short.length} of ${facts.live.size} live writes have fewer than ${SHARDS} shard files after a heal run: ${short.slice(0, 5).join(', ')}`,
  )
  return { files, live: facts.live.size, leaked: leaked.length, gcLeased: facts.gcLeased }
}
