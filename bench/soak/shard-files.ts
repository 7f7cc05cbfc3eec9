/**
 * Shard files seen from outside the server (docs/formats.md §1): list them on the storage nodes'
 * drives, find a block's byte range, and damage them the way a failing drive would.
 */
import { open, readdir, stat, truncate } from 'node:fs/promises'
import { join } from 'node:path'

export interface ShardFile {
  path: string
  writeId: string
  index: number
  size: number
}

const SHARD_NAME = /^(.+)\.(\d+)$/
const FIXED_HEADER = 22
const HEADER_CRC = 4
const TRAILER = 16
const BLOCK_CHECKSUM = 4

/** Every shard file under `<nodeDir>/drive/shards/<2 hex>/`. */
export async function listShardFiles(nodeDirs: readonly string[]): Promise<ShardFile[]> {
  const out: ShardFile[] = []
  for (const nodeDir of nodeDirs) {
    const base = join(nodeDir, 'drive', 'shards')
    for (const fan of await readdir(base).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{2}$/.test(fan)) continue
      for (const name of await readdir(join(base, fan)).catch(() => [] as string[])) {
        const m = SHARD_NAME.exec(name)
        if (!m || name.startsWith('.')) continue
        const path = join(base, fan, name)
        const size = await stat(path).then(
          (s) => s.size,
          () => -1,
        )
        if (size >= 0) out.push({ path, writeId: m[1]!, index: Number(m[2]), size })
      }
    }
  }
  return out
}

export function byWriteId(files: readonly ShardFile[]): Map<string, ShardFile[]> {
  const map = new Map<string, ShardFile[]>()
  for (const f of files) map.set(f.writeId, [...(map.get(f.writeId) ?? []), f])
  return map
}

/** [start, end) of each block's bytes in a complete shard file; undefined when it is not one. */
export async function blockRanges(path: string): Promise<[number, number][] | undefined> {
  const h = await open(path, 'r')
  try {
    const head = Buffer.alloc(FIXED_HEADER + 256)
    const { bytesRead } = await h.read(head, 0, head.length, 0)
    if (bytesRead < FIXED_HEADER || head.toString('latin1', 0, 4) !== 'CFSH') return undefined
    const k = head.readUInt16LE(12)
    const blockSize = head.readUInt32LE(16)
    const headerLength = FIXED_HEADER + head.readUInt16LE(20) + HEADER_CRC
    const { size } = await h.stat()
    if (size < headerLength + TRAILER) return undefined
    const tail = Buffer.alloc(TRAILER)
    await h.read(tail, 0, TRAILER, size - TRAILER)
    if (tail.toString('latin1', 0, 4) !== 'CFSE') return undefined
    const payload = Number(tail.readBigUInt64LE(4))
    const stripe = k * blockSize
    const stripes = Math.ceil(payload / stripe)
    const ranges: [number, number][] = []
    let at = headerLength
    for (let s = 0; s < stripes; s++) {
      const len = s < stripes - 1 ? blockSize : Math.ceil((payload - s * stripe) / k)
      ranges.push([at, at + len])
      at += len + BLOCK_CHECKSUM
    }
    return ranges
  } finally {
    await h.close()
  }
}

/** XORs the byte at each offset with a non-zero mask, so every byte really changes. */
export async function flipBytes(path: string, offsets: readonly number[], masks: readonly number[]): Promise<void> {
  const h = await open(path, 'r+')
  try {
    for (const [i, off] of offsets.entries()) {
      const b = Buffer.alloc(1)
      await h.read(b, 0, 1, off)
      b[0] = b[0]! ^ (1 + ((masks[i] ?? 0) % 255))
      await h.write(b, 0, 1, off)
    }
  } finally {
    await h.close()
  }
}

export const truncateTo = (path: string, length: number): Promise<void> => truncate(path, length)
