/**
 * kill -9 of the gateway during a 1,000-key DeleteObjects and a stream of overwrites, then a
 * restart with short grace periods: GC and orphan collection must leave no shard file that no
 * row references. Deleting or replacing a row and queuing its data for GC are one transaction
 * (docs/architecture.md §9); as two, a kill between them leaked shards that nothing collects.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from '@libsql/client'
import { CreateBucketCommand, DeleteObjectsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { metaIds } from '../helpers/meta-file.ts'
import { bucketName, s3Client } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'
import { listShards, objectBytes, pool, tempFiles, waitFor } from '../helpers/shards.ts'

const KEYS = 1_000
const OVERWRITTEN = 40

/** Objects left in the bucket, read from the metadata file beside the running server. */
async function objectCount(dataDir: string): Promise<number> {
  const client = createClient({ url: `file:${join(dataDir, 'meta.db')}` })
  try {
    return Number((await client.execute('select count(*) as n from objects')).rows[0]?.n)
  } finally {
    client.close()
  }
}

describe('gateway killed with -9 during a big DeleteObjects and overwrites', () => {
  let dataDir: string
  let server: TestServer | undefined
  let s3: S3Client | undefined
  const Bucket = bucketName('gc-crash')
  const keys = Array.from({ length: KEYS }, (_, i) => `k/${String(i).padStart(4, '0')}`)

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'coffer-gc-crash-'))
  })
  afterAll(async () => {
    s3?.destroy()
    await server?.stop()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('kill -9 once part of the keys are deleted, with overwrites in flight', async () => {
    // Shards only (--inline-max 0): this is GC's crash safety for shard files; inline objects have their own (src/service/gc.test.ts).
    server = await startServer({ dataDir, args: ['--inline-max', '0'] })
    s3 = s3Client(server)
    await s3.send(new CreateBucketCommand({ Bucket }))
    await pool(keys, 16, async (Key) => {
      await s3!.send(new PutObjectCommand({ Bucket, Key, Body: objectBytes(Key, 64) }))
    })
    await pool(['o/0', 'o/1', 'o/2', 'o/3'], 4, async (Key) => {
      await s3!.send(new PutObjectCommand({ Bucket, Key, Body: objectBytes(Key, 64) }))
    })

    // Overwrites at full speed, and one DeleteObjects of every k/ key.
    let stop = false
    const overwrites = pool(['o/0', 'o/1', 'o/2', 'o/3'], 4, async (Key) => {
      for (let i = 0; i < OVERWRITTEN && !stop; i++) {
        await s3!.send(new PutObjectCommand({ Bucket, Key, Body: objectBytes(`${Key}/${i}`, 64) })).catch(() => {})
      }
    })
    const deleting = s3
      .send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }))
      .catch(() => 'cut' as const)
    await waitFor(
      'the DeleteObjects to be part-way',
      async () => {
        const left = await objectCount(dataDir)
        return left < KEYS - 100 ? true : `${left} objects left`
      },
      60_000,
      20,
    )
    await server.kill('SIGKILL')
    stop = true
    expect(await deleting).toBe('cut')
    await overwrites
    s3.destroy()
    const left = await objectCount(dataDir)
    expect(left).toBeGreaterThan(4)
    expect(left).toBeLessThan(KEYS + 4)
  })

  it('after restart, GC past grace and orphan collection leave no unreferenced shard', async () => {
    server = await startServer({
      dataDir,
      args: ['--inline-max', '0'],
      env: { COFFER_ORPHAN_GRACE_MS: '1000', COFFER_GC_GRACE_MS: '1000' },
    })
    await waitFor(
      'every shard file to be referenced by a row (GC queue drained, no intents left)',
      async () => {
        const ids = await metaIds(dataDir)
        const stray = new Set(
          (await listShards(dataDir)).filter((f) => !ids.referenced.has(f.writeId)).map((f) => f.writeId),
        )
        const temps = (await tempFiles(dataDir)).length
        return stray.size === 0 && temps === 0 && ids.queued.size === 0 && ids.intents.size === 0
          ? true
          : `${stray.size} unreferenced writes on the drives, ${temps} temp files, ${ids.queued.size} queued, ${ids.intents.size} intents`
      },
      60_000,
      500,
    )
    // Every row's data is still there: k+m shards of each referenced write.
    const ids = await metaIds(dataDir)
    const shards = await listShards(dataDir)
    for (const id of ids.referenced) expect(shards.filter((f) => f.writeId === id).length).toBe(6)
  })
})
