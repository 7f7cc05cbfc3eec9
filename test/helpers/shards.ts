/**
 * Looks at shard files from outside the server, for the durability suites: list them under a
 * gateway data dir or a storage node's dir, group by write id, flip bytes in their blocks, delete;
 * plus what those suites share: health JSON, bounded polling, reproducible objects and read-back checks.
 */
import { createCipheriv, createHash } from 'node:crypto'
import { readdir, readFile, open, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { expect } from 'vitest'
import { bodyBytes } from './s3-client.ts'
import { httpsGet, type TestServer } from './server.ts'

export { waitFor } from './wait.ts'

/** Fixed part of a shard header before the write id, and the header CRC after it (shard-format.ts). */
const FIXED_HEADER = 22
const HEADER_CRC = 4
const TRAILER_LENGTH = 16
/** CRC32 after every block: 4 bytes for both checksum ids (1: plain, format v1; 2: bound to shard and stripe, v2). */
const BLOCK_CHECKSUM_SIZE = 4
/** How deep below a root a `shards/` directory may sit (`drives/3/shards`, `disk0/shards`, …). */
const MAX_DEPTH = 4
const SHARD_FILE = /^(.+)\.(\d+)$/

export interface ShardFile {
  /** The directory that holds `shards/` (one drive). */
  drive: string
  path: string
  writeId: string
  index: number
  size: number
}

/** `<dataDir>/drives/0..N-1`, in numeric order. */
export async function driveDirs(dataDir: string): Promise<string[]> {
  const names = (await readdir(join(dataDir, 'drives')).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n))
  return names.sort((a, b) => Number(a) - Number(b)).map((n) => join(dataDir, 'drives', n))
}

/** Every directory under `root` (itself included) that holds a `shards/` or `tmp/` directory. */
export async function findDrives(root: string, depth = 0): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => [])
  const found: string[] = []
  // A drive with only writes in progress has tmp/ but no shards/ yet.
  if (entries.some((e) => e.isDirectory() && (e.name === 'shards' || e.name === 'tmp'))) found.push(root)
  if (depth >= MAX_DEPTH) return found
  for (const e of entries) {
    if (e.isDirectory() && e.name !== 'shards' && e.name !== 'tmp' && !e.name.startsWith('.')) {
      found.push(...(await findDrives(join(root, e.name), depth + 1)))
    }
  }
  return found
}

/** Shard files of one drive directory (`<drive>/shards/<2 hex>/<writeId>.<index>`); gateway drives are `<data>/drives/N`, a node's `<data>/drive`. */
export async function listDriveShards(drive: string): Promise<ShardFile[]> {
  const out: ShardFile[] = []
  const base = join(drive, 'shards')
  for (const dir of await readdir(base).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{2}$/.test(dir)) continue
    for (const name of await readdir(join(base, dir)).catch(() => [] as string[])) {
      const m = SHARD_FILE.exec(name)
      if (!m || name.startsWith('.')) continue
      const path = join(base, dir, name)
      const size = await stat(path).then(
        (s) => s.size,
        () => -1,
      )
      if (size >= 0) out.push({ drive, path, writeId: m[1]!, index: Number(m[2]), size })
    }
  }
  return out
}

/** Shard files of every drive under `root` (a gateway data dir, a node dir, or a list of them). */
export async function listShards(root: string | string[]): Promise<ShardFile[]> {
  const roots = Array.isArray(root) ? root : [root]
  const drives = (await Promise.all(roots.map((r) => findDrives(r)))).flat()
  return (await Promise.all([...new Set(drives)].map(listDriveShards))).flat()
}

/** write id → its shard files. */
export function byWriteId(files: readonly ShardFile[]): Map<string, ShardFile[]> {
  const map = new Map<string, ShardFile[]>()
  for (const f of files) {
    const list = map.get(f.writeId) ?? []
    list.push(f)
    map.set(f.writeId, list)
  }
  return map
}

/** Write ids with fewer than `want` distinct shard indexes present (ids missing entirely included). */
export function incomplete(files: readonly ShardFile[], ids: Iterable<string>, want: number): string[] {
  const grouped = byWriteId(files)
  const short: string[] = []
  for (const id of ids) {
    const indexes = new Set((grouped.get(id) ?? []).map((f) => f.index))
    if (indexes.size < want) short.push(id)
  }
  return short
}

