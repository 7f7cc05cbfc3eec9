import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Meta } from '../db.ts'
import { countQueries, freshDb } from '../meta.testkit.ts'
import { listObjects, type ListObjectsInput, listUploads, listVersions } from './list.ts'

/**
 * A page must cost the same in a bucket of 100 keys or 1,000,000: same number of statements and
 * about the same rows read, whatever lies under the common prefixes it skips.
 */
const FANOUT = 100 // keys d000..d099/e000..e099/k0000..k0099 → FANOUT³ = 1,000,000 keys

let dir: string
let meta: Meta
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coffer-meta-scale-'))
  meta = await freshDb(`file:${join(dir, 'meta.db')}`, ['big', 'small'])
  // One statement generates the rows in key order (a recursive CTE): fast, and no JS loop.
  const fill = (bucket: string, count: number, key: string) =>
    meta.client.execute({
      sql: `WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ? - 1)
            INSERT INTO objects (bucket, key, version_id, size, etag, last_modified, content_type, headers, user_meta, layout)
            SELECT ?, ${key}, 'null', 0, '"e"', 0, 'binary/octet-stream', '{}', '{}', '{}' FROM c`,
      args: [count, bucket],
    })
  await fill(
    'big',
    FANOUT ** 3,
    `printf('d%03d/e%03d/k%04d', i / ${FANOUT ** 2}, (i / ${FANOUT}) % ${FANOUT}, i % ${FANOUT})`,
  )
  // The small bucket has the same top-level shape with one key under each prefix.
  await fill('small', FANOUT, `printf('d%03d/e000/k0000', i)`)
}, 300_000)
afterAll(async () => {
  await meta?.close()
  rmSync(dir, { recursive: true, force: true })
})

async function cost(input: ListObjectsInput) {
  const stats = countQueries(meta)
  const page = await listObjects(meta.db, input)
  return { page, ...stats }
}

