/**
 * Black-box S3 tagging over TLS with the AWS SDK: Put/Get/DeleteObjectTagging (by version too),
 * x-amz-tagging on PutObject and CreateMultipartUpload, x-amz-tagging-directive on CopyObject,
 * x-amz-tagging-count on GET/HEAD, Put/Get/DeleteBucketTagging, every limit and error AWS
 * answers, and a bucket policy deciding on s3:ExistingObjectTag.
 */
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketTaggingCommand,
  DeleteObjectCommand,
  DeleteObjectTaggingCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
  type Tag,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminJson, type Credentials } from '../helpers/admin.ts'
import { errorFields, md5b64, objectPath, rawRequest } from '../helpers/raw.ts'
import { bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

let server: TestServer
let s3: S3Client
const Bucket = bucketName('tags')
const Versioned = bucketName('tagv')

const tagSet = (n: number, prefix = 'k'): Tag[] =>
  Array.from({ length: n }, (_, i) => ({ Key: `${prefix}${i}`, Value: `v${i}` }))
const tagsOf = async (Key: string, VersionId?: string, B = Bucket) =>
  (await s3.send(new GetObjectTaggingCommand({ Bucket: B, Key, VersionId }))).TagSet ?? []
const putTags = (Key: string, TagSet: Tag[], VersionId?: string, B = Bucket) =>
  s3.send(new PutObjectTaggingCommand({ Bucket: B, Key, VersionId, Tagging: { TagSet } }))
const put = (Key: string, extra: Partial<ConstructorParameters<typeof PutObjectCommand>[0]> = {}, B = Bucket) =>
  s3.send(new PutObjectCommand({ Bucket: B, Key, Body: `body of ${Key}`, ...extra }))

async function failsWith(p: Promise<unknown>, status: number, code: string): Promise<string> {
  const e = await sdkError(p)
  expect(`${e.status} ${e.name}`).toBe(`${status} ${code}`)
  return e.message
}

/** A raw PUT ?tagging with the body as given (the SDK cannot send a malformed document). */
const rawTagging = (key: string | undefined, body: string) =>
  rawRequest(server, {
    method: 'PUT',
    path: objectPath(Bucket, key),
    query: [['tagging', '']],
    headers: { 'content-md5': md5b64(body) },
    body,
  })

const doc = (tags: [string, string][]) =>
  `<Tagging><TagSet>${tags.map(([k, v]) => `<Tag><Key>${k}</Key><Value>${v}</Value></Tag>`).join('')}</TagSet></Tagging>`

beforeAll(async () => {
  server = await startServer()
  s3 = s3Client(server)
  await s3.send(new CreateBucketCommand({ Bucket }))
  await s3.send(new CreateBucketCommand({ Bucket: Versioned }))
  await s3.send(new PutBucketVersioningCommand({ Bucket: Versioned, VersioningConfiguration: { Status: 'Enabled' } }))
}, 60_000)
afterAll(async () => {
  s3?.destroy()
  await server?.stop()
})

describe('object tagging', () => {
  it('Put/Get/DeleteObjectTagging round trip; GET and HEAD carry x-amz-tagging-count only while tagged', async () => {
    await put('plain')
    expect(await tagsOf('plain')).toEqual([])
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'plain' }))).TagCount).toBeUndefined()
    const tags = [
      { Key: 'project', Value: 'apollo' },
      { Key: 'empty', Value: '' },
      { Key: 'spaces and / + = . _ : @', Value: 'ünïcødé ✓' },
    ]
    const res = await putTags('plain', tags)
    expect(res.$metadata.httpStatusCode).toBe(200)
    expect(res.VersionId).toBeUndefined()
    expect(await tagsOf('plain')).toEqual(tags)
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'plain' }))).TagCount).toBe(3)
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'plain' }))
    expect(got.TagCount).toBe(3)
    expect(await got.Body!.transformToString()).toBe('body of plain')
    const deleted = await s3.send(new DeleteObjectTaggingCommand({ Bucket, Key: 'plain' }))
    expect(deleted.$metadata.httpStatusCode).toBe(204)
    expect(await tagsOf('plain')).toEqual([])
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'plain' }))).TagCount).toBeUndefined()
  })

  it('x-amz-tagging on PutObject (URL-encoded query form); an overwrite without it has no tags', async () => {
    await put('headed', { Tagging: 'a%20b=c%26d&e%2Ff=g%3Dh&bare' })
    expect(await tagsOf('headed')).toEqual([
      { Key: 'a b', Value: 'c&d' },
      { Key: 'e/f', Value: 'g=h' },
      { Key: 'bare', Value: '' },
    ])
    await put('headed')
    expect(await tagsOf('headed')).toEqual([])
  })

  it('a missing key: NoSuchKey for get, put and delete of its tags', async () => {
    await failsWith(tagsOf('nope'), 404, 'NoSuchKey')
    await failsWith(putTags('nope', tagSet(1)), 404, 'NoSuchKey')
    await failsWith(s3.send(new DeleteObjectTaggingCommand({ Bucket, Key: 'nope' })), 404, 'NoSuchKey')
  })
})

