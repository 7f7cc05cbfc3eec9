import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Meta } from '../db.ts'
import { bucketIdOf, freshDb, objectRow, partRow, uploadRow, writer } from '../meta.testkit.ts'
import { bucketHasObjects, deleteBucket, getBucket, insertBucket, listBuckets, type NewBucket } from './buckets.ts'
import { takeGc } from './gc.ts'
import {
  createNamespace,
  getUser,
  listUsers,
  createUser,
  deleteUser,
  listNamespaces,
  upsertRootUser,
} from './identities.ts'
import { createUpload, getUpload, putPart } from './multipart.ts'
import { commitObject, deleteObject } from './objects.ts'

let meta: Meta
beforeEach(async () => {
  meta = await freshDb(':memory:', [])
})
afterEach(async () => meta.close())

const bucket = (name: string, over: Partial<NewBucket> = {}): NewBucket => ({
  name,
  id: bucketIdOf(name),
  namespace: 'default',
  owner: 'ROOT',
  region: 'us-east-1',
  createdAt: new Date(1_700_000_000_000),
  ...over,
})

describe('identities', () => {
  it('root user: refreshed in place, and a new root key replaces the old one', async () => {
    await upsertRootUser(meta.db, { accessKeyId: 'ROOT', wrappedSecret: 'rotated' })
    expect(await getUser(meta.db, 'ROOT')).toMatchObject({
      wrappedSecret: 'rotated',
      isRoot: true,
      namespace: 'default',
    })
    await upsertRootUser(meta.db, { accessKeyId: 'ROOT2', wrappedSecret: 'x' })
    expect(await getUser(meta.db, 'ROOT')).toBeUndefined()
    expect((await listUsers(meta.db)).map((u) => u.accessKeyId)).toEqual(['ROOT2'])
  })

  it('namespaces and users: create once, list, delete', async () => {
    expect(
      await createNamespace(meta.db, {
        name: 'team',
        encrypted: true,
        wrappedKey: new Uint8Array([1, 2, 3]),
        keyVersion: 1,
      }),
    ).toBe('created')
    expect(await createNamespace(meta.db, { name: 'team' })).toBe('exists')
    const team = (await listNamespaces(meta.db)).find((n) => n.name === 'team')!
    expect(team.encrypted).toBe(true)
    expect(Array.from(team.wrappedKey!)).toEqual([1, 2, 3])
    expect(await createUser(meta.db, { accessKeyId: 'U1', name: 'alice', namespace: 'team', wrappedSecret: 's' })).toBe(
      'created',
    )
    expect(await createUser(meta.db, { accessKeyId: 'U1', name: 'bob', namespace: 'team', wrappedSecret: 's' })).toBe(
      'exists',
    )
    expect((await listUsers(meta.db, 'team')).map((u) => [u.name, u.isRoot])).toEqual([['alice', false]])
    expect(await deleteUser(meta.db, 'U1')).toBe(true)
    expect(await deleteUser(meta.db, 'U1')).toBe(false)
  })
})

describe('buckets', () => {
  it('two racing creates: exactly one is created', async () => {
    const results = await Promise.all([
      insertBucket(meta.db, bucket('race')),
      insertBucket(meta.db, bucket('race', { owner: 'OTHER' })),
    ])
    expect(results.sort()).toEqual(['created', 'exists'])
    expect((await getBucket(meta.db, 'race'))?.owner).toBe('ROOT')
  })

  it('lists a namespace by name', async () => {
    await createNamespace(meta.db, { name: 'other' })
    for (const n of ['zeta', 'alpha', 'mid']) await insertBucket(meta.db, bucket(n))
    await insertBucket(meta.db, bucket('elsewhere', { namespace: 'other' }))
    expect((await listBuckets(meta.db, 'default')).map((b) => b.name)).toEqual(['alpha', 'mid', 'zeta'])
  })

  it('deletes only empty buckets; reports missing ones', async () => {
    await insertBucket(meta.db, bucket('b'))
    await commitObject(meta.db, objectRow('b', 'k'), writer('b'))
    expect(await bucketHasObjects(meta.db, 'b')).toBe(true)
    expect(await deleteBucket(meta.db, 'b', bucketIdOf('b'))).toBe('not-empty')
    await deleteObject(meta.db, writer('b'), 'k')
    expect(await bucketHasObjects(meta.db, 'b')).toBe(false)
    expect(await deleteBucket(meta.db, 'b', bucketIdOf('b'))).toBe('deleted')
    expect(await getBucket(meta.db, 'b')).toBeUndefined()
    expect(await deleteBucket(meta.db, 'b', bucketIdOf('b'))).toBe('missing')
  })

  it('a bucket is deleted by its id: another bucket created under the name since is not touched', async () => {
    await insertBucket(meta.db, bucket('b', { id: 'second' }))
    expect(await deleteBucket(meta.db, 'b', 'first')).toBe('missing')
    expect((await getBucket(meta.db, 'b'))?.id).toBe('second')
  })

  it('ids are drawn at creation and never repeat for a re-created name', async () => {
    const ids = new Set<string>()
    for (let i = 0; i < 3; i++) {
      const { id: _given, ...row } = bucket('again')
      await insertBucket(meta.db, row)
      const b = (await getBucket(meta.db, 'again'))!
      ids.add(b.id)
      expect(await deleteBucket(meta.db, 'again', b.id)).toBe('deleted')
    }
    expect(ids.size).toBe(3)
  })

  it('in-progress uploads do not block deletion (as in S3); their parts go to GC', async () => {
    await insertBucket(meta.db, bucket('b'))
    await createUpload(meta.db, uploadRow('b', 'k', 'u1'), writer('b'))
    await putPart(meta.db, partRow('u1', 1), writer())
    await putPart(meta.db, partRow('u1', 2), writer())
    expect(await deleteBucket(meta.db, 'b', bucketIdOf('b'))).toBe('deleted')
    expect(await getUpload(meta.db, 'u1')).toBeUndefined()
    const garbage = await takeGc(meta.db, 10)
    expect(garbage.map((g) => g.layout)).toEqual([partRow('u1', 1).layout, partRow('u1', 2).layout])
  })

  it('a bucket with objects keeps its uploads too', async () => {
    await insertBucket(meta.db, bucket('b'))
    await createUpload(meta.db, uploadRow('b', 'k', 'u1'), writer('b'))
    await putPart(meta.db, partRow('u1', 1), writer())
    await commitObject(meta.db, objectRow('b', 'other'), writer('b'))
    expect(await deleteBucket(meta.db, 'b', bucketIdOf('b'))).toBe('not-empty')
    expect(await getUpload(meta.db, 'u1')).toBeDefined()
    expect(await takeGc(meta.db, 10)).toEqual([])
  })
})
