/**
 * Every storage write of the service goes through here: an intent is recorded before the first
 * shard is stored and settled once metadata points at the data (or the data is gone), so the
 * shards of a crashed write can always be found and removed. Degraded writes queue a heal.
 */
import { cipherLength, encryptPieces, encryptStream, generatePrefix, plainLength } from '../crypto/index.ts'
import * as meta from '../meta/index.ts'
import { QuorumError, type WriteResult } from '../storage/index.ts'
import { toBase64 } from '../util/bytes.ts'
import type { PieceStream } from '../util/streams.ts'
import { ServiceError } from './errors.ts'
import type { ServiceContext } from './context.ts'
import type { Segment } from './stored-data.ts'
import { admitWrite, markSpaceStale } from './space.ts'

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

/**
 * `length` is the plaintext's declared length when known: the write is admitted against free
 * space for it (InsufficientStorage before any byte is read when it does not fit).
 */
export async function storeData(
  ctx: ServiceContext,
  plaintext: ReadableStream<Uint8Array>,
  seal?: Seal,
  length?: number,
): Promise<StoredWrite> {
  const id = newId()
  let admission: Awaited<ReturnType<typeof admitWrite>>
  try {
    admission = await admitWrite(ctx, id, length === undefined ? undefined : seal ? cipherLength(length) : length)
  } catch (e) {
    await plaintext.cancel(e).catch(() => {})
    throw e
  }
  let stored = false
  try {
    const result = await storeAdmitted(ctx, id, plaintext, seal, admission.exclude)
    stored = true
    return result
  } finally {
    admission.release(stored)
  }
}

/**
 * The body as stored: sealed under `seal` when given (D@RE, SSE-C, SSE-KMS), as it came otherwise.
 * A fresh nonce prefix per storage write, never per object: a re-uploaded part reuses its key.
 */
export async function sealBody(
  ctx: ServiceContext,
  plaintext: ReadableStream<Uint8Array>,
  seal: Seal | undefined,
): Promise<{ body: ReadableStream<Uint8Array>; prefix?: Uint8Array }> {
  if (!seal) return { body: plaintext }
  const prefix = await generatePrefix()
  return { body: encryptStream(plaintext, packageOptions(ctx, seal, prefix)), prefix }
}

/**
 * As sealBody, for the stripe writer: the ciphertext as batches of the sealed pieces, which it
 * cuts into stripes without joining them (src/storage/stripe-pieces.ts).
 */
async function sealPieces(
  ctx: ServiceContext,
  plaintext: ReadableStream<Uint8Array>,
  seal: Seal | undefined,
): Promise<{ body: PieceStream; prefix?: Uint8Array }> {
  if (!seal) return { body: plaintext }
  const prefix = await generatePrefix()
  return { body: encryptPieces(plaintext, packageOptions(ctx, seal, prefix)), prefix }
}

const packageOptions = (ctx: ServiceContext, seal: Seal, prefix: Uint8Array) => ({
  aead: ctx.keys.aead,
  key: seal.key,
  objectId: seal.objectId,
  partNumber: seal.partNumber,
  prefix,
})

async function storeAdmitted(
  ctx: ServiceContext,
  id: string,
  plaintext: ReadableStream<Uint8Array>,
  seal: Seal | undefined,
  exclude: ReadonlySet<string>,
): Promise<StoredWrite> {
  const { body, prefix } = await sealPieces(ctx, plaintext, seal)
  await meta.recordIntent(ctx.db, id)
  // On failure the intent stays: a store that confirms late may still leave a shard behind,
  // and orphan collection removes it by id.
  let written: WriteResult
  try {
    written = await ctx.storage.write(id, body, { exclude })
  } catch (e) {
    if (e instanceof QuorumError && e.full.length > 0) {
      markSpaceStale(ctx)
      throw new ServiceError(
        'InsufficientStorage',
        `Not enough free space to store this object (full: ${e.full.join(', ')}). Delete objects or add space; writes resume by themselves.`,
      )
    }
    if (e instanceof QuorumError) {
      throw new ServiceError(
        'Unavailable',
        'Too few storage nodes or drives are reachable to store this object; retry later.',
      )
    }
    throw e
  }
  if (written.degraded && written.degraded.length > 0) {
    markSpaceStale(ctx) // a shard may have failed for lack of space: look again before the next write
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

/**
 * After the commit: the write is acknowledged whatever happens to its intent. A failure here
 * (e.g. the metadata's disk full) leaves the intent, which orphan collection clears once it sees
 * that a row references the data — never a 500 for a committed write.
 */
export async function settleCommitted(ctx: ServiceContext, ids: readonly string[]): Promise<void> {
  await settle(ctx, ids).catch((e: unknown) =>
    ctx.logger.log('warn', 'could not clear write intents after a commit; orphan collection will', {
      error: String(e),
    }),
  )
}
