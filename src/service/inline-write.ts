/**
 * Small objects stored in the metadata (docs/architecture.md §2, inline objects): a body whose
 * stored bytes (ciphertext when sealed) are known up front to be at most `tuning.inlineMax` is
 * read whole — never more than that — and handed to the object row's commit, which stores it in
 * `inline_data` in the same transaction. No write intent, no shards, no shard syncs: the commit
 * (group-committed, §2 step 7) is its one durability point.
 */
import { cipherLength, plainLength } from '../crypto/index.ts'
import type * as meta from '../meta/index.ts'
import { toBase64 } from '../util/bytes.ts'
import { BodyTooLarge, readAll } from '../util/streams.ts'
import type { ServiceContext } from './context.ts'
import { type InlineSegment, inlineCrc32 } from './stored-data.ts'
import { admitMetadataWrite } from './space.ts'
import type { Seal } from './stored-write.ts'
import { newId, sealBody } from './stored-write.ts'

export interface InlineWrite {
  segment: InlineSegment
  bytes: meta.InlineBytes
}

/**
 * The stored length of a body of `length` plaintext bytes, when it goes inline; undefined when it
 * goes to shards (length unknown, above the threshold, or inlining off).
 */
export function inlineLength(ctx: ServiceContext, length: number | undefined, sealed: boolean): number | undefined {
  const max = ctx.tuning.inlineMax
  if (length === undefined || max <= 0 || length > max) return undefined
  const stored = sealed ? cipherLength(length) : length
  return stored <= max ? stored : undefined
}

/**
 * Reads the body whole (at most `maxStored` stored bytes: the declared length, an exact one or an
 * upper bound as for a POST form) and seals it when asked. The bytes are stored by the commit.
 */
export async function storeInline(
  ctx: ServiceContext,
  plaintext: ReadableStream<Uint8Array>,
  seal: Seal | undefined,
  maxStored: number,
): Promise<InlineWrite> {
  try {
    await admitMetadataWrite(ctx, maxStored)
  } catch (e) {
    await plaintext.cancel(e).catch(() => {})
    throw e
  }
  const { body, prefix } = await sealBody(ctx, plaintext, seal)
  let data: Uint8Array
  try {
    data = await readAll(body, maxStored)
  } catch (e) {
    // The protocol layer holds a body to its length, so this is a caller's bug, never a client's.
    if (e instanceof BodyTooLarge) throw new Error(`an inline body exceeded its declared ${maxStored} stored bytes`)
    throw e
  }
  // A view into a larger buffer (a pooled chunk) is copied: drivers differ in how they bind views.
  if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) data = data.slice()
  const size = seal ? plainOf(data.length) : data.length
  const id = newId()
  const inline = { id, crc32: inlineCrc32(ctx.platform, data), length: data.length }
  const segment: InlineSegment = seal
    ? { size, inline, crypto: { prefix: toBase64(prefix!), partNumber: seal.partNumber } }
    : { size, inline }
  return { segment, bytes: { id, data } }
}

function plainOf(stored: number): number {
  const size = plainLength(stored)
  if (size === undefined) throw new Error(`stored ${stored} bytes, which no plaintext encrypts to`)
  return size
}
