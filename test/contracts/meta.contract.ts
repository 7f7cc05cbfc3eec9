/**
 * The metadata contract: what src/meta promises when several gateways write at once, run against
 * every way the metadata can be held (an embedded file opened by two clients, a real sqld reached
 * by two clients over HTTP). Each "gateway" is its own client (openDb), as two processes would be.
 */
import { sql } from 'drizzle-orm'
import { afterEach, describe, expect, it } from 'vitest'
import { openDb, type Meta } from '../../src/meta/db.ts'
import { bucketIdOf, objectRow, partRow, uploadRow, writer } from '../../src/meta/meta.testkit.ts'
import { deleteBucket, getBucket, insertBucket } from '../../src/meta/queries/buckets.ts'
import { bucketVersionStats } from '../../src/meta/queries/bucket-stats.ts'
import { enqueueHeal, takeHeal } from '../../src/meta/queries/durability.ts'
import { doneGc, enqueueGc, gcBacklog, takeGc } from '../../src/meta/queries/gc.ts'
import { getInline } from '../../src/meta/queries/inline.ts'
import {
  createNamespace,
  createUser,
  deleteUser,
  ensureDefaultNamespace,
  getUser,
  upsertRootUser,
} from '../../src/meta/queries/identities.ts'
import { completeUpload, createUpload, putPart } from '../../src/meta/queries/multipart.ts'
import { setSetting } from '../../src/meta/queries/keys.ts'
import { listObjects, listVersions } from '../../src/meta/queries/list.ts'
import { commitObject, getObject, getWithInline } from '../../src/meta/queries/objects.ts'
import { objects } from '../../src/meta/schema.ts'

/** An empty database (no tables) and how to reach it; cleanup removes what the target made. */
export interface MetaTarget {
  url: string
  authToken?: string
  cleanup?(): Promise<void>
}

/** How many migrations src/meta/migrations holds (its journal). */
async function migrationCount(): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  const journal = JSON.parse(
    await readFile(new URL('../../src/meta/migrations/meta/_journal.json', import.meta.url), 'utf8'),
  ) as { entries: unknown[] }
  return journal.entries.length
}

