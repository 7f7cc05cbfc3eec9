import { describe, expect, it } from 'vitest'
import {
  AclError,
  aclGrants,
  ALL_USERS,
  AUTHENTICATED_USERS,
  bucketPermissionFor,
  cannedAcl,
  grantsFromHeaders,
  isPublicAcl,
  objectPermissionFor,
  parseAclText,
} from './acl.ts'
import type { Caller } from './principals.ts'

const root: Caller = { kind: 'root', namespace: 'n', canonicalId: 'OWNER' }
const user: Caller = { kind: 'user', namespace: 'n', userName: 'u', canonicalId: 'OWNER' }
const anon: Caller = { kind: 'anonymous', namespace: 'n' }

describe('canned ACLs (AWS expansion)', () => {
  it('expands each to the owner plus its grants', () => {
    const perms = (name: string, bucket = false) =>
      cannedAcl(name, 'OWNER', 'BUCKET', bucket).grants.map((g) =>
        g.grantee.type === 'Group'
          ? `${g.grantee.uri.split('/').pop()}:${g.permission}`
          : `${g.grantee.id}:${g.permission}`,
      )
    expect(perms('private')).toEqual(['OWNER:FULL_CONTROL'])
    expect(perms('public-read')).toEqual(['OWNER:FULL_CONTROL', 'AllUsers:READ'])
    expect(perms('public-read-write')).toEqual(['OWNER:FULL_CONTROL', 'AllUsers:READ', 'AllUsers:WRITE'])
    expect(perms('authenticated-read')).toEqual(['OWNER:FULL_CONTROL', 'AuthenticatedUsers:READ'])
    expect(perms('bucket-owner-read')).toEqual(['OWNER:FULL_CONTROL', 'BUCKET:READ'])
    expect(perms('bucket-owner-full-control')).toEqual(['OWNER:FULL_CONTROL', 'BUCKET:FULL_CONTROL'])
    expect(perms('log-delivery-write', true)).toEqual([
      'OWNER:FULL_CONTROL',
      'LogDelivery:WRITE',
      'LogDelivery:READ_ACP',
    ])
    expect(() => cannedAcl('log-delivery-write', 'O', 'O', false)).toThrow(AclError)
    expect(() => cannedAcl('nonsense', 'O', 'O', true)).toThrow(AclError)
  })
})

describe('grant headers', () => {
  it('reads id= and uri= lists, refuses e-mail and junk', () => {
    const h = (m: Record<string, string>) => (n: string) => m[n] ?? null
    expect(grantsFromHeaders(h({}))).toBeUndefined()
    expect(
      grantsFromHeaders(h({ 'x-amz-grant-read': `id="A", uri="${ALL_USERS}"`, 'x-amz-grant-write-acp': 'id=B' })),
    ).toEqual([
      { grantee: { type: 'CanonicalUser', id: 'A' }, permission: 'READ' },
      { grantee: { type: 'Group', uri: ALL_USERS }, permission: 'READ' },
      { grantee: { type: 'CanonicalUser', id: 'B' }, permission: 'WRITE_ACP' },
    ])
    expect(() => grantsFromHeaders(h({ 'x-amz-grant-read': 'emailAddress="a@b"' }))).toThrow(/e-mail/)
    expect(() => grantsFromHeaders(h({ 'x-amz-grant-read': 'uri="http://example.com/x"' }))).toThrow(/group/)
    expect(() => grantsFromHeaders(h({ 'x-amz-grant-read': 'nonsense' }))).toThrow(AclError)
  })
})

describe('evaluation', () => {
  it('groups and canonical ids match as on AWS; IgnorePublicAcls drops the public groups', () => {
    const pub = cannedAcl('public-read', 'OWNER', 'OWNER', false)
    const auth = cannedAcl('authenticated-read', 'OWNER', 'OWNER', false)
    expect(isPublicAcl(pub) && isPublicAcl(auth)).toBe(true)
    expect(isPublicAcl(cannedAcl('private', 'OWNER', 'OWNER', false))).toBe(false)
    expect(aclGrants(pub, anon, 'READ', false)).toBe(true)
    expect(aclGrants(pub, anon, 'READ', true)).toBe(false)
    expect(aclGrants(pub, anon, 'READ_ACP', false)).toBe(false)
    expect(aclGrants(auth, anon, 'READ', false)).toBe(false)
    expect(aclGrants(auth, user, 'READ', false)).toBe(true)
    // A canonical id names the account, i.e. its root; its users act through their policies.
    const own = {
      owner: 'OWNER',
      grants: [{ grantee: { type: 'CanonicalUser' as const, id: 'OWNER' }, permission: 'READ' as const }],
    }
    expect(aclGrants(own, root, 'READ', false)).toBe(true)
    expect(aclGrants(own, user, 'READ', false)).toBe(false)
    // FULL_CONTROL implies every permission.
    expect(
      aclGrants(
        { owner: 'O', grants: [{ grantee: { type: 'Group', uri: AUTHENTICATED_USERS }, permission: 'FULL_CONTROL' }] },
        user,
        'WRITE_ACP',
        false,
      ),
    ).toBe(true)
  })

  it('maps actions to bucket and object permissions', () => {
    expect(bucketPermissionFor('s3:ListBucket')).toBe('READ')
    expect(bucketPermissionFor('s3:PutObject')).toBe('WRITE')
    expect(bucketPermissionFor('s3:PutBucketAcl')).toBe('WRITE_ACP')
    expect(bucketPermissionFor('s3:GetObject')).toBeUndefined()
    expect(objectPermissionFor('s3:GetObjectVersion')).toBe('READ')
    expect(objectPermissionFor('s3:GetObjectAcl')).toBe('READ_ACP')
    expect(objectPermissionFor('s3:DeleteObject')).toBeUndefined()
  })

  it('stored text that does not parse grants nothing but keeps the owner', () => {
    expect(parseAclText(null, 'O')).toBeUndefined()
    expect(parseAclText('{', 'O')).toEqual({ owner: 'O', grants: [] })
    expect(parseAclText('{"owner":"X","grants":[{"grantee":{"type":"Group"},"permission":"READ"}]}', 'O')).toEqual({
      owner: 'X',
      grants: [],
    })
  })
})
