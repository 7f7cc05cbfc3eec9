/**
 * S3 workloads over the AWS SDK v3: PUT/GET throughput cells, 4 KiB ops with latency percentiles,
 * ListObjectsV2 pages, and the fast fills of a listing bucket (Coffer metadata rows, s3rver files).
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { createClient } from '@libsql/client/node'
import { patternStream } from '../../test/helpers/big-object.ts'
import { load, type LoadOptions, type LoadResult } from './timing.ts'

/** Objects up to this size are sent from one prepared buffer; larger ones stream (patternStream). */
const BUFFERED_MAX = 8 << 20

export const keyFor = (prefix: string, size: number, i: number) => `${prefix}/${size}/${i}`

/** CPU seconds a process spent so far: its main thread (tid = pid) and all its other threads. */
export interface ThreadCpu {
  main: number
  other: number
}

let clockTicks: number | undefined

/** Linux /proc only; undefined elsewhere or once the process is gone. */
export function threadCpu(pid: number): ThreadCpu | undefined {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    const out = { main: 0, other: 0 }
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      // Fields after "pid (comm) ": utime and stime are the 12th and 13th.
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')
      const seconds = (Number(f[11]) + Number(f[12])) / clockTicks
      if (Number(tid) === pid) out.main += seconds
      else out.other += seconds
    }
    return out
  } catch {
    return undefined
  }
}

/**
 * Where the CPU of a cell went: the server's request thread and other threads (threadCpu), this
 * bench process (the SDK client), and everything else on the machine (all CPUs' busy time from
 * /proc/stat minus those two) — a cell that is slow while `rest` is large was sharing the machine.
 */
export interface CellCpu extends ThreadCpu {
  client: number
  rest: number
}

/** Busy CPU seconds of the whole machine so far (all CPUs; Linux /proc/stat, else undefined). */
function machineBusy(): number | undefined {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal …: idle and iowait are not busy; steal (the
    // hypervisor running another guest) counts, as those cores were not this run's either.
    const busy = f.slice(0, 8).reduce((a, b) => a + b, 0) - f[3]! - f[4]!
    return busy / clockTicks
  } catch {
    return undefined
  }
}

/** Starts a CPU account for server `pid`; the returned function gives the CPU since then. */
export function cellCpu(pid: number): () => CellCpu | undefined {
  const server0 = threadCpu(pid)
  const machine0 = machineBusy()
  const client0 = process.cpuUsage()
  return () => {
    const server1 = threadCpu(pid)
    const machine1 = machineBusy()
    const c = process.cpuUsage(client0)
    if (!server0 || !server1 || machine0 === undefined || machine1 === undefined) return undefined
    const main = server1.main - server0.main
    const other = server1.other - server0.other
    const client = (c.user + c.system) / 1e6
    return { main, other, client, rest: Math.max(0, machine1 - machine0 - main - other - client) }
  }
}

export async function createBucket(client: S3Client, bucket: string): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: bucket }))
}

/** Incompressible bytes, the same for every target given the same seed (xorshift32; odd seed). */
export function bufferOf(size: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(size)
  let x = seed | 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** Drains a GetObject body; resolves with its length. */
export async function drain(body: unknown): Promise<number> {
  let n = 0
  for await (const c of body as AsyncIterable<Uint8Array>) n += c.length
  return n
}

export function putCell(
  client: S3Client,
  bucket: string,
  prefix: string,
  size: number,
  opts: LoadOptions,
): Promise<LoadResult> {
  const buf = size <= BUFFERED_MAX ? bufferOf(size) : undefined
  return load(async (i) => {
    const Body = buf ?? patternStream(size, i + 1).stream
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: keyFor(prefix, size, i), Body, ContentLength: size }))
    return size
  }, opts)
}

/** GETs keys 0..stored-1 round robin (stored: how many the PUT cells left). */
export function getCell(
  client: S3Client,
  bucket: string,
  prefix: string,
  size: number,
  stored: number,
  opts: LoadOptions,
): Promise<LoadResult> {
  return load(async (i) => {
    const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: keyFor(prefix, size, i % stored) }))
    const n = await drain(r.Body)
    if (n !== size) throw new Error(`GET returned ${n} of ${size} bytes`)
    return n
  }, opts)
}

