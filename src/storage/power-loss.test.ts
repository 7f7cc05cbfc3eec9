/**
 * A power loss under a 4 KiB write ×16 load, and under multi-stripe writes ×4 whose shards go to
 * the disk in gathered writes, loses no acknowledged write: six DiskStores over Disks that keep
 * only synced bytes and names (power-loss-disk.testkit.ts), cut while writes are in flight; every
 * write that resolved reads back byte for byte from what the disks held.
 */
import { describe, expect, it } from 'vitest'
import { createDiskStore } from './disk-store.ts'
import { createErasureStorage, type ErasureStorage } from './erasure-storage.ts'
import { nodePlatform, testCodec } from './erasure-storage.testkit.ts'
import type { DataLayout } from './object-storage.ts'
import { createPowerLossDisk, type PowerLossDisk } from './power-loss-disk.testkit.ts'

const STREAMS = 16
const SIZE = 4096
const ACKED_BEFORE_CUT = 64

function storageOver(disks: PowerLossDisk[]): ErasureStorage {
  return createErasureStorage({
    k: 4,
    m: 2,
    codec: testCodec(),
    platform: nodePlatform,
    readTimeoutMs: 2000,
    writeTimeoutMs: 5000,
    stores: disks.map((d, i) => createDiskStore(`d${i}`, d)),
  })
}

const bodyOf = (bytes: Uint8Array) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(bytes)
      c.close()
    },
  })

async function readAll(storage: ErasureStorage, layout: DataLayout, size: number): Promise<Uint8Array> {
  return new Uint8Array(await new Response(storage.read(layout, 0, size)).arrayBuffer())
}

function bytesFor(n: number, size = SIZE): Uint8Array {
  const b = new Uint8Array(size)
  for (let i = 0; i < size; i++) b[i] = (i * 31 + n * 7 + (i >> 8)) & 0xff
  return b
}

/** `bytes` in network-sized pieces, as a request body arrives. */
const piecesOf = (bytes: Uint8Array, piece: number) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (let at = 0; at < bytes.length; at += piece) c.enqueue(bytes.slice(at, at + piece))
      c.close()
    },
  })

describe('power loss under concurrent small writes (Disk port keeping only synced state)', () => {
  it('every write acknowledged before the cut reads back from the surviving image', async () => {
    const disks = Array.from({ length: 6 }, (_, i) => createPowerLossDisk(`d${i}`))
    const storage = storageOver(disks)
    const acked: { layout: DataLayout; bytes: Uint8Array }[] = []
    let images: PowerLossDisk[] | undefined
    let seq = 0
    const worker = async () => {
      while (!images && seq < 10_000) {
        const n = seq++
        const bytes = bytesFor(n)
        const { layout } = await storage.write(`w${n}`, bodyOf(bytes))
        if (images) return // resolved after the cut: not acknowledged before it
        acked.push({ layout, bytes })
        // The cut: taken synchronously, as the answer goes out, with the other writers mid-way.
        if (acked.length === ACKED_BEFORE_CUT) images = disks.map((d) => d.crash())
      }
    }
    await Promise.all(Array.from({ length: STREAMS }, worker))
    expect(images).toBeDefined()
    expect(seq).toBeGreaterThan(ACKED_BEFORE_CUT) // writes were in flight at the cut

    const after = storageOver(images!)
    const lost: string[] = []
    for (const { layout, bytes } of acked) {
      const got = await readAll(after, layout, SIZE).catch(() => undefined)
      if (!got || Buffer.compare(got, bytes) !== 0) lost.push(layout.id)
    }
    expect(lost, `${lost.length} of ${acked.length} acknowledged writes lost`).toEqual([])
  })

  it('big writes (several stripes, 512 KiB gathered writes per shard) acknowledged before the cut read back', async () => {
    const BIG = 3 * 1024 * 1024 + 5 // three full stripes and a short one
    const disks = Array.from({ length: 6 }, (_, i) => createPowerLossDisk(`d${i}`))
    const storage = storageOver(disks)
    const acked: { layout: DataLayout; bytes: Uint8Array }[] = []
    let images: PowerLossDisk[] | undefined
    let seq = 0
    const worker = async () => {
      while (!images && seq < 200) {
        const n = seq++
        const bytes = bytesFor(n, BIG)
        const { layout } = await storage.write(`b${n}`, piecesOf(bytes, 16 * 1024))
        if (images) return
        acked.push({ layout, bytes })
        if (acked.length === 6) images = disks.map((d) => d.crash())
      }
    }
    await Promise.all(Array.from({ length: 4 }, worker))
    expect(images).toBeDefined()
    expect(seq).toBeGreaterThan(6)
    // The shards went to the disks as gathered writes (the path under test), not joined copies.
    expect(disks.every((d) => d.gatheredWrites() > 0)).toBe(true)

    const after = storageOver(images!)
    const lost: string[] = []
    for (const { layout, bytes } of acked) {
      const got = await readAll(after, layout, BIG).catch(() => undefined)
      if (!got || Buffer.compare(got, bytes) !== 0) lost.push(layout.id)
    }
    expect(lost, `${lost.length} of ${acked.length} acknowledged writes lost`).toEqual([])
  })
})