export function metaContract(name: string, fresh: () => Promise<MetaTarget>): void {
  describe(`metadata contract: ${name}`, () => {
    const opened: Meta[] = []
    let target: MetaTarget | undefined
    afterEach(async () => {
      for (const m of opened.splice(0)) await m.close()
      await target?.cleanup?.()
      target = undefined
    })

    const open = async (t: MetaTarget): Promise<Meta> => {
      const m = await openDb(t.url, { authToken: t.authToken })
      opened.push(m)
      return m
    }

    /** Two gateways on one freshly migrated database, with the default namespace, root and bucket b. */
    async function twoGateways(): Promise<[Meta, Meta]> {
      target = await fresh()
      const a = await open(target)
      const b = await open(target)
      await ensureDefaultNamespace(a.db)
      await upsertRootUser(a.db, { accessKeyId: 'ROOT', wrappedSecret: 'sealed' })
      await insertBucket(a.db, {
        name: 'b',
        id: bucketIdOf('b'),
        namespace: 'default',
        owner: 'ROOT',
        region: 'us-east-1',
        createdAt: new Date(),
      })
      return [a, b]
    }

    it('migrates once when two gateways start on an empty database at the same moment', async () => {
      target = await fresh()
      const t = target
      const [a, b] = await Promise.all([open(t), open(t)])
      const rows = await a.client.execute('select hash from __drizzle_migrations')
      expect(rows.rows.length).toBe(await migrationCount())
      expect(new Set(rows.rows.map((r) => r.hash)).size).toBe(rows.rows.length)
      // Both see the same schema: a row one writes, the other reads.
      await ensureDefaultNamespace(a.db)
      await upsertRootUser(b.db, { accessKeyId: 'ROOT', wrappedSecret: 'sealed' })
      expect((await getUser(a.db, 'ROOT'))?.namespace).toBe('default')
      // A third start later finds everything applied and changes nothing.
      await open(t)
      expect((await a.client.execute('select hash from __drizzle_migrations')).rows.length).toBe(rows.rows.length)
    })

    it('a batch is one transaction: a failing statement leaves none of the others', async () => {
      const [a, b] = await twoGateways()
      await expect(
        a.db.batch([
          a.db.insert(objects).values({ ...objectRow('b', 'first'), layout: {} }),
          // The same primary key again: the batch fails here, and the first insert goes with it.
          a.db.insert(objects).values({ ...objectRow('b', 'first'), layout: {} }),
        ]),
      ).rejects.toThrow()
      expect(await getObject(b.db, 'b', 'first')).toBeUndefined()
    })

    it('a listing page is one statement on every target: keys, common prefixes, versions', async () => {
      // The walk is a recursive CTE returning JSON (src/meta/queries/list.ts): sqld must run it
      // as the embedded engine does, bound past a common prefix by `cp || x'ff'` included.
      const [a, b] = await twoGateways()
      for (const key of ['a', 'd/1', 'd/2', 'd→\u{10ffff}', 'e→x', 'e→y', 'f'])
        await commitObject(a.db, objectRow('b', key), writer('b'))
      const plain = await listObjects(b.db, { bucket: 'b', prefix: '', maxKeys: 3 })
      expect(plain.objects.map((o) => o.key)).toEqual(['a', 'd/1', 'd/2'])
      expect(plain.nextMarker).toBe('d/2')
      const rolled = await listObjects(b.db, { bucket: 'b', prefix: '', delimiter: '→', maxKeys: 1000 })
      expect(rolled.objects.map((o) => o.key)).toEqual(['a', 'd/1', 'd/2', 'f'])
      expect(rolled.commonPrefixes).toEqual(['d→', 'e→'])
      const after = await listObjects(b.db, { bucket: 'b', prefix: '', delimiter: '/', startAfter: 'd/', maxKeys: 2 })
      expect(after.objects.map((o) => o.key)).toEqual(['d→\u{10ffff}', 'e→x'])
      expect(after.isTruncated).toBe(true)
      const versions = await listVersions(b.db, { bucket: 'b', prefix: '', delimiter: '/', maxKeys: 1000 })
      if (versions === 'bad-marker') throw new Error('bad marker')
      expect(versions.commonPrefixes).toEqual(['d/'])
      expect(versions.versions.map((v) => v.key)).toEqual(['a', 'd→\u{10ffff}', 'e→x', 'e→y', 'f'])
    })

    it('bucket names are unique: creators racing on two gateways, exactly one wins', async () => {
      const [a, b] = await twoGateways()
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          insertBucket((i % 2 ? a : b).db, {
            name: 'contested',
            namespace: 'default',
            owner: `owner-${i}`,
            region: 'us-east-1',
            createdAt: new Date(),
          }),
        ),
      )
      expect(results.filter((r) => r === 'created')).toHaveLength(1)
      const row = await getBucket(b.db, 'contested')
      expect(row?.owner).toBe(`owner-${results.indexOf('created')}`)
    })

    it('If-None-Match: * from two gateways at once: exactly one commit, the other a precondition failure', async () => {
      const [a, b] = await twoGateways()
      for (let round = 0; round < 5; round++) {
        const key = `k${round}`
        const results = await Promise.all(
          [a, b, a, b].map((m, i) =>
            commitObject(m.db, objectRow('b', key, { etag: `"e${i}"`, layout: { w: i } }), writer(), {
              ifNoneMatch: '*',
            }),
          ),
        )
        expect(results.filter((r) => r.ok)).toHaveLength(1)
        expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.reason)).toEqual([
          'precondition',
          'precondition',
          'precondition',
        ])
        const winner = results.findIndex((r) => r.ok)
        expect((await getObject(a.db, 'b', key))?.etag).toBe(`"e${winner}"`)
      }
      // Nothing was replaced, so nothing was queued for GC.
      expect((await gcBacklog(b.db, new Date(Date.now() + 60_000))).queued).toBe(0)
    })

    it('If-Match from two gateways on the same ETag: exactly one replaces it, the replaced data queued once', async () => {
      const [a, b] = await twoGateways()
      expect((await commitObject(a.db, objectRow('b', 'k', { etag: '"v1"', layout: { v: 1 } }), writer())).ok).toBe(
        true,
      )
      const results = await Promise.all(
        [a, b].map((m, i) =>
          commitObject(m.db, objectRow('b', 'k', { etag: `"v2-${i}"`, layout: { v: 2, i } }), writer(), {
            ifMatch: '"v1"',
          }),
        ),
      )
      expect(results.filter((r) => r.ok)).toHaveLength(1)
      const queued = await takeGc(b.db, 10, new Date(Date.now() + 60_000))
      expect(queued.map((e) => e.layout)).toEqual([{ v: 1 }])
    })

    it('inline bytes commit with their row, read back byte for byte through the other gateway, leave with GC', async () => {
      const [a, b] = await twoGateways()
      const data = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31 + 7) & 0xff)
      const layout = { v: 1, segments: [{ size: data.length, inline: { id: 'inl-1', crc32: 1, length: data.length } }] }
      expect(
        (
          await commitObject(a.db, objectRow('b', 'k', { layout }), writer(), {}, undefined, undefined, [], {
            id: 'inl-1',
            data,
          })
        ).ok,
      ).toBe(true)
      const got = (await getInline(b.db, ['inl-1', 'absent'])).get('inl-1')
      expect(got).toBeInstanceOf(Uint8Array)
      expect(Buffer.compare(Buffer.from(got!), Buffer.from(data))).toBe(0)
      // A GET's one statement: the row with the bytes its layout names first, current or by id.
      const current = await getWithInline(b.db, 'b', 'k')
      expect(current?.row.layout).toEqual(layout)
      expect(current?.inline?.id).toBe('inl-1')
      expect(Buffer.compare(Buffer.from(current!.inline!.data), Buffer.from(data))).toBe(0)
      const byId = await getWithInline(b.db, 'b', 'k', current!.row.versionId)
      expect(byId?.inline?.id).toBe('inl-1')
      expect(await getWithInline(b.db, 'b', 'absent')).toBeUndefined()
      // A refused commit stores nothing: the bytes go only with their row.
      const refused = await commitObject(
        b.db,
        objectRow('b', 'k', { layout }),
        writer(),
        { ifNoneMatch: '*' },
        undefined,
        undefined,
        [],
        {
          id: 'inl-2',
          data,
        },
      )
      expect(refused.ok).toBe(false)
      expect((await getInline(a.db, ['inl-2'])).size).toBe(0)
      // An overwrite queues the old row's layout; GC drops the bytes with the entry.
      expect((await commitObject(b.db, objectRow('b', 'k', { layout: { v: 1, segments: [] } }), writer())).ok).toBe(
        true,
      )
      const queued = await takeGc(a.db, 10, new Date(Date.now() + 60_000))
      expect(queued.map((e) => e.layout)).toEqual([layout])
      await doneGc(
        a.db,
        queued.map((e) => e.id),
        ['inl-1'],
      )
      expect((await getInline(b.db, ['inl-1'])).size).toBe(0)
    })

    it('concurrent commits on many keys through both gateways all land (no busy error reaches the caller)', {
      repeats: 10,
    }, async () => {
      const [a, b] = await twoGateways()
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          commitObject(
            (i % 2 ? a : b).db,
            objectRow('b', `key-${i % 20}`, { etag: `"${i}"`, layout: { i } }),
            writer(),
          ),
        ),
      )
      expect(results.every((r) => r.ok)).toBe(true)
      // Every key holds one of its writes, and each replaced layout was queued exactly once.
      const rows = await a.db.select().from(objects).where(sql`${objects.bucket} = 'b'`)
      expect(rows).toHaveLength(20)
      const queued = await takeGc(b.db, 1_000, new Date(Date.now() + 60_000))
      expect(queued).toHaveLength(40)
      const live = new Set(rows.map((r) => (r.layout as { i: number }).i))
      const dropped = queued.map((e) => (e.layout as { i: number }).i)
      expect(new Set(dropped).size).toBe(40)
      for (const i of dropped) expect(live.has(i)).toBe(false)
    })

    it("a bucket's version stats (one aggregate, INDEXED BY the primary key) read alike through both gateways", async () => {
      const [a, b] = await twoGateways()
      for (const [i, size] of [10, 200, 3000].entries())
        await commitObject((i % 2 ? a : b).db, objectRow('b', 'k', { versionId: `v${i}`, size }), writer())
      await commitObject(
        a.db,
        objectRow('b', 'k', { versionId: 'm', deleteMarker: true, layout: null, size: 0 }),
        writer(),
      )
      await commitObject(b.db, objectRow('b', 'plain', { size: 7 }), writer())
      for (const m of [a, b])
        expect(await bucketVersionStats(m.db, 'b')).toEqual({
          current: { count: 1, bytes: 7 },
          noncurrent: { count: 3, bytes: 3210 },
          deleteMarkers: 1,
        })
    })

    it('writer gate: a commit through one gateway after the other re-created the bucket or deleted the user is refused', async () => {
      const [a, b] = await twoGateways()
      await createUser(a.db, { accessKeyId: 'ALICE', name: 'alice', namespace: 'default', wrappedSecret: 'sealed' })
      const alice = writer('b', 'ALICE')
      expect((await commitObject(b.db, objectRow('b', 'k1'), alice)).ok).toBe(true)
      expect(await deleteUser(a.db, 'ALICE')).toBe(true)
      expect(await commitObject(b.db, objectRow('b', 'k2'), alice)).toEqual({ ok: false, reason: 'access-denied' })
      // The bucket emptied, deleted and created again under its name is another bucket.
      await a.db.delete(objects)
      expect(await deleteBucket(a.db, 'b', bucketIdOf('b'))).toBe('deleted')
      await insertBucket(a.db, {
        name: 'b',
        id: 'id-new',
        namespace: 'default',
        owner: 'ROOT',
        region: 'us-east-1',
        createdAt: new Date(),
      })
      expect(await commitObject(b.db, objectRow('b', 'k3'), writer())).toEqual({ ok: false, reason: 'no-such-bucket' })
      expect(await getObject(a.db, 'b', 'k3')).toBeUndefined()
    })

    it('multipart completion racing on two gateways: exactly one completes, the other finds the upload gone', async () => {
      const [a, b] = await twoGateways()
      for (let round = 0; round < 3; round++) {
        const id = `u${round}`
        expect((await createUpload(a.db, uploadRow('b', 'mp', id), writer())).ok).toBe(true)
        for (const n of [1, 2]) expect((await putPart(b.db, partRow(id, n), writer())).ok).toBe(true)
        const results = await Promise.all(
          [a, b].map((m, i) =>
            completeUpload(
              m.db,
              id,
              objectRow('b', 'mp', { etag: `"c${round}-${i}"`, layout: { segments: 'p1+p2' } }),
              [1, 2],
              writer(),
            ),
          ),
        )
        expect(results.filter((r) => r.ok)).toHaveLength(1)
        expect(results.find((r) => !r.ok)).toEqual({ ok: false, reason: 'missing' })
        const winner = results.findIndex((r) => r.ok)
        expect((await getObject(b.db, 'b', 'mp'))?.etag).toBe(`"c${round}-${winner}"`)
      }
    })

    it('a user or namespace key sealed under a master key another gateway rotated away is refused in the insert', async () => {
      const [a, b] = await twoGateways()
      const pin = { key: 'master-key-fingerprint', value: 'fp-old' }
      await setSetting(a.db, pin.key, pin.value)
      const user = { accessKeyId: 'NEW1', name: 'n', namespace: 'default', wrappedSecret: 'sealed-old' }
      expect(await createUser(b.db, user, pin)).toBe('created')
      // Gateway A rotates: the fingerprint changes. Gateway B, still on the old key, is refused.
      await setSetting(a.db, pin.key, 'fp-new')
      expect(await createUser(b.db, { ...user, accessKeyId: 'NEW2' }, pin)).toBe('stale-pin')
      expect(await getUser(a.db, 'NEW2')).toBeUndefined()
      expect(await createNamespace(b.db, { name: 'ns2', encrypted: true, keyVersion: 1 }, pin)).toBe('stale-pin')
      expect(await createUser(b.db, { ...user, accessKeyId: 'NEW2' }, { ...pin, value: 'fp-new' })).toBe('created')
      expect(await createUser(b.db, { ...user, accessKeyId: 'NEW2' }, { ...pin, value: 'fp-new' })).toBe('exists')
    })

    it('GC and heal work is claimed by one gateway at a time: racing takers get disjoint leases', async () => {
      const [a, b] = await twoGateways()
      const layouts = Array.from({ length: 120 }, (_, i) => ({ id: `w${i}` }))
      await enqueueGc(a.db, layouts, 'test', new Date(0))
      await enqueueHeal(b.db, layouts.slice(0, 30), 'test')
      const gcTaken = await Promise.all(
        Array.from({ length: 6 }, (_, i) => takeGc((i % 2 ? a : b).db, 25, new Date(1_000))),
      )
      const gcIds = gcTaken.flat().map((e) => e.id)
      expect(gcIds).toHaveLength(120)
      expect(new Set(gcIds).size).toBe(120)
      const healTaken = await Promise.all(Array.from({ length: 4 }, (_, i) => takeHeal((i % 2 ? a : b).db, 10, 60_000)))
      const healIds = healTaken.flat().map((e) => e.id)
      expect(healIds).toHaveLength(30)
      expect(new Set(healIds).size).toBe(30)
      // Leased: neither gateway gets them again while the leases run.
      expect(await takeGc(a.db, 200, new Date(1_000))).toEqual([])
      expect(await takeHeal(b.db, 50, 60_000)).toEqual([])
    })
  })
}