describe('limits and errors, as AWS answers them', () => {
  it('10 tags per object; the 11th is InvalidTag in a document and BadRequest in x-amz-tagging', async () => {
    await put('ten')
    await putTags('ten', tagSet(10))
    expect(await tagsOf('ten')).toHaveLength(10)
    expect(await failsWith(putTags('ten', tagSet(11)), 400, 'InvalidTag')).toMatch(/cannot be greater than 10/)
    expect(await tagsOf('ten')).toHaveLength(10)
    const header = tagSet(11)
      .map((t) => `${t.Key}=${t.Value}`)
      .join('&')
    await failsWith(put('eleven', { Tagging: header }), 400, 'BadRequest')
    await failsWith(s3.send(new HeadObjectCommand({ Bucket, Key: 'eleven' })), 404, 'NotFound')
  })

  it('key 128 and value 256 Unicode characters (not bytes) are allowed; one more is InvalidTag', async () => {
    await put('lengths')
    const key128 = 'é'.repeat(128)
    const value256 = '✓'.repeat(256)
    await putTags('lengths', [{ Key: key128, Value: value256 }])
    expect(await tagsOf('lengths')).toEqual([{ Key: key128, Value: value256 }])
    expect(await failsWith(putTags('lengths', [{ Key: `${key128}x`, Value: '' }]), 400, 'InvalidTag')).toMatch(
      /TagKey .* too long/,
    )
    expect(await failsWith(putTags('lengths', [{ Key: 'k', Value: `${value256}x` }]), 400, 'InvalidTag')).toMatch(
      /TagValue .* too long/,
    )
    await failsWith(put('long-header', { Tagging: `k=${'v'.repeat(257)}` }), 400, 'InvalidTag')
    expect(await tagsOf('lengths')).toEqual([{ Key: key128, Value: value256 }])
  })

  it('duplicate keys: InvalidTag in a document, InvalidArgument in x-amz-tagging; empty and aws: keys refused', async () => {
    await put('dups')
    const dup = await rawTagging(
      'dups',
      doc([
        ['a', '1'],
        ['a', '2'],
      ]),
    )
    expect([dup.status, errorFields(dup.body).code]).toEqual([400, 'InvalidTag'])
    await failsWith(put('dup-header', { Tagging: 'a=1&a=2' }), 400, 'InvalidArgument')
    await failsWith(putTags('dups', [{ Key: '', Value: 'x' }]), 400, 'InvalidTag')
    await failsWith(putTags('dups', [{ Key: 'aws:reserved', Value: 'x' }]), 400, 'InvalidTag')
  })

  it('a document that does not fit the schema is MalformedXML', async () => {
    await put('malformed')
    for (const body of [
      '<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>',
      '<Tagging><Tag><Key>a</Key><Value>b</Value></Tag></Tagging>',
      '<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet>',
      '<Nope/>',
    ]) {
      const r = await rawTagging('malformed', body)
      expect([r.status, errorFields(r.body).code], body).toEqual([400, 'MalformedXML'])
    }
  })
})

