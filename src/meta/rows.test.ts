import { sql } from 'drizzle-orm'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Meta } from './db.ts'
import { CorruptRowError } from './errors.ts'
import { listObjects } from './queries/list.ts'
import { createUpload, getParts, getUpload, putPart } from './queries/multipart.ts'
import { commitObject, deleteObject, getObject } from './queries/objects.ts'
import { freshDb, objectRow, partRow, uploadRow, writer } from './meta.testkit.ts'

// JSON columns that meta owns are checked as rows are read: a damaged value is a clear
// CorruptRowError naming the row and column, never a wrongly typed value passed on.

let meta: Meta
beforeEach(async () => {
  meta = await freshDb()
})
afterEach(async () => {
  await meta.close()
})

/** Overwrites one column with raw JSON text, as a damaged database would hold it. */
const damage = (table: string, column: string, json: string) =>
  meta.db.run(sql.raw(`update ${table} set ${column} = '${json.replace(/'/g, "''")}'`))

describe('rows read back', () => {
  it('come back with their JSON columns as written', async () => {
    const checksum = { algorithm: 'CRC32' as const, type: 'COMPOSITE' as const, value: 'AAAAAA==-2', partCount: 2 }
    const parts = [{ partNumber: 1, size: 5, etag: '"p1"', checksum }]
    await commitObject(meta.db, objectRow('b', 'k', { checksum, parts }), writer('b'))
    const row = await getObject(meta.db, 'b', 'k')
    expect(row).toMatchObject({
      headers: { 'cache-control': 'no-cache' },
      userMeta: { color: 'blue' },
      checksum,
      parts,
    })
  })

  it.each([
    ['headers', '{"cache-control": 7}'],
    ['user_meta', '["blue"]'],
    ['checksum', '{"algorithm": "MD5", "type": "FULL_OBJECT", "value": "x"}'],
    ['checksum', '{"algorithm": "CRC32", "type": "FULL", "value": "x"}'],
    ['parts', '[{"partNumber": 1, "size": -5, "etag": "e"}]'],
    ['parts', '{"partNumber": 1}'],
  ])('an object whose %s is %s fails to read with CorruptRowError', async (column, json) => {
    await commitObject(meta.db, objectRow('b', 'k'), writer('b'))
    await damage('objects', column, json)
    const err = await getObject(meta.db, 'b', 'k').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CorruptRowError)
    expect(String(err)).toContain(`column ${column}`)
    // A listing reads only the columns it shows: a damaged checksum fails it, damage elsewhere
    // in the row leaves the page (and the rest of the bucket) listable.
    const listing = listObjects(meta.db, { bucket: 'b', prefix: '', maxKeys: 10 })
    if (column === 'checksum') await expect(listing).rejects.toBeInstanceOf(CorruptRowError)
    else expect((await listing).objects.map((o) => o.key)).toEqual(['k'])
  })

  it('a damaged object can still be deleted: only its layout is read back', async () => {
    await commitObject(meta.db, objectRow('b', 'k'), writer('b'))
    await damage('objects', 'headers', '"not an object"')
    expect(await deleteObject(meta.db, writer('b'), 'k')).toBe('deleted')
  })

  it('uploads and parts are checked too', async () => {
    await createUpload(
      meta.db,
      uploadRow('b', 'k', 'u1', { checksumAlgorithm: 'SHA256', checksumType: 'COMPOSITE' }),
      writer('b'),
    )
    await putPart(
      meta.db,
      partRow('u1', 1, { checksum: { algorithm: 'SHA256', type: 'FULL_OBJECT', value: 'v' } }),
      writer(),
    )
    expect((await getUpload(meta.db, 'u1'))?.checksumAlgorithm).toBe('SHA256')
    expect((await getParts(meta.db, 'u1'))[0]?.checksum?.value).toBe('v')
    await damage('multipart_uploads', 'checksum_algorithm', 'sha-3')
    await expect(getUpload(meta.db, 'u1')).rejects.toBeInstanceOf(CorruptRowError)
    await damage('parts', 'checksum', '{"algorithm": "SHA256"}')
    await expect(getParts(meta.db, 'u1')).rejects.toBeInstanceOf(CorruptRowError)
  })
})
