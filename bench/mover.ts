/**
 * The rebalance mover's data step, measured (part of the placement suite): objects written with
 * 4+2 over seven local drives, then one drive drained — every shard on it copied to the store the
 * current placement names (`copyShard`: streamed, fsynced, read back and checked block by block)
 * — beside a baseline in the same run: the same shards copied raw (`put(get())`, the fsynced
 * write without the read-back check). Then every object is read back through the moved layouts
 * and compared byte for byte. The metadata switch is not part of it (bench/gc.ts and the storage
 * suite measure commits).
 */
import { createHash, randomFillSync } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadSimdCodec } from '../src/runtime/codecs.ts'
import { createFsDisk } from '../src/runtime/fs-disk.ts'
import { createPlatform } from '../src/runtime/platform.ts'
import { createDiskStore, type DiskStore } from '../src/storage/disk-store.ts'
import { createErasureStorage } from '../src/storage/erasure-storage.ts'
import { type DataLayout, planMoves, withShardOn } from '../src/storage/index.ts'
import { shardName } from '../src/storage/shard-format.ts'

const MiB = 1024 * 1024

export interface MoverFigures {
  objects: number
  shardsMoved: number
  bytesMoved: number
  /** Moved bytes/s through copyShard (copy + read-back check). */
  moverBps: number
  /** The same shards copied raw, bytes/s. */
  rawBps: number
  /** Objects that read back byte for byte after the moves. */
  readable: number
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

async function readAll(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  const r = s.getReader()
  for (let x = await r.read(); !x.done; x = await r.read()) parts.push(x.value)
  return Buffer.concat(parts)
}

export async function measureMover(objects: number, size: number): Promise<MoverFigures> {
  const root = await mkdtemp(join(tmpdir(), 'coffer-bench-mover-'))
  try {
    const drives: DiskStore[] = []
    for (let i = 0; i < 8; i++) {
      const disk = createFsDisk(join(root, `drive-${i}`))
      await disk.check()
      drives.push(createDiskStore(`d${i}`, disk))
    }
    // Drive 7 is the raw baseline's target only.
    const stores = drives.slice(0, 7)
    const all = stores.map((s) => ({ id: s.id, capacity: 1, zone: s.id }))
    const erasure = createErasureStorage({
      stores: drives,
      candidates: all,
      k: 4,
      m: 2,
      codec: await loadSimdCodec(),
      platform: createPlatform(),
    })
    const written: { layout: DataLayout; sha: string }[] = []
    const body = new Uint8Array(size)
    for (let i = 0; i < objects; i++) {
      randomFillSync(body)
      const copy = body.slice()
      const { layout } = await erasure.write(
        `bench-mover-${i}`,
        new ReadableStream({
          start(c) {
            c.enqueue(copy)
            c.close()
          },
        }),
      )
      written.push({ layout, sha: sha(copy) })
    }
    // Drain d0: placement over the others.
    erasure.reconfigure(drives, all.slice(1))
    const moves = written.flatMap((w, at) =>
      planMoves(w.layout.stores, erasure.placement(w.layout.id)).map((m) => ({ at, ...m })),
    )
    // Baseline: the same shards copied raw to drive 7.
    let t0 = performance.now()
    let rawBytes = 0
    for (const m of moves) {
      const name = shardName(written[m.at]!.layout.id, m.index)
      const len = (await drives[0]!.stat(name)) ?? 0
      await drives[7]!.put(name, drives[0]!.get(name, 0, len))
      rawBytes += len
    }
    const rawBps = rawBytes / ((performance.now() - t0) / 1000)
    t0 = performance.now()
    let bytesMoved = 0
    for (const m of moves) {
      const w = written[m.at]!
      bytesMoved += (await erasure.copyShard(w.layout, m.index, m.to)).bytes
      w.layout = withShardOn(w.layout, m.index, m.to)
    }
    const moverBps = bytesMoved / ((performance.now() - t0) / 1000)
    // What a GC of the old shards does: the drained drive is emptied.
    for (const m of moves) await drives[0]!.delete(shardName(written[m.at]!.layout.id, m.index))
    let readable = 0
    for (const w of written) {
      const got = await readAll(erasure.read(w.layout, 0, w.layout.size))
      if (got.length === size && sha(got) === w.sha && !w.layout.stores.includes('d0')) readable++
    }
    return { objects, shardsMoved: moves.length, bytesMoved, moverBps, rawBps, readable }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

export const moverSize = (quick: boolean) => ({ objects: quick ? 24 : 64, size: 4 * MiB })
