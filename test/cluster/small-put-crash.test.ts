/**
 * kill -9 of the gateway under a 4 KiB PUT ×16 load: after a restart on the same data dir, every
 * PUT that was answered 200 reads back byte for byte. The kill lands while commits of the other
 * writers are between their COMMIT and the shared WAL sync. 4 KiB objects are inline
 * (docs/architecture.md §2): their bytes are in those commits, and every acknowledged one is whole.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { createClient } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bodyBytes, bucketName, s3Client } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'
import { objectBytes, waitFor } from '../helpers/shards.ts'

const STREAMS = 16
const SIZE = 4096
/** Answered PUTs before the kill: enough that many commits share WAL syncs. */
const ACKED_BEFORE_KILL = 120

describe('gateway killed with -9 during a 4 KiB PUT ×16 load', () => {
  let dataDir: string
  let server: TestServer | undefined
  let s3: S3Client | undefined
  const Bucket = bucketName('smallcrash')

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'coffer-small-crash-'))
  })
  afterAll(async () => {
    s3?.destroy()
    await server?.stop()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('every acknowledged PUT reads back after the restart', async () => {
    server = await startServer({ dataDir })
    s3 = s3Client(server)
    await s3.send(new CreateBucketCommand({ Bucket }))

    const acked: string[] = []
    const sent = new Set<string>()
    let stop = false
    let failures = 0
    const worker = async (w: number) => {
      for (let n = 0; !stop && n < 100_000; n++) {
        const Key = `w${w}/n${n}`
        sent.add(Key)
        try {
          await s3!.send(new PutObjectCommand({ Bucket, Key, Body: objectBytes(Key, SIZE) }))
          acked.push(Key)
        } catch {
          failures++
          return // the server is gone
        }
      }
    }
    const load = Promise.all(Array.from({ length: STREAMS }, (_, w) => worker(w)))
    await waitFor(
      `${ACKED_BEFORE_KILL} acknowledged PUTs`,
      async () => acked.length >= ACKED_BEFORE_KILL || `${acked.length} so far`,
      120_000,
      20,
    )
    await server.kill('SIGKILL') // writers are in flight: their requests fail, the answered ones must stay
    const ackedAtKill = acked.length
    stop = true
    await load
    expect(failures).toBeGreaterThan(0) // the kill did land under load
    expect(acked.length).toBe(ackedAtKill) // nothing answered after the kill
    s3.destroy()

    server = await startServer({ dataDir })
    s3 = s3Client(server)
    const lost: string[] = []
    for (const Key of acked) {
      const got = await s3
        .send(new GetObjectCommand({ Bucket, Key }))
        .then((r) => bodyBytes(r.Body))
        .catch(() => undefined)
      if (!got?.equals(objectBytes(Key, SIZE))) lost.push(Key)
    }
    expect(lost, `${lost.length} of ${acked.length} acknowledged PUTs lost or changed`).toEqual([])
    // The load took the inline path (4 KiB ≤ the default --inline-max): no shards, bytes in the commit.
    const meta = createClient({ url: `file:${join(dataDir, 'meta.db')}` })
    try {
      const rs = await meta.execute(
        "select count(*) n, sum(json_extract(layout, '$.segments[0].inline') is not null) inl from objects",
      )
      expect(Number(rs.rows[0]!.inl)).toBe(Number(rs.rows[0]!.n))
      expect(Number(rs.rows[0]!.n)).toBeGreaterThanOrEqual(acked.length)
    } finally {
      meta.close()
    }
    // Writes cut by the kill are either whole or absent, never a different body.
    for (const Key of [...sent].filter((k) => !acked.includes(k))) {
      const got = await s3
        .send(new GetObjectCommand({ Bucket, Key }))
        .then((r) => bodyBytes(r.Body))
        .catch((e: { name?: string }) => e.name)
      if (got instanceof Buffer) expect(got.equals(objectBytes(Key, SIZE)), Key).toBe(true)
      else expect(got).toBe('NoSuchKey')
    }
  })
})
