import { afterEach, describe, expect, it } from 'vitest'
import * as meta from '../meta/index.ts'
import { pseudoRandom } from '../storage/erasure-storage.testkit.ts'
import { readAll } from '../util/streams.ts'
import { createBucket } from './buckets.ts'
import { type GcRig, openGcRig, put } from './gc.testkit.ts'
import { readObject } from './get-object.ts'

/**
 * A GET of a small object kept in the metadata reads its row and its bytes with one statement
 * (meta.getWithInline), not the row and then the bytes: the fixed cost of every 4 KiB GET.
 */
let g: GcRig | undefined
afterEach(async () => {
  await g?.close()
  g = undefined
})

/** SQL text of every statement run through the client while `run` runs. */
async function statementsOf(svc: GcRig['svc'], run: () => Promise<void>): Promise<string[]> {
  const client = (svc.db as unknown as { $client: { execute: (...a: unknown[]) => Promise<unknown> } }).$client
  const execute = client.execute
  const seen: string[] = []
  client.execute = (...a: unknown[]) => {
    const q = a[0]
    seen.push(typeof q === 'string' ? q : (q as { sql: string }).sql)
    return execute.apply(client, a)
  }
  try {
    await run()
  } finally {
    client.execute = execute
  }
  return seen
}

const readsRowOrBytes = (sql: string) => /from "objects"|from "inline_data"/i.test(sql)

describe('reading an inline object', () => {
  it('reads the row and its bytes with one statement, current version and by version id', async () => {
    g = await openGcRig({ inlineMax: 64 * 1024 })
    const svc = g.svc
    await createBucket(svc, g.actor, 'one', 'us-east-1')
    const bytes = pseudoRandom(4096, 1)
    await put(g, 'one', 'k', bytes)
    const bucketRow = await meta.getBucket(svc.db, 'one')
    const versionId = (await meta.getObject(svc.db, 'one', 'k'))!.versionId
    for (const address of [
      { bucket: 'one', key: 'k', bucketRow },
      { bucket: 'one', key: 'k', bucketRow, versionId },
    ]) {
      let got: Uint8Array | undefined
      const sql = await statementsOf(svc, async () => {
        const { info, read } = await readObject(svc, g!.actor, address)
        got = await readAll(await read(0, info.size), 1 << 20)
      })
      expect(got).toEqual(bytes)
      expect(sql.filter(readsRowOrBytes)).toHaveLength(1)
    }
  })

  it('still reads the bytes of a range and of an empty object, and 404s a missing key', async () => {
    g = await openGcRig({ inlineMax: 64 * 1024 })
    const svc = g.svc
    await createBucket(svc, g.actor, 'two', 'us-east-1')
    const bytes = pseudoRandom(1000, 2)
    await put(g, 'two', 'k', bytes)
    await put(g, 'two', 'empty', new Uint8Array(0))
    const { read } = await readObject(svc, g.actor, { bucket: 'two', key: 'k' })
    expect(await readAll(await read(10, 20), 1 << 20)).toEqual(bytes.subarray(10, 20))
    const empty = await readObject(svc, g.actor, { bucket: 'two', key: 'empty' })
    expect(empty.info.size).toBe(0)
    await expect(readObject(svc, g.actor, { bucket: 'two', key: 'nope' })).rejects.toMatchObject({ code: 'NoSuchKey' })
  })
})
