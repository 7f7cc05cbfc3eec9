/**
 * Test kit for the src/meta and src/service tests: a fresh migrated database per test and row
 * factories. Never imported by production code; imports only this layer.
 */
import { openDb, type Meta } from './db.ts'
import { ensureDefaultNamespace, upsertRootUser } from './queries/identities.ts'
import { insertBucket } from './queries/buckets.ts'
import type { ObjectRow, PartRow, UploadRow } from './rows.ts'
import type { Writer } from './queries/writer.ts'

/** `:memory:` by default; pass a `file:` URL to exercise WAL and several connections. */
export async function freshDb(url = ':memory:', buckets: string[] = ['b']): Promise<Meta> {
  const meta = await openDb(url)
  await ensureDefaultNamespace(meta.db)
  await upsertRootUser(meta.db, { accessKeyId: 'ROOT', wrappedSecret: 'secret' })
  for (const name of buckets) {
    await insertBucket(meta.db, {
      name,
      id: bucketIdOf(name),
      namespace: 'default',
      owner: 'ROOT',
      region: 'us-east-1',
      createdAt: new Date(),
    })
  }
  return meta
}

/** The id freshDb gives bucket `name` (ids are random in production). */
export const bucketIdOf = (name: string): string => `id-${name}`

/** The root user writing into a bucket freshDb made. */
export const writer = (bucket = 'b', accessKeyId: string | undefined = 'ROOT'): Writer => ({
  bucket,
  bucketId: bucketIdOf(bucket),
  accessKeyId,
})

export function objectRow(bucket: string, key: string, over: Partial<ObjectRow> = {}): ObjectRow {
  return {
    bucket,
    key,
    versionId: 'null',
    ord: 0,
    latest: true,
    deleteMarker: false,
    lock: null,
    uploadId: null,
    size: 3,
    etag: '"e1"',
    lastModified: new Date(1_700_000_000_000),
    contentType: 'text/plain',
    headers: { 'cache-control': 'no-cache' },
    userMeta: { color: 'blue' },
    checksum: null,
    parts: null,
    layout: { shard: `${bucket}/${key}` },
    encryption: null,
    tags: null,
    acl: null,
    ...over,
  }
}

export function uploadRow(bucket: string, key: string, uploadId: string, over: Partial<UploadRow> = {}): UploadRow {
  return {
    uploadId,
    bucket,
    key,
    initiatedAt: new Date(1_700_000_000_000),
    initiator: 'ROOT',
    contentType: null,
    headers: {},
    userMeta: {},
    checksumAlgorithm: null,
    checksumType: null,
    encryption: null,
    lock: null,
    tags: null,
    acl: null,
    ...over,
  }
}

export function partRow(uploadId: string, partNumber: number, over: Partial<PartRow> = {}): PartRow {
  return {
    uploadId,
    partNumber,
    size: 5,
    etag: `"p${partNumber}"`,
    lastModified: new Date(1_700_000_000_000),
    checksum: null,
    layout: { part: `${uploadId}/${partNumber}` },
    crypto: null,
    ...over,
  }
}

/** UTF-8 byte order, the order S3 lists keys in: the oracle for listing tests. */
export function byteOrder(a: string, b: string): number {
  const x = new TextEncoder().encode(a)
  const y = new TextEncoder().encode(b)
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!
  return x.length - y.length
}

/** Counts statements and rows returned through the client (listing cost, independent of time). */
export function countQueries(meta: Meta): { queries: number; rows: number } {
  const stats = { queries: 0, rows: 0 }
  const client = meta.client
  const execute = client.execute.bind(client) as (...a: unknown[]) => ReturnType<typeof client.execute>
  client.execute = (async (...args: unknown[]) => {
    const rs = await execute(...args)
    stats.queries++
    stats.rows += rs.rows.length
    return rs
  }) as typeof client.execute
  return stats
}

/**
 * The SQL texts the client is given from now on (execute and batch), each once: how many prepared
 * statements a connection would keep for them.
 */
export function recordSqlTexts(meta: Meta): Set<string> {
  const texts = new Set<string>()
  const client = meta.client
  const sqlOf = (s: unknown) => (typeof s === 'string' ? s : Array.isArray(s) ? s[0] : (s as { sql: string }).sql)
  const execute = client.execute.bind(client) as (...a: unknown[]) => ReturnType<typeof client.execute>
  client.execute = ((stmt: unknown, ...rest: unknown[]) => {
    texts.add(sqlOf(stmt))
    return execute(stmt, ...rest)
  }) as typeof client.execute
  const batch = client.batch.bind(client) as (...a: unknown[]) => ReturnType<typeof client.batch>
  client.batch = ((stmts: unknown[], ...rest: unknown[]) => {
    for (const s of stmts) texts.add(sqlOf(s))
    return batch(stmts, ...rest)
  }) as typeof client.batch
  return texts
}