describe('listing cost does not grow with the bucket', () => {
  it('holds a million keys', async () => {
    const n = await meta.client.execute(`SELECT count(*) AS n FROM objects WHERE bucket = 'big'`)
    expect(n.rows[0]!.n).toBe(FANOUT ** 3)
  })

  it('a delimiter page over deep prefixes is one statement in 1,000,000 keys as in 100', async () => {
    const input = { prefix: '', delimiter: '/', maxKeys: 50 }
    const big = await cost({ bucket: 'big', ...input })
    const small = await cost({ bucket: 'small', ...input })
    expect(big.page.commonPrefixes).toEqual(small.page.commonPrefixes)
    expect(big.page.commonPrefixes).toHaveLength(50)
    expect(big.page.isTruncated).toBe(true)
    // One statement per page: the skips over the 10,000 keys under each prefix of the big
    // bucket are index seeks inside it (their plan: 'every step of a delimiter page …' below).
    for (const c of [big, small]) expect(c.queries).toBe(1)
  })

  it('one level down, and continuing from nextMarker', async () => {
    const first = await cost({ bucket: 'big', prefix: 'd042/', delimiter: '/', maxKeys: 30 })
    expect(first.page.commonPrefixes[0]).toBe('d042/e000/')
    expect(first.page.isTruncated).toBe(true)
    const next = await cost({
      bucket: 'big',
      prefix: 'd042/',
      delimiter: '/',
      maxKeys: 1000,
      startAfter: first.page.nextMarker,
    })
    expect(first.page.commonPrefixes.length + next.page.commonPrefixes.length).toBe(FANOUT)
    expect(next.page.commonPrefixes[0]).toBe('d042/e030/')
    expect(next.page.isTruncated).toBe(false)
    expect(first.queries + next.queries).toBe(2)
  })

  it('a plain page without delimiter is one statement', async () => {
    const r = await cost({ bucket: 'big', prefix: 'd500', maxKeys: 1000 }) // no such prefix
    expect(r.page.objects).toEqual([])
    expect(r.queries).toBe(1)
    const deep = await cost({ bucket: 'big', prefix: 'd007/e007/', maxKeys: 1000 })
    expect(deep.page.objects).toHaveLength(FANOUT)
    expect(deep.queries).toBe(1)
  })

  it('every step of a delimiter page is an index seek, never a scan', async () => {
    const captured: { sql: string; args: unknown }[] = []
    const execute = meta.client.execute
    const bound = execute.bind(meta.client) as (q: { sql: string; args: unknown }) => ReturnType<typeof execute>
    meta.client.execute = (async (q: { sql: string; args: unknown }) => {
      captured.push(q)
      return bound(q)
    }) as typeof execute
    try {
      await listObjects(meta.db, { bucket: 'big', prefix: 'd04', delimiter: '/', startAfter: 'd042/', maxKeys: 5 })
      await listObjects(meta.db, { bucket: 'big', prefix: '', delimiter: '/', maxKeys: 5 })
    } finally {
      meta.client.execute = execute
    }
    expect(captured).toHaveLength(2)
    for (const q of captured) {
      const plan = await meta.client.execute({ sql: `EXPLAIN QUERY PLAN ${q.sql}`, args: q.args as never })
      const detail = plan.rows.map((r) => String(r.detail)).join('\n')
      // The first key, each next key past the previous entry, and each row's columns: all seeks.
      expect(
        detail.match(/SEARCH objects USING (?:COVERING )?INDEX objects_current_idx \(bucket=\? AND key>\?/g),
      ).toHaveLength(2)
      expect(detail).toMatch(/SEARCH o USING INDEX objects_(?:latest|current)_idx \(bucket=\? AND key=\?\)/)
      expect(detail).not.toMatch(/SCAN objects|SCAN o\b/)
    }
  })

  it('every step of a versions page with a delimiter is a seek on (key, ord), never a scan', async () => {
    const captured: { sql: string; args: unknown }[] = []
    const execute = meta.client.execute
    const bound = execute.bind(meta.client) as (q: { sql: string; args: unknown }) => ReturnType<typeof execute>
    meta.client.execute = (async (q: { sql: string; args: unknown }) => {
      captured.push(q)
      return bound(q)
    }) as typeof execute
    try {
      await listVersions(meta.db, { bucket: 'big', prefix: 'd04', delimiter: '/', keyMarker: 'd042/', maxKeys: 5 })
    } finally {
      meta.client.execute = execute
    }
    const walk = captured.find((q) => /RECURSIVE/.test(q.sql))
    if (walk === undefined) throw new Error('no walk statement')
    const plan = await meta.client.execute({ sql: `EXPLAIN QUERY PLAN ${walk.sql}`, args: walk.args as never })
    const detail = plan.rows.map((r) => String(r.detail)).join('\n')
    // Each step's two seeks use the whole (key, ord) bound: on key alone, a step after one
    // version of a key would read every older version of it again.
    expect(
      detail.match(/SEARCH o USING COVERING INDEX sqlite_autoindex_objects_1 \(bucket=\? AND \(key,ord\)>\(\?,\?\)/g),
    ).toHaveLength(2)
    expect(detail).toMatch(/SEARCH v USING INDEX sqlite_autoindex_objects_1 \(bucket=\? AND key=\? AND ord=\?\)/)
    expect(detail).not.toMatch(/SCAN objects|SCAN o\b|SCAN v\b|BLOOM/)
  })

  it('a page deep into the bucket seeks from its marker, not from the prefix', async () => {
    // Given `key >= prefix AND key > marker`, SQLite seeks on the prefix bound and filters the
    // marker one row by row: a ListObjectVersions page from the middle of 1,000,000 versions took
    // 4× the first page (bench: npm run bench -- --only versions). The plan text is the same
    // either way, so the check is on the statements: the first fetch carries one lower bound.
    const statements: string[] = []
    const execute = meta.client.execute
    const bound = execute.bind(meta.client) as (q: string | { sql: string }) => ReturnType<typeof execute>
    const record = (async (q: string | { sql: string }) => {
      statements.push(typeof q === 'string' ? q : q.sql)
      return bound(q)
    }) as typeof execute
    meta.client.execute = record
    try {
      const marker = 'd050/e000/k0000'
      const prefixBound = /(?:"key"|\bkey) >= \?/
      const markerBound =
        /(?:"key"|\bkey) > \?|\(key, ord\) > \(|\("objects"\."key", "objects"\."ord"\) > \(|\("multipart_uploads"\."key", "multipart_uploads"\."upload_id"\) > \(/
      const firstFetch = async (list: () => Promise<unknown>) => {
        statements.length = 0
        await list()
        const select = statements.find((q) => /order by/i.test(q))
        if (select === undefined) throw new Error(`no listing statement in ${statements.join('; ')}`)
        return select
      }
      const fetches = [
        await firstFetch(() => listObjects(meta.db, { bucket: 'big', prefix: 'd0', startAfter: marker, maxKeys: 5 })),
        await firstFetch(() => listVersions(meta.db, { bucket: 'big', prefix: 'd0', keyMarker: marker, maxKeys: 5 })),
        await firstFetch(() =>
          listVersions(meta.db, {
            bucket: 'big',
            prefix: 'd0',
            keyMarker: marker,
            versionIdMarker: 'null',
            maxKeys: 5,
          }),
        ),
        await firstFetch(() => listUploads(meta.db, { bucket: 'big', prefix: 'd0', keyMarker: marker, maxUploads: 5 })),
        await firstFetch(() =>
          listUploads(meta.db, { bucket: 'big', prefix: 'd0', keyMarker: marker, uploadIdMarker: 'u', maxUploads: 5 }),
        ),
      ]
      for (const q of fetches) {
        expect(q).toMatch(markerBound)
        expect(q).not.toMatch(prefixBound)
      }
      // A marker before the prefix bounds nothing: the prefix does.
      const before = await firstFetch(() =>
        listObjects(meta.db, { bucket: 'big', prefix: 'd050/', startAfter: 'a', maxKeys: 5 }),
      )
      expect(before).toMatch(prefixBound)
      expect(before).not.toMatch(markerBound)
    } finally {
      meta.client.execute = execute
    }
  })

  it('the seek is an index range search, not a scan', async () => {
    // The shape of listObjects' fetch (./list.ts): current versions that are not delete markers.
    const plan = await meta.client.execute({
      sql: `EXPLAIN QUERY PLAN SELECT * FROM objects WHERE "objects"."bucket" = ? AND "objects"."latest" = 1 and "objects"."delete_marker" = 0 AND "objects"."key" >= ? AND "objects"."key" < ? ORDER BY "objects"."key" LIMIT 3`,
      args: ['big', 'd001/', 'd0010'],
    })
    const detail = plan.rows.map((r) => String(r.detail)).join('\n')
    expect(detail).toMatch(/SEARCH objects USING INDEX objects_current_idx \(bucket=\? AND key>\? AND key<\?\)/)
    expect(detail).not.toMatch(/TEMP B-TREE/)
  })

  it('a versions page is a range search on the primary key, not a scan', async () => {
    // The shape of listVersions' fetch after a row (./list.ts): (key, ord) past the last one.
    const plan = await meta.client.execute({
      sql: `EXPLAIN QUERY PLAN SELECT * FROM objects WHERE "objects"."bucket" = ? AND ("objects"."key", "objects"."ord") > (?, ?) AND "objects"."key" < ? ORDER BY "objects"."key", "objects"."ord" LIMIT 3`,
      args: ['big', 'd001/', 0, 'd0010'],
    })
    const detail = plan.rows.map((r) => String(r.detail)).join('\n')
    expect(detail).toMatch(
      /SEARCH objects USING INDEX sqlite_autoindex_objects_1 \(bucket=\? AND \(key,ord\)>\(\?,\?\) AND key<\?\)/,
    )
    expect(detail).not.toMatch(/TEMP B-TREE/)
  })
})