describe('tags belong to a version', () => {
  it('tagging by versionId answers x-amz-version-id; each version keeps its own tags', async () => {
    const v1 = (await put('doc', { Tagging: 'gen=1' }, Versioned)).VersionId!
    const v2 = (await put('doc', {}, Versioned)).VersionId!
    expect(v1).not.toBe(v2)
    expect(await tagsOf('doc', undefined, Versioned)).toEqual([])
    expect(await tagsOf('doc', v1, Versioned)).toEqual([{ Key: 'gen', Value: '1' }])
    const res = await putTags('doc', [{ Key: 'gen', Value: '2' }], v2, Versioned)
    expect(res.VersionId).toBe(v2)
    const current = await s3.send(new GetObjectTaggingCommand({ Bucket: Versioned, Key: 'doc' }))
    expect([current.VersionId, current.TagSet]).toEqual([v2, [{ Key: 'gen', Value: '2' }]])
    expect(await tagsOf('doc', v1, Versioned)).toEqual([{ Key: 'gen', Value: '1' }])
    const head = await s3.send(new HeadObjectCommand({ Bucket: Versioned, Key: 'doc', VersionId: v1 }))
    expect(head.TagCount).toBe(1)
    const del = await s3.send(new DeleteObjectTaggingCommand({ Bucket: Versioned, Key: 'doc', VersionId: v1 }))
    expect(del.VersionId).toBe(v1)
    expect(await tagsOf('doc', v1, Versioned)).toEqual([])
    expect(await tagsOf('doc', v2, Versioned)).toEqual([{ Key: 'gen', Value: '2' }])
    await failsWith(tagsOf('doc', '0'.repeat(32), Versioned), 404, 'NoSuchVersion')
  })

  it('a delete marker has no tag set; removing the marker brings the tagged version back', async () => {
    await put('marked', { Tagging: 'keep=yes' }, Versioned)
    const marker = await s3.send(new DeleteObjectCommand({ Bucket: Versioned, Key: 'marked' }))
    await failsWith(tagsOf('marked', undefined, Versioned), 404, 'NoSuchKey')
    await failsWith(putTags('marked', tagSet(1), undefined, Versioned), 404, 'NoSuchKey')
    await s3.send(new DeleteObjectCommand({ Bucket: Versioned, Key: 'marked', VersionId: marker.VersionId }))
    expect(await tagsOf('marked', undefined, Versioned)).toEqual([{ Key: 'keep', Value: 'yes' }])
  })
})

describe('tags carried by writes', () => {
  it('CopyObject: COPY (the default) keeps the source version tags, REPLACE takes x-amz-tagging', async () => {
    await put('source', { Tagging: 'from=source&n=1' })
    await s3.send(new CopyObjectCommand({ Bucket, Key: 'copied', CopySource: `${Bucket}/source` }))
    expect(await tagsOf('copied')).toEqual([
      { Key: 'from', Value: 'source' },
      { Key: 'n', Value: '1' },
    ])
    await s3.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'replaced',
        CopySource: `${Bucket}/source`,
        TaggingDirective: 'REPLACE',
        Tagging: 'from=copy',
      }),
    )
    expect(await tagsOf('replaced')).toEqual([{ Key: 'from', Value: 'copy' }])
    await s3.send(
      new CopyObjectCommand({ Bucket, Key: 'stripped', CopySource: `${Bucket}/source`, TaggingDirective: 'REPLACE' }),
    )
    expect(await tagsOf('stripped')).toEqual([])
    const bad = await rawRequest(server, {
      method: 'PUT',
      path: objectPath(Bucket, 'bad-directive'),
      headers: { 'x-amz-copy-source': `/${Bucket}/source`, 'x-amz-tagging-directive': 'MERGE' },
    })
    expect([bad.status, errorFields(bad.body).code]).toEqual([400, 'InvalidArgument'])
  })

  it('CreateMultipartUpload with x-amz-tagging: the completed object carries the tags', async () => {
    const Key = 'multi'
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, Tagging: 'kind=multipart' }))
    const part = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: 'only part' }))
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    )
    expect(await tagsOf(Key)).toEqual([{ Key: 'kind', Value: 'multipart' }])
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key }))).TagCount).toBe(1)
    await failsWith(
      s3.send(new CreateMultipartUploadCommand({ Bucket, Key, Tagging: 'a=1&a=2' })),
      400,
      'InvalidArgument',
    )
  })
})

