/**
 * Every storage write of the service goes through here: an intent is recorded before the first
 * shard is stored and settled once metadata points at the data (or the data is gone), so the
 * shards of a crashed write can always be found and removed. Degraded writes queue a heal.
 */
import { encryptStream, generatePrefix, plainLength } from '../crypto/index.ts'
import * as meta from '../meta/index.ts'
import { QuorumError, type WriteResult } from '../storage/index.ts'
import { toBase64 } from '../util/bytes.ts'
import { ServiceError } from './errors.ts'
import type { ServiceContext } from './context.ts'
import type { Segment } from './stored-data.ts'

export const newId = (): string => crypto.randomUUID()

export interface StoredWrite {
  id: string
  written: WriteResult
  /** The plaintext view of what was stored (size, layout, and the crypto parameters if sealed). */
  segment: Segment
}

/** Encrypt the body on its way to storage: the object key and what the packages are bound to. */
export interface Seal {
  key: Uint8Array
  objectId: string
  partNumber: number
}

export async function storeData(
  ctx: ServiceContext,
  plaintext: ReadableStream<Uint8Array>,
  seal?: Seal,
): Promise<StoredWrite> {
  const id = newId()
  // A fresh nonce prefix per storage write, never per object: a re-uploaded part reuses its key.
  const prefix = seal ? await generatePrefix() : undefined
  const body = seal
    ? encryptStream(plaintext, {
        aead: ctx.keys.aead,
        key: seal.key,
        objectId: seal.objectId,
        partNumber: seal.partNumber,
        prefix: prefix!,
      })
    : plaintext
  await meta.recordIntent(ctx.db, id)
  // On failure the intent stays: a store that confirms late may still leave a shard behind,
  // and orphan collection removes it by id.
  let written: WriteResult
  try {
    written = await ctx.storage.write(id, body)
  } catch (e) {
    if (e instanceof QuorumError) {
      throw new ServiceError(
        'Unavailable',
        'Too few storage nodes or drives are reachable to store this object; retry later.',
      )
    }
    throw e
  }
  if (written.degraded && written.degraded.length > 0) {
    ctx.stats.degradedWrites++
    await meta.enqueueHeal(ctx.db, [written.layout], 'degraded-write')
  }
  if (!seal) return { id, written, segment: { size: written.size, layout: written.layout } }
  const size = plainLength(written.size)
  if (size === undefined) throw new Error(`stored ${written.size} bytes, which no plaintext encrypts to`)
  return {
    id,
    written,
    segment: { size, layout: written.layout, crypto: { prefix: toBase64(prefix!), partNumber: seal.partNumber } },
  }
}

/** The data is now referenced by a committed row, or has been removed: forget the intent. */
export async function settle(ctx: ServiceContext, ids: readonly string[]): Promise<void> {
  await meta.clearIntents(ctx.db, ids)
}
