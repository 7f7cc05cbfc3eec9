/**
 * PlainStorage: ObjectStorage that keeps each payload whole, as one shard on one store chosen by
 * rendezvous placement (no parity). Uses ShardStore, placement and util/streams only.
 */
import { tap } from '../util/streams.ts'
import type { DataLayout, ObjectStorage, PlainLayout, WriteResult } from './object-storage.ts'
import { rank } from './placement.ts'
import { ShardNotFound, type ShardStore } from './shard-store.ts'

/** Ids seed placement and name the shard file, so they must be file-name safe. */
const WRITE_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/

export class NoHealthyStore extends Error {
  constructor(readonly tried: number) {
    super(`no healthy store to write to (${tried} checked): check the drives' health and free space`)
  }
}

export function createPlainStorage(stores: readonly ShardStore[]): ObjectStorage {
  const byId = new Map<string, ShardStore>()
  for (const s of stores) {
    if (byId.has(s.id)) throw new Error(`duplicate store id ${s.id}: every store needs a distinct id`)
    byId.set(s.id, s)
  }
  const ids = [...byId.keys()]

  /** The first store in `id`'s rendezvous order that reports healthy. */
  async function pick(id: string): Promise<ShardStore | undefined> {
    for (const storeId of rank(id, ids)) {
      const store = byId.get(storeId)!
      if (await store.healthy()) return store
    }
    return undefined
  }

  function plain(layout: DataLayout): PlainLayout {
    if (layout.v !== 1 || layout.scheme !== 'plain') {
      throw new TypeError(`unsupported layout ${JSON.stringify({ v: layout.v, scheme: layout.scheme })}`)
    }
    return layout
  }

  return {
    async write(id: string, body: ReadableStream<Uint8Array>): Promise<WriteResult> {
      if (!WRITE_ID.test(id)) {
        await body.cancel().catch(() => {})
        throw new TypeError(`invalid write id ${JSON.stringify(id)}: use [A-Za-z0-9._-], not starting with '.'`)
      }
      const store = await pick(id)
      if (!store) {
        await body.cancel().catch(() => {})
        throw new NoHealthyStore(ids.length)
      }
      // The shard is named after the write id: unique per version/part, so never overwritten.
      const shard = id
      let size = 0
      await store.put(shard, tap(body, (chunk) => (size += chunk.length)))
      return { layout: { v: 1, scheme: 'plain', store: store.id, shard, size }, size }
    },

    read(layout: DataLayout, start: number, end: number): ReadableStream<Uint8Array> {
      const l = plain(layout)
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end || end > l.size) {
        throw new RangeError(`invalid range [${start}, ${end}) of a ${l.size}-byte payload`)
      }
      const store = byId.get(l.store)
      if (!store) {
        // The store left the configuration: the data is unreachable, as if the shard were gone.
        const err = new ShardNotFound(l.store, l.shard)
        return new ReadableStream({ start: (c) => c.error(err) })
      }
      return store.get(l.shard, start, end - start)
    },

    async remove(layout: DataLayout): Promise<void> {
      const l = plain(layout)
      await byId.get(l.store)?.delete(l.shard)
    },
  }
}