describe('bucket tagging', () => {
  it('NoSuchTagSet until set; 50 tags round trip; 51 is InvalidTag; delete goes back to NoSuchTagSet', async () => {
    await failsWith(s3.send(new GetBucketTaggingCommand({ Bucket })), 404, 'NoSuchTagSet')
    const fifty = tagSet(50)
    const put = await s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: fifty } }))
    expect(put.$metadata.httpStatusCode).toBe(204)
    expect((await s3.send(new GetBucketTaggingCommand({ Bucket }))).TagSet).toEqual(fifty)
    await failsWith(
      s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: tagSet(51) } })),
      400,
      'InvalidTag',
    )
    await failsWith(
      s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: [{ Key: 'k'.repeat(129), Value: '' }] } })),
      400,
      'InvalidTag',
    )
    expect((await s3.send(new GetBucketTaggingCommand({ Bucket }))).TagSet).toEqual(fifty)
    await s3.send(new DeleteBucketTaggingCommand({ Bucket }))
    await failsWith(s3.send(new GetBucketTaggingCommand({ Bucket })), 404, 'NoSuchTagSet')
    await failsWith(s3.send(new GetBucketTaggingCommand({ Bucket: bucketName('missing') })), 404, 'NoSuchBucket')
  })
})

describe('policies on tags', () => {
  it('a bucket policy granting GetObject on s3:ExistingObjectTag admits exactly the tagged versions', async () => {
    await adminJson(server, ['namespace', 'create', 'tagged', '--encryption', 'off'])
    const boss = await adminJson<Credentials & { arn: string }>(server, [
      'user',
      'create',
      'boss',
      '--namespace',
      'tagged',
      '--policy',
      'admin',
    ])
    const viewer = await adminJson<Credentials & { arn: string }>(server, [
      'user',
      'create',
      'viewer',
      '--namespace',
      'tagged',
    ])
    const owner = s3Client(server, boss)
    const guest = s3Client(server, viewer)
    const B = bucketName('tagpol')
    try {
      await owner.send(new CreateBucketCommand({ Bucket: B }))
      await owner.send(new PutObjectCommand({ Bucket: B, Key: 'open', Body: 'open', Tagging: 'visibility=public' }))
      await owner.send(
        new PutObjectCommand({ Bucket: B, Key: 'closed', Body: 'closed', Tagging: 'visibility=private' }),
      )
      await owner.send(new PutObjectCommand({ Bucket: B, Key: 'untagged', Body: 'untagged' }))
      const Policy = JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: viewer.arn },
            Action: ['s3:GetObject', 's3:GetObjectTagging'],
            Resource: `arn:aws:s3:::${B}/*`,
            Condition: { StringEquals: { 's3:ExistingObjectTag/visibility': 'public' } },
          },
        ],
      })
      await owner.send(new PutBucketPolicyCommand({ Bucket: B, Policy }))
      const read = (Key: string) => guest.send(new GetObjectCommand({ Bucket: B, Key }))
      expect(await (await read('open')).Body!.transformToString()).toBe('open')
      expect((await guest.send(new GetObjectTaggingCommand({ Bucket: B, Key: 'open' }))).TagSet).toHaveLength(1)
      await failsWith(read('closed'), 403, 'AccessDenied')
      await failsWith(read('untagged'), 403, 'AccessDenied')
      // The tags are read as they are now: retagging moves the object in or out of the grant.
      await owner.send(
        new PutObjectTaggingCommand({
          Bucket: B,
          Key: 'closed',
          Tagging: { TagSet: [{ Key: 'visibility', Value: 'public' }] },
        }),
      )
      expect(await (await read('closed')).Body!.transformToString()).toBe('closed')
      await owner.send(new DeleteObjectTaggingCommand({ Bucket: B, Key: 'open' }))
      await failsWith(read('open'), 403, 'AccessDenied')
    } finally {
      owner.destroy()
      guest.destroy()
    }
  })
})