/** Temp files (writes in progress) under every drive below `root`. */
export async function tempFiles(root: string | string[]): Promise<{ path: string; size: number }[]> {
  const roots = Array.isArray(root) ? root : [root]
  const drives = (await Promise.all(roots.map((r) => findDrives(r)))).flat()
  const out: { path: string; size: number }[] = []
  for (const drive of new Set(drives)) {
    for (const name of await readdir(join(drive, 'tmp')).catch(() => [] as string[])) {
      const path = join(drive, 'tmp', name)
      const size = await stat(path).then(
        (s) => s.size,
        () => -1,
      )
      if (size >= 0) out.push({ path, size })
    }
  }
  return out
}

export interface ParsedShard {
  writeId: string
  index: number
  k: number
  blockSize: number
  headerLength: number
  /** Payload length from the trailer (undefined while the file is still being written). */
  payload?: number
}

/** Reads a shard (or temp) file's header, and its trailer when the file looks complete. */
export async function readShardHeader(path: string): Promise<ParsedShard> {
  const h = await open(path, 'r')
  try {
    const head = Buffer.alloc(FIXED_HEADER + 256)
    const { bytesRead } = await h.read(head, 0, head.length, 0)
    if (bytesRead < FIXED_HEADER || head.toString('latin1', 0, 4) !== 'CFSH')
      throw new Error(`${path} is not a shard file`)
    const idLen = head.readUInt16LE(20)
    const parsed: ParsedShard = {
      writeId: head.toString('utf8', FIXED_HEADER, FIXED_HEADER + idLen),
      index: head.readUInt16LE(10),
      k: head.readUInt16LE(12),
      blockSize: head.readUInt32LE(16),
      headerLength: FIXED_HEADER + idLen + HEADER_CRC,
    }
    const { size } = await h.stat()
    if (size >= parsed.headerLength + TRAILER_LENGTH) {
      const tail = Buffer.alloc(TRAILER_LENGTH)
      await h.read(tail, 0, TRAILER_LENGTH, size - TRAILER_LENGTH)
      if (tail.toString('latin1', 0, 4) === 'CFSE') parsed.payload = Number(tail.readBigUInt64LE(4))
    }
    return parsed
  } finally {
    await h.close()
  }
}

/** [start, end) of every block's bytes in a complete shard file (block checksums excluded). */
export async function blockRanges(path: string): Promise<[number, number][]> {
  const p = await readShardHeader(path)
  if (p.payload === undefined) throw new Error(`${path} has no trailer`)
  const stripe = p.k * p.blockSize
  const stripes = Math.ceil(p.payload / stripe)
  const ranges: [number, number][] = []
  let at = p.headerLength
  for (let s = 0; s < stripes; s++) {
    const len = s < stripes - 1 ? p.blockSize : Math.ceil((p.payload - s * stripe) / p.k)
    ranges.push([at, at + len])
    at += len + BLOCK_CHECKSUM_SIZE
  }
  return ranges
}

/** XORs one byte at each offset with a non-zero mask, so every byte really changes. */
export async function flipBytesAt(
  path: string,
  offsets: readonly number[],
  rand: () => number = Math.random,
): Promise<void> {
  const h = await open(path, 'r+')
  try {
    for (const off of offsets) {
      const b = Buffer.alloc(1)
      await h.read(b, 0, 1, off)
      b[0] = b[0]! ^ (1 + Math.floor(rand() * 255))
      await h.write(b, 0, 1, off)
    }
    await h.sync()
  } finally {
    await h.close()
  }
}

/**
 * Flips `count` random bytes inside the blocks of a shard file (never the header, checksums or
 * trailer, so only the block checksum can notice). Returns the offsets flipped.
 */
export async function flipRandomBlockBytes(
  path: string,
  count: number,
  rand: () => number = Math.random,
): Promise<number[]> {
  const ranges = (await blockRanges(path)).filter(([a, b]) => b > a)
  if (ranges.length === 0) throw new Error(`${path} has no block bytes to flip`)
  const offsets = new Set<number>()
  for (let i = 0; offsets.size < count && i < count * 100; i++) {
    const [a, b] = ranges[Math.floor(rand() * ranges.length)]!
    offsets.add(a + Math.floor(rand() * (b - a)))
  }
  await flipBytesAt(path, [...offsets], rand)
  return [...offsets]
}

/** Deletes the given shard files (missing ones are fine). */
export async function deleteShardFiles(files: readonly Pick<ShardFile, 'path'>[]): Promise<void> {
  await Promise.all(files.map((f) => rm(f.path, { force: true })))
}

