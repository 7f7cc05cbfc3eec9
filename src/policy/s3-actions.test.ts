import { describe, expect, it } from 'vitest'
import { checksFor, KNOWN_S3_ACTIONS, S3_OPERATIONS, type S3Operation } from './s3-actions.ts'

const noHeaders = () => null
const headers = (h: Record<string, string>) => (name: string) => h[name] ?? null

describe('S3 operation → IAM actions', () => {
  it.each([
    ['ListBuckets', {}, [['s3:ListAllMyBuckets', '*']]],
    ['HeadBucket', { bucket: 'b' }, [['s3:ListBucket', 'arn:aws:s3:::b']]],
    ['ListObjectsV2', { bucket: 'b' }, [['s3:ListBucket', 'arn:aws:s3:::b']]],
    ['ListMultipartUploads', { bucket: 'b' }, [['s3:ListBucketMultipartUploads', 'arn:aws:s3:::b']]],
    ['DeleteBucketEncryption', { bucket: 'b' }, [['s3:PutEncryptionConfiguration', 'arn:aws:s3:::b']]],
    ['GetObject', { bucket: 'b', key: 'a/b' }, [['s3:GetObject', 'arn:aws:s3:::b/a/b']]],
    ['GetObject', { bucket: 'b', key: 'k', versionId: 'v1' }, [['s3:GetObjectVersion', 'arn:aws:s3:::b/k']]],
    ['HeadObject', { bucket: 'b', key: 'k' }, [['s3:GetObject', 'arn:aws:s3:::b/k']]],
    ['DeleteObject', { bucket: 'b', key: 'k', versionId: 'v1' }, [['s3:DeleteObjectVersion', 'arn:aws:s3:::b/k']]],
    ['UploadPart', { bucket: 'b', key: 'k' }, [['s3:PutObject', 'arn:aws:s3:::b/k']]],
    ['CompleteMultipartUpload', { bucket: 'b', key: 'k' }, [['s3:PutObject', 'arn:aws:s3:::b/k']]],
    ['AbortMultipartUpload', { bucket: 'b', key: 'k' }, [['s3:AbortMultipartUpload', 'arn:aws:s3:::b/k']]],
    ['ListParts', { bucket: 'b', key: 'k' }, [['s3:ListMultipartUploadParts', 'arn:aws:s3:::b/k']]],
    ['PutBucketPolicy', { bucket: 'b' }, [['s3:PutBucketPolicy', 'arn:aws:s3:::b']]],
    ['DeletePublicAccessBlock', { bucket: 'b' }, [['s3:PutBucketPublicAccessBlock', 'arn:aws:s3:::b']]],
    ['PutObjectRetention', { bucket: 'b', key: 'k' }, [['s3:PutObjectRetention', 'arn:aws:s3:::b/k']]],
  ] as [S3Operation, { bucket?: string; key?: string; versionId?: string }, [string, string][]][])(
    '%s %j',
    (operation, target, want) => {
      expect(checksFor(operation, { ...target, header: noHeaders }).map((c) => [c.action, c.resource])).toEqual(want)
    },
  )

  it('a copy needs write on its target and read on its source (the version when named)', () => {
    const c = checksFor('CopyObject', {
      bucket: 'dst',
      key: 'k2',
      header: noHeaders,
      copySource: { bucket: 'src', key: 'k1', versionId: 'v1' },
    })
    // The source check carries the source's version (its ACL is read there), not the request's.
    expect(c).toEqual([
      { action: 's3:PutObject', resource: 'arn:aws:s3:::dst/k2' },
      { action: 's3:GetObjectVersion', resource: 'arn:aws:s3:::src/k1', versionId: 'v1', copySource: true },
    ])
    const part = checksFor('UploadPartCopy', {
      bucket: 'd',
      key: 'k',
      header: noHeaders,
      copySource: { bucket: 's', key: 'x' },
    })
    expect(part.map((x) => x.action)).toEqual(['s3:PutObject', 's3:GetObject'])
    // versionId=null names the unversioned version: read with s3:GetObject, its ACL from that version.
    const nullVersion = checksFor('CopyObject', {
      bucket: 'd',
      key: 'k',
      header: noHeaders,
      copySource: { bucket: 'd', key: 'k', versionId: 'null' },
    })
    expect(nullVersion[1]).toEqual({
      action: 's3:GetObject',
      resource: 'arn:aws:s3:::d/k',
      versionId: 'null',
      copySource: true,
    })
  })

  it('headers add the actions AWS asks for', () => {
    const put = checksFor('PutObject', {
      bucket: 'b',
      key: 'k',
      header: headers({
        'x-amz-acl': 'public-read',
        'x-amz-tagging': 'a=b',
        'x-amz-object-lock-mode': 'GOVERNANCE',
        'x-amz-object-lock-legal-hold': 'ON',
      }),
    })
    expect(put.map((c) => c.action)).toEqual([
      's3:PutObject',
      's3:PutObjectAcl',
      's3:PutObjectTagging',
      's3:PutObjectRetention',
      's3:PutObjectLegalHold',
    ])
    const del = checksFor('DeleteObject', {
      bucket: 'b',
      key: 'k',
      versionId: 'v1',
      header: headers({ 'x-amz-bypass-governance-retention': 'true' }),
    })
    expect(del.map((c) => c.action)).toEqual(['s3:DeleteObjectVersion', 's3:BypassGovernanceRetention'])
    const create = checksFor('CreateBucket', {
      bucket: 'b',
      header: headers({ 'x-amz-acl': 'private', 'x-amz-bucket-object-lock-enabled': 'true' }),
    })
    expect(create.map((c) => c.action)).toEqual([
      's3:CreateBucket',
      's3:PutBucketAcl',
      's3:PutBucketObjectLockConfiguration',
      's3:PutBucketVersioning',
    ])
    // A copy keeps its source's tags unless the directive says REPLACE.
    expect(
      checksFor('CopyObject', { bucket: 'b', key: 'k', header: headers({ 'x-amz-tagging': 'a=b' }) }).map(
        (c) => c.action,
      ),
    ).toEqual(['s3:PutObject'])
  })

  it('every action of the table is a known action', () => {
    for (const rule of Object.values(S3_OPERATIONS)) {
      expect(KNOWN_S3_ACTIONS).toContain(rule.action)
      if ('versioned' in rule && rule.versioned) expect(KNOWN_S3_ACTIONS).toContain(rule.versioned)
    }
  })
})
