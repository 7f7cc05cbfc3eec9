import { afterEach, describe, expect, it } from 'vitest'
import { openCounting, pseudoRandom } from '../storage/erasure-storage.testkit.ts'
import { createBucket } from './buckets.ts'
import { copyObject } from './copy-object.ts'
import { type GcRig, openGcRig, put } from './gc.testkit.ts'

/**
 * A copy refused after its source was opened (the source is read before the write's own checks,
 * so a 503 for too few shards comes first) cancels that read: over storage nodes an uncancelled
 * one holds a connection per shard, and the node's response, until the node gives up on it.
 */
let g: GcRig | undefined
afterEach(async () => {
  await g?.close()
  g = undefined
})

describe('CopyObject refused after the source was opened', () => {
  it('cancels the source read: no shard stream stays open', async () => {
    const open = new Set<object>()
    g = await openGcRig({ wrap: (s) => openCounting(s, open) })
    await createBucket(g.svc, g.actor, 'b', 'us-east-1')
    await put(g, 'b', 'src', pseudoRandom(3 * 4 * 256 * 1024 + 5, 3))
    // A legal hold on a bucket without Object Lock: refused by the write, after the source is open.
    const refused = await copyObject(g.svc, g.actor, {
      source: { bucket: 'b', key: 'src' },
      target: { bucket: 'b', key: 'dst' },
      metadata: { directive: 'COPY' },
      lockRequest: { legalHold: true, integrity: true },
    }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(refused).toMatchObject({ code: 'InvalidRequest' })
    for (let i = 0; i < 20 && open.size > 0; i++) await new Promise((r) => setTimeout(r, 5))
    expect(open.size).toBe(0)
  })
})
