import { eq } from 'drizzle-orm'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Meta } from '../db.ts'
import { freshDb, objectRow, partRow, uploadRow, writer } from '../meta.testkit.ts'
import { namespaces } from '../schema.ts'
import { claimSetting, commitNamespaceKey, deleteSetting, getSetting, type KeyPin, setSetting } from './keys.ts'
import { completeUpload, createUpload, getUpload, putPart } from './multipart.ts'
import { commitObject, getObject } from './objects.ts'

// The commit gate of issue 10 / defect 1: a row whose object key is wrapped under a namespace key
// version is committed only while that version exists (current, or staged by a rotation), in the
// same transaction as the write, so no row ever points at a version a rotation dropped.

const STAGED = 'ns-key-staged/default'
const pin = (version: number): KeyPin => ({ namespace: 'default', version, stagedSetting: STAGED })

let meta: Meta
beforeEach(async () => {
  meta = await freshDb()
  await meta.db
    .update(namespaces)
    .set({ keyVersion: 1, wrappedKey: new Uint8Array(66) })
    .where(eq(namespaces.name, 'default'))
})
afterEach(async () => meta.close())

/** What a rotation of `default` from version 1 to 2 does to the namespace row once it commits. */
async function rotateTo2(): Promise<void> {
  await setSetting(meta.db, STAGED, JSON.stringify({ version: 2, blob: 'staged' }))
  expect(await commitNamespaceKey(meta.db, 'default', new Uint8Array(66).fill(2), 2, STAGED)).toBe(true)
}

describe('the key-version commit gate', () => {
  it('commitObject: the current version commits; a version dropped by a rotation is refused and nothing is written', async () => {
    expect(await commitObject(meta.db, objectRow('b', 'early'), writer('b'), {}, pin(1))).toEqual({ ok: true })
    // A write that wrapped under v1 before the rotation committed, committing after it:
    await rotateTo2()
    expect(await commitObject(meta.db, objectRow('b', 'k', { layout: { late: 1 } }), writer('b'), {}, pin(1))).toEqual({
      ok: false,
      reason: 'key-version',
    })
    expect(await getObject(meta.db, 'b', 'k')).toBeUndefined()
    expect(await commitObject(meta.db, objectRow('b', 'k'), writer('b'), {}, pin(2))).toEqual({ ok: true })
  })

  it('commitObject: a version staged by a rotation in progress commits; one never staged does not', async () => {
    await setSetting(meta.db, STAGED, JSON.stringify({ version: 2, blob: 'staged' }))
    expect((await commitObject(meta.db, objectRow('b', 'a'), writer('b'), {}, pin(2))).ok).toBe(true)
    expect(await commitObject(meta.db, objectRow('b', 'c'), writer('b'), {}, pin(3))).toEqual({
      ok: false,
      reason: 'key-version',
    })
    await deleteSetting(meta.db, STAGED)
    expect(await commitObject(meta.db, objectRow('b', 'd'), writer('b'), {}, pin(2))).toEqual({
      ok: false,
      reason: 'key-version',
    })
  })

  it('commitObject: other refusals keep their reason; no pin means no key check', async () => {
    expect(await commitObject(meta.db, objectRow('nope', 'k'), writer('nope'), {}, pin(9))).toEqual({
      ok: false,
      reason: 'no-such-bucket',
    })
    await commitObject(meta.db, objectRow('b', 'k'), writer('b'))
    expect(await commitObject(meta.db, objectRow('b', 'k'), writer('b'), { ifNoneMatch: '*' }, pin(1))).toEqual({
      ok: false,
      reason: 'precondition',
    })
    expect((await commitObject(meta.db, objectRow('b', 'x'), writer('b'))).ok).toBe(true)
  })

  it('a rotation does not commit while a committed row still names the old version', async () => {
    await setSetting(meta.db, STAGED, JSON.stringify({ version: 2, blob: 'staged' }))
    const record = { v: 1, mode: 'sse-s3', ns: 'default', nsKeyVersion: 1, objectId: 'o', wrappedKey: 'w' }
    expect((await commitObject(meta.db, objectRow('b', 'k', { encryption: record }), writer('b'), {}, pin(1))).ok).toBe(
      true,
    )
    expect(await commitNamespaceKey(meta.db, 'default', new Uint8Array(66), 2, STAGED)).toBe(false)
  })

  it('createUpload: refused for a dropped version, created for the current one', async () => {
    await rotateTo2()
    expect(await createUpload(meta.db, uploadRow('b', 'k', 'u1'), writer('b'), pin(1))).toEqual({
      ok: false,
      reason: 'key-version',
    })
    expect(await getUpload(meta.db, 'u1')).toBeUndefined()
    expect(await createUpload(meta.db, uploadRow('b', 'k', 'u1'), writer('b'), pin(2))).toEqual({ ok: true })
    expect(await createUpload(meta.db, uploadRow('gone', 'k', 'u2'), writer('gone'), pin(2))).toEqual({
      ok: false,
      reason: 'no-such-bucket',
    })
  })

  it('completeUpload: refused for a dropped version (the upload stays), completed for the current one', async () => {
    expect(await createUpload(meta.db, uploadRow('b', 'k', 'u1'), writer('b'), pin(1))).toEqual({ ok: true })
    await putPart(meta.db, partRow('u1', 1), writer())
    await rotateTo2()
    const object = objectRow('b', 'k', { etag: '"m-1"' })
    expect(await completeUpload(meta.db, 'u1', object, [1], writer('b'), {}, pin(1))).toEqual({
      ok: false,
      reason: 'key-version',
    })
    expect(await getUpload(meta.db, 'u1')).toBeDefined()
    expect(await getObject(meta.db, 'b', 'k')).toBeUndefined()
    expect((await completeUpload(meta.db, 'u1', object, [1], writer('b'), {}, pin(2))).ok).toBe(true)
    expect(await getObject(meta.db, 'b', 'k')).toBeDefined()
  })
})

describe('claimSetting: how gateways rotating one namespace at once agree on its staged key', () => {
  it('the first claim of an absent value wins and the later ones take it; a replace needs the value it read', async () => {
    // Two gateways both read "nothing staged", then each claims its own key: only the first lands.
    expect(await claimSetting(meta.db, STAGED, undefined, '{"version":2,"blob":"A"}')).toBe(true)
    expect(await claimSetting(meta.db, STAGED, undefined, '{"version":2,"blob":"B"}')).toBe(false)
    expect(await getSetting(meta.db, STAGED)).toBe('{"version":2,"blob":"A"}')
    // Replacing a stale value: only a caller that read what is stored now replaces it.
    expect(await claimSetting(meta.db, STAGED, '{"version":1,"blob":"old"}', '{"version":3,"blob":"C"}')).toBe(false)
    expect(await claimSetting(meta.db, STAGED, '{"version":2,"blob":"A"}', '{"version":3,"blob":"C"}')).toBe(true)
    expect(await getSetting(meta.db, STAGED)).toBe('{"version":3,"blob":"C"}')
  })
})
