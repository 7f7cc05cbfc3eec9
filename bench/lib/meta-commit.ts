/**
 * Metadata commit latency for bench/storage.ts: one object row per commit, as a PUT commits it, on
 * an embedded libSQL file opened as the server opens it (synchronous=FULL) and downgraded to NORMAL.
 */
import { join } from 'node:path'
import { commitObject, ensureDefaultNamespace, insertBucket, openDb, upsertRootUser } from '../../src/meta/index.ts'

/** An embedded metadata database as the server opens it, with one bucket; `normal` downgrades its sync. */
async function metaDb(dir: string, normal: boolean) {
  const meta = await openDb(`file:${join(dir, normal ? 'normal.db' : 'full.db')}`)
  if (normal) await meta.client.execute('PRAGMA synchronous=NORMAL')
  await ensureDefaultNamespace(meta.db)
  await upsertRootUser(meta.db, { accessKeyId: 'ROOT', wrappedSecret: 'bench-secret' })
  await insertBucket(meta.db, {
    name: 'b',
    id: 'bench-bucket',
    namespace: 'default',
    owner: 'ROOT',
    region: 'us-east-1',
    createdAt: new Date(),
  })
  const mode = (await meta.client.execute('PRAGMA synchronous')).rows[0]?.synchronous
  if (Number(mode) !== (normal ? 1 : 2)) throw new Error(`synchronous is ${mode}, expected ${normal ? 1 : 2}`)
  let n = 0
  /** One PutObject's commit: the object row of a 4 KiB object, written as the service does. */
  const commit = () =>
    commitObject(
      meta.db,
      {
        bucket: 'b',
        key: `k/${n++}`,
        versionId: 'null',
        ord: 0,
        latest: true,
        deleteMarker: false,
        lock: null,
        uploadId: null,
        size: 4096,
        etag: '"0123456789abcdef0123456789abcdef"',
        lastModified: new Date(),
        contentType: 'application/octet-stream',
        headers: {},
        userMeta: {},
        checksum: null,
        parts: null,
        layout: { shard: 'bench' },
        encryption: null,
      },
      { bucket: 'b', bucketId: 'bench-bucket', accessKeyId: 'ROOT' },
    )
  return { commit, close: () => meta.close() }
}

/** Commits one at a time for `ms`, per mode, in interleaved rounds; latencies in ms. */
export async function commitLatencies(dir: string, rounds: number, ms: number) {
  const full = await metaDb(dir, false)
  const normal = await metaDb(dir, true)
  const out = { full: [] as number[], normal: [] as number[] }
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [db, into] of [
        [full, out.full],
        [normal, out.normal],
      ] as const) {
        const end = performance.now() + ms
        while (performance.now() < end) {
          const t = performance.now()
          await db.commit()
          into.push(performance.now() - t)
        }
      }
    }
  } finally {
    full.close()
    normal.close()
  }
  return out
}