/** PUTs one object and reads it back: true when the bytes match (checked once per target and size). */
export async function roundTripOk(client: S3Client, bucket: string, size: number): Promise<boolean> {
  const src = size <= BUFFERED_MAX ? { body: bufferOf(size), sha: '' } : undefined
  const stream = src ? undefined : patternStream(size, 99)
  const Key = `verify/${size}`
  await client.send(
    new PutObjectCommand({ Bucket: bucket, Key, Body: src?.body ?? stream!.stream, ContentLength: size }),
  )
  const expected = src ? createHash('sha256').update(src.body).digest('hex') : stream!.sha256()
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key }))
  const h = createHash('sha256')
  for await (const c of r.Body as AsyncIterable<Uint8Array>) h.update(c)
  return h.digest('hex') === expected
}

// ---- listing -------------------------------------------------------------------------------

/** 1000 top-level prefixes, so a delimiter page (max-keys 1000) rolls up the whole bucket. */
const LIST_PREFIXES = 1000
export const listKey = (i: number, n: number) => {
  const per = Math.max(1, Math.ceil(n / LIST_PREFIXES))
  return `p${String(Math.floor(i / per)).padStart(4, '0')}/k${String(i % per).padStart(7, '0')}`
}

/**
 * Fills `bucket` with n 0-byte objects straight into Coffer's metadata: one SQL statement copying
 * a real row (PUT through S3 into `templateBucket`), the method of src/meta's list-scale test.
 * Millions of PUTs would take hours here; listing reads only these rows.
 */
export async function fillCofferMeta(
  dataDir: string,
  templateBucket: string,
  bucket: string,
  n: number,
): Promise<void> {
  const db = createClient({ url: `file:${join(dataDir, 'meta.db')}` })
  try {
    await db.execute('PRAGMA busy_timeout=10000')
    const cols = (await db.execute('PRAGMA table_info(objects)')).rows.map((r) => String(r.name))
    const per = Math.max(1, Math.ceil(n / LIST_PREFIXES))
    const select = cols.map((c) =>
      c === 'bucket' ? '? AS bucket' : c === 'key' ? `printf('p%04d/k%07d', i / ${per}, i % ${per})` : `t.${c}`,
    )
    const res = await db.execute({
      sql: `WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ? - 1)
            INSERT INTO objects (${cols.join(', ')}) SELECT ${select.join(', ')} FROM c, (SELECT * FROM objects WHERE bucket = ? LIMIT 1) t`,
      args: [n, bucket, templateBucket],
    })
    if (res.rowsAffected !== n) throw new Error(`metadata fill inserted ${res.rowsAffected} of ${n} rows`)
  } finally {
    db.close()
  }
}

/** The same keys as empty files in s3rver's filesystem layout (object + .md5 beside it). */
export async function fillS3rverFiles(dataDir: string, bucket: string, n: number): Promise<void> {
  const emptyMd5 = createHash('md5').digest('hex')
  const dirs = new Set<string>()
  const batch: Promise<void>[] = []
  for (let i = 0; i < n; i++) {
    const key = listKey(i, n)
    const [dir, name] = key.split('/') as [string, string]
    const path = join(dataDir, bucket, dir)
    if (!dirs.has(path)) {
      await mkdir(path, { recursive: true })
      dirs.add(path)
    }
    batch.push(
      writeFile(join(path, `${name}._S3rver_object`), ''),
      writeFile(join(path, `${name}._S3rver_object.md5`), emptyMd5),
    )
    if (batch.length >= 256) await Promise.all(batch.splice(0))
  }
  await Promise.all(batch)
}

export interface ListResult {
  plain: LoadResult
  delimited: LoadResult
  /** Entries per page seen (keys, or common prefixes), to show a page was full. */
  plainEntries: number
  delimitedEntries: number
}

/** Page latency: pages at random StartAfter positions, and the delimiter page from the start. */
export async function listCell(
  client: S3Client,
  bucket: string,
  n: number,
  pages: number,
  maxMs: number,
): Promise<ListResult> {
  let plainEntries = 0
  let delimitedEntries = 0
  let seed = 12345
  const rand = () => {
    seed = (seed * 1103515245 + 12345) >>> 0
    return seed / 2 ** 32
  }
  const opts = { concurrency: 1, maxOps: pages, maxMs, minOps: 3 }
  const plain = await load(async () => {
    const r = await client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        MaxKeys: 1000,
        StartAfter: listKey(Math.floor(rand() * Math.max(1, n - 1000)), n),
      }),
    )
    plainEntries = Math.max(plainEntries, r.KeyCount ?? 0)
    return 0
  }, opts)
  const delimited = await load(async () => {
    const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000, Delimiter: '/' }))
    delimitedEntries = Math.max(delimitedEntries, (r.CommonPrefixes?.length ?? 0) + (r.Contents?.length ?? 0))
    return 0
  }, opts)
  return { plain, delimited, plainEntries, delimitedEntries }
}
