/**
 * ACL grants beyond the owner's, end to end with the AWS SDK and unsigned requests against a
 * real server over TLS: Put/Get of bucket and object ACLs (canned, x-amz-grant-* headers and
 * AccessControlPolicy XML), grants evaluated in the authorization step (another user of the
 * namespace through AuthenticatedUsers, anonymous readers through AllUsers), Block Public
 * Access's BlockPublicAcls and IgnorePublicAcls, per-version object ACLs, BucketOwnerEnforced
 * refusing ACLs, and namespaces never crossed.
 */
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeletePublicAccessBlockCommand,
  GetBucketAclCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  PutBucketAclCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminJson, adminRun, type Credentials } from '../helpers/admin.ts'
import { errorCode, rawRequest } from '../helpers/raw.ts'
import { bodyBytes, bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { httpsGet, startServer, type TestServer } from '../helpers/server.ts'

let server: TestServer
const NS = 'grants'
const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers'
const ANONYMOUS_OWNER = '65a011a29cdf8ec533ec3d1ccaae921c'
const AUTHENTICATED = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers'
const enforced = bucketName('enforced')
const writerOwned = bucketName('objwriter')
const clients: Record<string, S3Client> = {}
const ids: Record<string, string> = {}

async function user(name: string, namespace: string, policy?: string): Promise<S3Client> {
  const args = ['user', 'create', name, '--namespace', namespace, ...(policy ? ['--policy', policy] : [])]
  const u = await adminJson<Credentials & { canonicalId: string }>(server, args)
  ids[name] = u.canonicalId
  clients[name] = s3Client(server, u)
  return clients[name]!
}

const get = async (c: S3Client, key: string, versionId?: string) =>
  (
    await bodyBytes((await c.send(new GetObjectCommand({ Bucket: writerOwned, Key: key, VersionId: versionId }))).Body)
  ).toString()

async function fails(p: Promise<unknown>, status: number, code: string): Promise<void> {
  const err = await sdkError(p)
  expect(`${err.status} ${err.name}`).toBe(`${status} ${code}`)
}

beforeAll(async () => {
  server = await startServer()
  await adminJson(server, ['namespace', 'create', NS, '--encryption', 'off'])
  await adminJson(server, ['namespace', 'create', 'elsewhere', '--encryption', 'off'])
  await user('boss', NS, 'admin')
  await user('friend', NS)
  await user('intruder', 'elsewhere', 'admin')
  const c = clients.boss!
  await c.send(new CreateBucketCommand({ Bucket: enforced }))
  await c.send(new CreateBucketCommand({ Bucket: writerOwned, ObjectOwnership: 'ObjectWriter' }))
  await c.send(new PutObjectCommand({ Bucket: writerOwned, Key: 'shared.txt', Body: 'shared' }))
  await c.send(new PutObjectCommand({ Bucket: enforced, Key: 'x', Body: 'x' }))
}, 90_000)
afterAll(async () => {
  if (process.env.ACL_DEBUG) console.log(server?.stderr())
  await server?.stop()
})

describe('ACLs disabled (BucketOwnerEnforced, the default)', () => {
  it('shows the owner full control and refuses any other ACL, on buckets and objects', async () => {
    const c = clients.boss!
    const acl = await c.send(new GetBucketAclCommand({ Bucket: enforced }))
    expect(acl.Owner?.ID).toBe(ids.boss)
    expect(acl.Grants?.map((g) => [g.Grantee?.ID, g.Permission])).toEqual([[ids.boss, 'FULL_CONTROL']])
    await fails(
      c.send(new PutBucketAclCommand({ Bucket: enforced, ACL: 'public-read' })),
      400,
      'AccessControlListNotSupported',
    )
    await fails(
      c.send(new PutObjectAclCommand({ Bucket: enforced, Key: 'x', GrantRead: `uri="${AUTHENTICATED}"` })),
      400,
      'AccessControlListNotSupported',
    )
    // "The owner has full control" is accepted, as on S3.
    await c.send(new PutBucketAclCommand({ Bucket: enforced, ACL: 'private' }))
    await c.send(new PutObjectAclCommand({ Bucket: enforced, Key: 'x', ACL: 'bucket-owner-full-control' }))
    const obj = await c.send(new GetObjectAclCommand({ Bucket: enforced, Key: 'x' }))
    expect(obj.Grants?.map((g) => g.Permission)).toEqual(['FULL_CONTROL'])
  })
})

describe('ACL grants (ObjectWriter)', () => {
  it('Block Public Access refuses a public ACL while BlockPublicAcls is on', async () => {
    const c = clients.boss!
    await fails(
      c.send(new PutObjectAclCommand({ Bucket: writerOwned, Key: 'shared.txt', ACL: 'public-read' })),
      403,
      'AccessDenied',
    )
    await fails(
      c.send(new PutObjectCommand({ Bucket: writerOwned, Key: 'pub', Body: 'p', ACL: 'authenticated-read' })),
      403,
      'AccessDenied',
    )
    // Nothing was written by the refused PUT.
    await fails(c.send(new GetObjectAclCommand({ Bucket: writerOwned, Key: 'pub' })), 404, 'NoSuchKey')
  })

  it('grants read to another user of the namespace (AuthenticatedUsers), never to another namespace', async () => {
    const c = clients.boss!
    await adminRun(server, ['namespace', 'public-access', NS, '--set', 'off'])
    await c.send(new DeletePublicAccessBlockCommand({ Bucket: writerOwned }))
    // friend has no policy: nothing until the ACL says so.
    await fails(get(clients.friend!, 'shared.txt'), 403, 'AccessDenied')
    await c.send(
      new PutObjectAclCommand({ Bucket: writerOwned, Key: 'shared.txt', GrantRead: `uri="${AUTHENTICATED}"` }),
    )
    expect(await get(clients.friend!, 'shared.txt')).toBe('shared')
    await fails(get(clients.intruder!, 'shared.txt'), 403, 'AccessDenied')
    // Authenticated only: an anonymous reader is still refused.
    const anon = await httpsGet(server, `/${writerOwned}/shared.txt`)
    expect([anon.status, errorCode(anon.body)]).toEqual([403, 'AccessDenied'])
    // READ on the object is not READ_ACP, nor any write.
    await fails(
      clients.friend!.send(new GetObjectAclCommand({ Bucket: writerOwned, Key: 'shared.txt' })),
      403,
      'AccessDenied',
    )
    await fails(
      clients.friend!.send(new PutObjectCommand({ Bucket: writerOwned, Key: 'shared.txt', Body: 'no' })),
      403,
      'AccessDenied',
    )
    const acl = await c.send(new GetObjectAclCommand({ Bucket: writerOwned, Key: 'shared.txt' }))
    expect(acl.Grants?.map((g) => [g.Grantee?.URI ?? g.Grantee?.ID, g.Permission])).toEqual([[AUTHENTICATED, 'READ']])
  })

  it('public-read is served anonymously until IgnorePublicAcls, and BlockPublicAcls refuses setting it', async () => {
    const c = clients.boss!
    await c.send(
      new PutObjectCommand({ Bucket: writerOwned, Key: 'site/index.html', Body: '<h1/>', ACL: 'public-read' }),
    )
    const page = await httpsGet(server, `/${writerOwned}/site/index.html`)
    expect([page.status, page.body]).toEqual([200, '<h1/>'])
    await c.send(
      new PutPublicAccessBlockCommand({
        Bucket: writerOwned,
        PublicAccessBlockConfiguration: { IgnorePublicAcls: true },
      }),
    )
    const ignored = await httpsGet(server, `/${writerOwned}/site/index.html`)
    expect([ignored.status, errorCode(ignored.body)]).toEqual([403, 'AccessDenied'])
    await fails(get(clients.friend!, 'shared.txt'), 403, 'AccessDenied')
    await c.send(
      new PutPublicAccessBlockCommand({
        Bucket: writerOwned,
        PublicAccessBlockConfiguration: { BlockPublicAcls: true },
      }),
    )
    // The stored grant is honoured again; a new public one is refused.
    expect((await httpsGet(server, `/${writerOwned}/site/index.html`)).status).toBe(200)
    await fails(c.send(new PutBucketAclCommand({ Bucket: writerOwned, ACL: 'public-read' })), 403, 'AccessDenied')
    await c.send(new DeletePublicAccessBlockCommand({ Bucket: writerOwned }))
  })

  it('a public-read bucket ACL lets anyone list it', async () => {
    const c = clients.boss!
    expect((await httpsGet(server, `/${writerOwned}?list-type=2`)).status).toBe(403)
    await c.send(new PutBucketAclCommand({ Bucket: writerOwned, ACL: 'public-read' }))
    const list = await httpsGet(server, `/${writerOwned}?list-type=2`)
    expect(list.status).toBe(200)
    expect(list.body).toContain('<Key>shared.txt</Key>')
    const acl = await c.send(new GetBucketAclCommand({ Bucket: writerOwned }))
    expect(acl.Grants?.map((g) => [g.Grantee?.URI ?? g.Grantee?.ID, g.Permission])).toEqual([
      [ids.boss, 'FULL_CONTROL'],
      [ALL_USERS, 'READ'],
    ])
    await c.send(new PutBucketAclCommand({ Bucket: writerOwned, ACL: 'private' }))
    expect((await httpsGet(server, `/${writerOwned}?list-type=2`)).status).toBe(403)
  })

  it('object ACLs are per version', async () => {
    const c = clients.boss!
    await c.send(
      new PutBucketVersioningCommand({ Bucket: writerOwned, VersioningConfiguration: { Status: 'Enabled' } }),
    )
    const v1 = await c.send(new PutObjectCommand({ Bucket: writerOwned, Key: 'doc', Body: 'one', ACL: 'public-read' }))
    const v2 = await c.send(new PutObjectCommand({ Bucket: writerOwned, Key: 'doc', Body: 'two' }))
    expect((await httpsGet(server, `/${writerOwned}/doc`)).status).toBe(403)
    const old = await httpsGet(server, `/${writerOwned}/doc?versionId=${v1.VersionId}`)
    expect([old.status, old.body]).toEqual([200, 'one'])
    // Opening the current version by its id leaves the old one as it was.
    await c.send(
      new PutObjectAclCommand({ Bucket: writerOwned, Key: 'doc', VersionId: v2.VersionId, ACL: 'public-read' }),
    )
    expect((await httpsGet(server, `/${writerOwned}/doc`)).body).toBe('two')
    await c.send(new PutObjectAclCommand({ Bucket: writerOwned, Key: 'doc', VersionId: v1.VersionId, ACL: 'private' }))
    expect((await httpsGet(server, `/${writerOwned}/doc?versionId=${v1.VersionId}`)).status).toBe(403)
    expect((await httpsGet(server, `/${writerOwned}/doc`)).status).toBe(200)
  })

  it('a copy reads the source ACL of the version x-amz-copy-source names, not the current one', async () => {
    const c = clients.boss!
    const src = bucketName('copysrc')
    await adminRun(server, ['namespace', 'public-access', NS, '--set', 'off'])
    await c.send(new CreateBucketCommand({ Bucket: src, ObjectOwnership: 'ObjectWriter' }))
    await c.send(new DeletePublicAccessBlockCommand({ Bucket: src }))
    await c.send(new PutBucketVersioningCommand({ Bucket: src, VersioningConfiguration: { Status: 'Enabled' } }))
    // copier may write anywhere (writeonly) but read nothing: only an object ACL lets it read a source.
    const copier = clients.copier ?? (await user('copier', NS, 'writeonly'))
    const copy = (key: string, versionId?: string) =>
      copier.send(
        new CopyObjectCommand({
          Bucket: src,
          Key: key,
          CopySource: `${src}/doc${versionId ? `?versionId=${versionId}` : ''}`,
        }),
      )
    const v1 = await c.send(new PutObjectCommand({ Bucket: src, Key: 'doc', Body: 'old', ACL: 'authenticated-read' }))
    const v2 = await c.send(new PutObjectCommand({ Bucket: src, Key: 'doc', Body: 'new' }))
    // The older version is readable by grant, the current one is private.
    const fromOld = await copy('from-old', v1.VersionId)
    expect(fromOld.CopySourceVersionId).toBe(v1.VersionId)
    expect(
      (await bodyBytes((await c.send(new GetObjectCommand({ Bucket: src, Key: 'from-old' }))).Body)).toString(),
    ).toBe('old')
    await fails(copy('from-current'), 403, 'AccessDenied')
    await fails(copy('from-new', v2.VersionId), 403, 'AccessDenied')
    // The other way round: the current version opened, the older one closed.
    await c.send(
      new PutObjectAclCommand({ Bucket: src, Key: 'doc', VersionId: v2.VersionId, ACL: 'authenticated-read' }),
    )
    await c.send(new PutObjectAclCommand({ Bucket: src, Key: 'doc', VersionId: v1.VersionId, ACL: 'private' }))
    await fails(copy('leak', v1.VersionId), 403, 'AccessDenied')
    await fails(c.send(new GetObjectAclCommand({ Bucket: src, Key: 'leak' })), 404, 'NoSuchKey')
    expect((await copy('from-current')).CopySourceVersionId).toBe(v2.VersionId)
    // Restoring an older version onto its own key reads that version's ACL too (not the target's write).
    await fails(copy('doc', v1.VersionId), 403, 'AccessDenied')
    await c.send(
      new PutObjectAclCommand({ Bucket: src, Key: 'doc', VersionId: v1.VersionId, ACL: 'authenticated-read' }),
    )
    await copy('doc', v1.VersionId)
    expect((await bodyBytes((await c.send(new GetObjectCommand({ Bucket: src, Key: 'doc' }))).Body)).toString()).toBe(
      'old',
    )
  })

  it('AccessControlPolicy XML: groups and this namespace; another namespace or an e-mail is refused', async () => {
    const c = clients.boss!
    const owner = { ID: ids.boss }
    await c.send(
      new PutObjectAclCommand({
        Bucket: writerOwned,
        Key: 'shared.txt',
        AccessControlPolicy: {
          Owner: owner,
          Grants: [
            { Grantee: { Type: 'CanonicalUser', ID: ids.boss }, Permission: 'FULL_CONTROL' },
            { Grantee: { Type: 'Group', URI: ALL_USERS }, Permission: 'READ' },
          ],
        },
      }),
    )
    expect((await httpsGet(server, `/${writerOwned}/shared.txt`)).body).toBe('shared')
    await fails(
      c.send(
        new PutObjectAclCommand({
          Bucket: writerOwned,
          Key: 'shared.txt',
          AccessControlPolicy: {
            Owner: owner,
            Grants: [{ Grantee: { Type: 'CanonicalUser', ID: ids.intruder }, Permission: 'READ' }],
          },
        }),
      ),
      400,
      'InvalidArgument',
    )
    await fails(
      c.send(new PutObjectAclCommand({ Bucket: writerOwned, Key: 'shared.txt', GrantRead: 'emailAddress="a@b.c"' })),
      400,
      'UnresolvableGrantByEmailAddress',
    )
    await fails(
      c.send(
        new PutObjectAclCommand({
          Bucket: writerOwned,
          Key: 'shared.txt',
          ACL: 'public-read',
          GrantRead: `uri="${ALL_USERS}"`,
        }),
      ),
      400,
      'InvalidRequest',
    )
    // The other namespace cannot even read the ACL of a bucket it does not own.
    await fails(clients.intruder!.send(new GetBucketAclCommand({ Bucket: writerOwned })), 403, 'AccessDenied')
  })
})

/** An unsigned browser form upload: no policy, so anonymous (S3's rules). */
function anonymousForm(path: string, key: string, file: string, extra: Record<string, string> = {}) {
  const boundary = 'coffer-acl-test-boundary'
  const part = (name: string, value: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`
  const body =
    Object.entries({ key, ...extra })
      .map(([k, v]) => part(k, v))
      .join('') +
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\nContent-Type: text/plain\r\n\r\n${file}\r\n--${boundary}--\r\n`
  return rawRequest(server, {
    method: 'POST',
    path,
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
    sign: false,
  })
}

describe('anonymous writes', () => {
  it('public-read-write lets anyone write and delete; the object is the anonymous owner’s (ObjectWriter)', async () => {
    const c = clients.boss!
    const denied = await rawRequest(server, { method: 'PUT', path: `/${writerOwned}/inbox/a`, body: 'a', sign: false })
    expect([denied.status, errorCode(denied.body.toString())]).toEqual([403, 'AccessDenied'])
    await c.send(new PutBucketAclCommand({ Bucket: writerOwned, ACL: 'public-read-write' }))
    const put = await rawRequest(server, { method: 'PUT', path: `/${writerOwned}/inbox/a`, body: 'anon', sign: false })
    expect(put.status).toBe(200)
    expect(await get(c, 'inbox/a')).toBe('anon')
    const acl = await c.send(new GetObjectAclCommand({ Bucket: writerOwned, Key: 'inbox/a' }))
    expect(acl.Owner?.ID).toBe(ANONYMOUS_OWNER)
    const form = await anonymousForm(`/${writerOwned}`, 'inbox/form', 'from a form')
    expect(form.status).toBe(204)
    expect(await get(c, 'inbox/form')).toBe('from a form')
    const del = await rawRequest(server, { method: 'DELETE', path: `/${writerOwned}/inbox/a`, sign: false })
    expect(del.status).toBe(204)
    await c.send(new PutBucketAclCommand({ Bucket: writerOwned, ACL: 'private' }))
    const again = await rawRequest(server, { method: 'PUT', path: `/${writerOwned}/inbox/b`, body: 'b', sign: false })
    expect([again.status, errorCode(again.body.toString())]).toEqual([403, 'AccessDenied'])
    const formDenied = await anonymousForm(`/${writerOwned}`, 'inbox/form2', 'x')
    expect([formDenied.status, errorCode(formDenied.body.toString())]).toEqual([403, 'AccessDenied'])
  })

  it('a bucket policy lets anyone write (BucketOwnerEnforced: the bucket owner owns it); aws:SourceIp on POST', async () => {
    const c = clients.boss!
    await c.send(new DeletePublicAccessBlockCommand({ Bucket: enforced }))
    const policy = (cidr: string) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: '*',
            Action: 's3:PutObject',
            Resource: `arn:aws:s3:::${enforced}/drop/*`,
            Condition: { IpAddress: { 'aws:SourceIp': cidr } },
          },
        ],
      })
    await c.send(new PutBucketPolicyCommand({ Bucket: enforced, Policy: policy('127.0.0.0/8') }))
    const put = await rawRequest(server, { method: 'PUT', path: `/${enforced}/drop/p`, body: 'p', sign: false })
    expect(put.status).toBe(200)
    const acl = await c.send(new GetObjectAclCommand({ Bucket: enforced, Key: 'drop/p' }))
    expect(acl.Owner?.ID).toBe(ids.boss)
    const form = await anonymousForm(`/${enforced}`, 'drop/f', 'form', { success_action_status: '201' })
    expect(form.status).toBe(201)
    const outside = await anonymousForm(`/${enforced}`, 'elsewhere/f', 'form')
    expect([outside.status, errorCode(outside.body.toString())]).toEqual([403, 'AccessDenied'])
    // The condition sees the form's source address: from elsewhere, refused.
    await c.send(new PutBucketPolicyCommand({ Bucket: enforced, Policy: policy('10.0.0.0/8') }))
    const far = await anonymousForm(`/${enforced}`, 'drop/g', 'form')
    expect([far.status, errorCode(far.body.toString())]).toEqual([403, 'AccessDenied'])
    // An `acl` field needs s3:PutObjectAcl, which the policy does not give.
    await c.send(new PutBucketPolicyCommand({ Bucket: enforced, Policy: policy('127.0.0.0/8') }))
    const withAcl = await anonymousForm(`/${enforced}`, 'drop/h', 'form', { acl: 'public-read' })
    expect(withAcl.status).toBe(403)
  })
})