/** Reads whole files into memory (for small shard sets kept as the "before" picture). */
export async function snapshotFiles(paths: readonly string[]): Promise<Map<string, Buffer>> {
  return new Map(await Promise.all(paths.map(async (p) => [p, await readFile(p)] as const)))
}

/** A small seeded PRNG (xorshift32), so a failing run can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 0x1_0000_0000
  }
}

/** Deterministic object bytes for `seed` (AES-256-CTR keystream): regenerate instead of keeping them. */
export function objectBytes(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest()
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  return cipher.update(Buffer.alloc(size))
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

export interface Health {
  status: 'ok' | 'degraded' | 'full'
  ec: string
  stores: { id: string; up: boolean; free?: number; total?: number; full?: boolean }[]
  metadata?: { free: number; total: number; full: boolean }
  problems: string[]
  healBacklog: number
  stats: Record<
    | 'degradedReads'
    | 'degradedWrites'
    | 'shardsRebuilt'
    | 'corruptShardsFound'
    | 'missingShardsFound'
    | 'orphansRemoved'
    | 'healFailures'
    | 'scrubPasses',
    number
  >
}

/** GET /_coffer/health (200 when writes can reach quorum, 503 otherwise; the body either way). */
export async function getHealth(server: Pick<TestServer, 'port' | 'caPem'>): Promise<Health & { httpStatus: number }> {
  const res = await httpsGet(server, '/_coffer/health')
  return { ...(JSON.parse(res.body) as Health), httpStatus: res.status }
}

const MiB = 1024 * 1024

/** An object a suite stored, with what it must read back as. */
export interface Obj {
  key: string
  size: number
  sha: string
  multipart?: boolean
}

/** Runs `fn` over `items`, `width` at a time. */
export async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]!)
    }),
  )
}

/** Stores objectBytes(key, size): one PutObject, or lib-storage's multipart upload in 5 MiB parts. */
export async function putObj(s3: S3Client, Bucket: string, key: string, size: number, multipart = false): Promise<Obj> {
  const body = objectBytes(key, size)
  if (multipart) {
    await new Upload({ client: s3, params: { Bucket, Key: key, Body: body }, partSize: 5 * MiB, queueSize: 2 }).done()
  } else {
    await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: body }))
  }
  return { key, size, sha: sha256(body), multipart }
}

export async function getBytes(s3: S3Client, Bucket: string, Key: string, Range?: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket, Key, Range }))
  return bodyBytes(r.Body)
}

/**
 * Reads every object whole (length and SHA-256), plus, for up to `rangedObjects` of the big ones,
 * ranges across block, stripe and part boundaries.
 */
export async function verifyAll(
  s3: S3Client,
  Bucket: string,
  objects: readonly Obj[],
  rangedObjects = 6,
): Promise<void> {
  await verifyWhole(s3, Bucket, objects)
  await verifyRanges(s3, Bucket, objects.filter((x) => x.size >= 2 * MiB).slice(0, rangedObjects))
}

/** Every object read whole, 4 at a time; returns the bytes read. */
export async function verifyWhole(s3: S3Client, Bucket: string, objects: readonly Obj[]): Promise<number> {
  let bytes = 0
  await pool(objects, 4, async (o) => {
    const got = await getBytes(s3, Bucket, o.key)
    expect(got.length, o.key).toBe(o.size)
    expect(sha256(got), o.key).toBe(o.sha)
    bytes += got.length
  })
  return bytes
}

/** Ranges across block, stripe and part boundaries (and the first and last bytes) of each object. */
export async function verifyRanges(s3: S3Client, Bucket: string, objects: readonly Obj[]): Promise<void> {
  for (const o of objects) {
    const whole = objectBytes(o.key, o.size)
    const ranges: [number, number][] = [
      [0, 0],
      [256 * 1024 - 3, 256 * 1024 + 2], // block boundary (default 256 KiB blocks)
      [MiB - 7, MiB + 7], // stripe boundary (4 blocks)
      [o.size - 100, o.size - 1],
    ]
    if (o.size > 5 * MiB) ranges.push([5 * MiB - 5, 5 * MiB + 5]) // part boundary of the multipart ones
    for (const [a, b] of ranges.filter(([, b]) => b < o.size)) {
      const got = await getBytes(s3, Bucket, o.key, `bytes=${a}-${b}`)
      expect(got.equals(whole.subarray(a, b + 1)), `${o.key} bytes=${a}-${b}`).toBe(true)
    }
  }
}
