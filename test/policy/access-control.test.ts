// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${aws:username} is IAM policy syntax, not a template
/**
 * Access control end to end, with the AWS SDK and unsigned requests against a real server over
 * TLS: users × built-in and own policies × operations, bucket policies (same-namespace grants,
 * public read, explicit deny), Block Public Access, ownership controls and canned ACLs, and
 * namespaces that are never crossed whatever a policy says.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  DeletePublicAccessBlockCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetObjectCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
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
const NS = 'team'
const bucket = bucketName('acl')
const clients: Record<string, S3Client> = {}
const creds: Record<string, Credentials & { arn: string }> = {}

async function user(name: string, namespace: string, policy?: string): Promise<S3Client> {
  const args = ['user', 'create', name, '--namespace', namespace, ...(policy ? ['--policy', policy] : [])]
  const u = await adminJson<Credentials & { arn: string }>(server, args)
  creds[name] = u
  clients[name] = s3Client(server, u)
  return clients[name]!
}

const put = (c: S3Client, key: string, body = `data of ${key}`) =>
  c.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))
const get = async (c: S3Client, key: string, b = bucket) =>
  (await bodyBytes((await c.send(new GetObjectCommand({ Bucket: b, Key: key }))).Body)).toString()

async function denied(p: Promise<unknown>): Promise<void> {
  const err = await sdkError(p)
  expect(`${err.status} ${err.name}`).toBe('403 AccessDenied')
}

const policyOf = (...statements: Record<string, unknown>[]) =>
  JSON.stringify({ Version: '2012-10-17', Statement: statements })

beforeAll(async () => {
  server = await startServer()
  await adminJson(server, ['namespace', 'create', NS, '--encryption', 'off'])
  await adminJson(server, ['namespace', 'create', 'other', '--encryption', 'off'])
  // Each is a `coffer admin` process: started side by side, they cost one start-up, not eight.
  await Promise.all([
    user('owner', NS, 'readwrite'),
    user('reader', NS, 'readonly'),
    user('writer', NS, 'writeonly'),
    user('nobody', NS),
    user('scoped', NS),
    user('careful', NS, 'readwrite'),
    user('boss', NS, 'admin'),
    user('intruder', 'other', 'admin'),
  ])
  await clients.owner!.send(new CreateBucketCommand({ Bucket: bucket }))
  await put(clients.owner!, 'readme.txt')
  await put(clients.owner!, 'public/logo.svg', '<svg/>')
  await put(clients.owner!, 'home/scoped/notes', 'scoped notes')
  await put(clients.owner!, 'home/other/notes', 'not yours')
}, 180_000)
afterAll(async () => {
  await server?.stop()
})

describe('user policies', () => {
  it('a new user has no rights until given a policy, and the CLI says so', async () => {
    const { stdout } = await adminRun(server, ['user', 'create', 'fresh', '--namespace', NS])
    expect(stdout).toMatch(/no rights until it is given a policy: coffer admin user policy set \S+ FILE/)
    await denied(clients.nobody!.send(new ListBucketsCommand({})))
    await denied(get(clients.nobody!, 'readme.txt'))
    await denied(put(clients.nobody!, 'x'))
  })

  it('readonly reads and lists, and cannot write or delete', async () => {
    const c = clients.reader!
    expect(await get(c, 'readme.txt')).toBe('data of readme.txt')
    expect((await c.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount).toBeGreaterThan(0)
    await denied(put(c, 'readme.txt', 'overwritten'))
    await denied(c.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'readme.txt' })))
    await denied(c.send(new CreateBucketCommand({ Bucket: bucketName('ro') })))
    expect(await get(clients.owner!, 'readme.txt')).toBe('data of readme.txt')
  })

  it('writeonly writes, and cannot read, list or copy out', async () => {
    const c = clients.writer!
    await put(c, 'drop/backup.tar', 'backup')
    await denied(get(c, 'drop/backup.tar'))
    await denied(c.send(new ListObjectsV2Command({ Bucket: bucket })))
    // HEAD answers carry no body: the status says it.
    expect((await sdkError(c.send(new HeadBucketCommand({ Bucket: bucket })))).status).toBe(403)
    // A copy needs read on its source as well as write on its target.
    await denied(
      c.send(new CopyObjectCommand({ Bucket: bucket, Key: 'drop/copy', CopySource: `${bucket}/readme.txt` })),
    )
    expect(await get(clients.owner!, 'drop/backup.tar')).toBe('backup')
  })

  it('a prefix-per-user policy from a file: the user sees and writes only its prefix', async () => {
    const file = join(server.dataDir, 'scoped-policy.json')
    writeFileSync(
      file,
      policyOf(
        {
          Effect: 'Allow',
          Action: 's3:ListBucket',
          Resource: `arn:aws:s3:::${bucket}`,
          Condition: { StringLike: { 's3:prefix': ['home/${aws:username}/*', 'home/${aws:username}/'] } },
        },
        {
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:PutObject'],
          Resource: `arn:aws:s3:::${bucket}/home/\${aws:username}/*`,
        },
      ),
    )
    const { stdout } = await adminRun(server, ['user', 'policy', 'set', creds.scoped!.accessKeyId, file])
    expect(stdout).toContain('home/${aws:username}/*')
    const c = clients.scoped!
    expect(await get(c, 'home/scoped/notes')).toBe('scoped notes')
    await put(c, 'home/scoped/new', 'mine')
    await denied(get(c, 'home/other/notes'))
    await denied(put(c, 'home/other/new'))
    const listed = await c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'home/scoped/' }))
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['home/scoped/new', 'home/scoped/notes'])
    await denied(c.send(new ListObjectsV2Command({ Bucket: bucket })))
    await denied(c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'home/' })))
  })

  it('an explicit Deny in the user policy beats the built-in Allow', async () => {
    await adminJson(server, ['user', 'policy', 'set', creds.careful!.accessKeyId, '--builtin', 'readwrite'])
    const file = join(server.dataDir, 'careful-policy.json')
    writeFileSync(file, policyOf({ Effect: 'Deny', Action: 's3:DeleteObject', Resource: '*' }))
    const p = await adminJson<{ builtinPolicy: string; policy: unknown }>(server, [
      'user',
      'policy',
      'set',
      creds.careful!.accessKeyId,
      file,
    ])
    expect(p.builtinPolicy).toBe('readwrite')
    const c = clients.careful!
    await put(c, 'careful/a')
    await denied(c.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'careful/a' })))
    // DeleteObjects is decided per key: refused keys come back as AccessDenied errors.
    const out = await c.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'careful/a' }] } }))
    expect(out.Errors?.map((e) => [e.Key, e.Code])).toEqual([['careful/a', 'AccessDenied']])
    expect(await get(c, 'careful/a')).toBe('data of careful/a')
  })

  it('user policy get and delete: no policy, no rights', async () => {
    await adminJson(server, ['user', 'policy', 'set', creds.nobody!.accessKeyId, '--builtin', 'readonly'])
    expect(await get(clients.nobody!, 'readme.txt')).toBe('data of readme.txt')
    const got = await adminJson<{ builtinPolicy: string }>(server, ['user', 'policy', 'get', creds.nobody!.accessKeyId])
    expect(got.builtinPolicy).toBe('readonly')
    await adminJson(server, ['user', 'policy', 'delete', creds.nobody!.accessKeyId])
    await denied(get(clients.nobody!, 'readme.txt'))
  })

  it('a malformed user policy is refused with the reason', async () => {
    const file = join(server.dataDir, 'bad-policy.json')
    writeFileSync(file, policyOf({ Effect: 'Allow', Action: 's3:GetObjekt', Resource: '*' }))
    const err = (await adminRun(server, ['user', 'policy', 'set', creds.nobody!.accessKeyId, file]).catch(
      (e) => e,
    )) as {
      stderr: string
    }
    expect(err.stderr).toMatch(/400.*MalformedPolicy.*Policy has invalid action/)
  })
})

describe('bucket policies, public access and anonymous requests', () => {
  const publicRead = () =>
    policyOf({
      Sid: 'PublicRead',
      Effect: 'Allow',
      Principal: '*',
      Action: 's3:GetObject',
      Resource: `arn:aws:s3:::${bucket}/public/*`,
    })

  it('anonymous requests: 403 on a private object, 404 NoSuchBucket on a missing bucket', async () => {
    const priv = await httpsGet(server, `/${bucket}/readme.txt`)
    expect([priv.status, errorCode(priv.body)]).toEqual([403, 'AccessDenied'])
    const missing = await httpsGet(server, `/${bucketName('missing')}/x`)
    expect([missing.status, errorCode(missing.body)]).toEqual([404, 'NoSuchBucket'])
    const list = await httpsGet(server, '/')
    expect([list.status, errorCode(list.body)]).toEqual([403, 'AccessDenied'])
  })

  it('Block Public Access refuses a public policy until the namespace and the bucket allow it', async () => {
    const c = clients.boss!
    // New namespaces and new buckets block public access, as AWS does for new accounts and buckets.
    expect((await c.send(new GetPublicAccessBlockCommand({ Bucket: bucket }))).PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    })
    await denied(c.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: publicRead() })))
    await c.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }))
    const noBlock = await sdkError(c.send(new GetPublicAccessBlockCommand({ Bucket: bucket })))
    expect(noBlock.name).toBe('NoSuchPublicAccessBlockConfiguration')
    // The namespace's own block still refuses it.
    await denied(c.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: publicRead() })))
    const { stdout } = await adminRun(server, ['namespace', 'public-access', NS, '--set', 'off'])
    expect(stdout).toContain('BlockPublicPolicy\toff')
    // readwrite does not include changing who may access a bucket; admin does.
    await denied(clients.owner!.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: publicRead() })))
    await c.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: publicRead() }))
    expect(JSON.parse((await c.send(new GetBucketPolicyCommand({ Bucket: bucket }))).Policy!)).toEqual(
      JSON.parse(publicRead()),
    )
    expect((await c.send(new GetBucketPolicyStatusCommand({ Bucket: bucket }))).PolicyStatus?.IsPublic).toBe(true)
  })

  it('a public-read prefix is served without credentials; nothing else is', async () => {
    const logo = await httpsGet(server, `/${bucket}/public/logo.svg`)
    expect([logo.status, logo.body]).toEqual([200, '<svg/>'])
    const priv = await httpsGet(server, `/${bucket}/readme.txt`)
    expect([priv.status, errorCode(priv.body)]).toEqual([403, 'AccessDenied'])
    // Without s3:ListBucket a missing key is 403, not 404: keys cannot be probed.
    const missing = await httpsGet(server, `/${bucket}/public/nope`)
    expect([missing.status, errorCode(missing.body)]).toEqual([403, 'AccessDenied'])
    const list = await httpsGet(server, `/${bucket}?list-type=2`)
    expect(list.status).toBe(403)
    const write = await rawRequest(server, { method: 'PUT', path: `/${bucket}/public/evil`, body: 'x', sign: false })
    expect([write.status, errorCode(write.body.toString())]).toEqual([403, 'AccessDenied'])
  })

  it('an anonymous write a policy allows is taken; outside it, refused', async () => {
    const c = clients.boss!
    const publicWrite = policyOf({
      Effect: 'Allow',
      Principal: '*',
      Action: 's3:PutObject',
      Resource: `arn:aws:s3:::${bucket}/inbox/*`,
    })
    await c.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: publicWrite }))
    const write = await rawRequest(server, { method: 'PUT', path: `/${bucket}/inbox/x`, body: 'x', sign: false })
    expect(write.status).toBe(200)
    expect(await get(c, 'inbox/x')).toBe('x')
    const outside = await rawRequest(server, { method: 'PUT', path: `/${bucket}/y`, body: 'y', sign: false })
    expect([outside.status, errorCode(outside.body.toString())]).toEqual([403, 'AccessDenied'])
    // PutObject is not DeleteObject.
    const del = await rawRequest(server, { method: 'DELETE', path: `/${bucket}/inbox/x`, sign: false })
    expect(del.status).toBe(403)
    await c.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: publicRead() }))
  })

  it('a user of another namespace is refused whatever the policy says', async () => {
    const c = clients.intruder!
    await denied(get(c, 'public/logo.svg'))
    await denied(c.send(new ListObjectsV2Command({ Bucket: bucket })))
    await denied(c.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: publicRead() })))
  })

  it('RestrictPublicBuckets: the public statement serves nobody anonymous, the namespace still reads', async () => {
    const c = clients.boss!
    await c.send(
      new PutPublicAccessBlockCommand({
        Bucket: bucket,
        PublicAccessBlockConfiguration: { RestrictPublicBuckets: true },
      }),
    )
    expect((await httpsGet(server, `/${bucket}/public/logo.svg`)).status).toBe(403)
    await c.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }))
    expect((await httpsGet(server, `/${bucket}/public/logo.svg`)).status).toBe(200)
  })

  it('a bucket policy grants another user of the namespace; its Deny beats any Allow', async () => {
    const c = clients.boss!
    await c.send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: policyOf(
          {
            Sid: 'Nobody',
            Effect: 'Allow',
            Principal: { AWS: creds.nobody!.arn },
            Action: 's3:GetObject',
            Resource: `arn:aws:s3:::${bucket}/readme.txt`,
          },
          {
            Sid: 'Lock',
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:PutObject',
            Resource: `arn:aws:s3:::${bucket}/locked/*`,
          },
        ),
      }),
    )
    expect(await get(clients.nobody!, 'readme.txt')).toBe('data of readme.txt')
    await denied(get(clients.nobody!, 'public/logo.svg'))
    await denied(put(clients.owner!, 'locked/x'))
    await denied(put(clients.boss!, 'locked/x'))
    await put(clients.owner!, 'unlocked/x')
    // The grant names a user of this namespace only.
    await denied(get(clients.intruder!, 'readme.txt'))
    await c.send(new DeleteBucketPolicyCommand({ Bucket: bucket }))
    await denied(get(clients.nobody!, 'readme.txt'))
  })

  it('conditions: aws:SecureTransport is never false on a TLS-only server; aws:SourceIp sees 127.0.0.1', async () => {
    const c = clients.boss!
    const grant = (condition: Record<string, unknown>) =>
      c.send(
        new PutBucketPolicyCommand({
          Bucket: bucket,
          Policy: policyOf({
            Effect: 'Allow',
            Principal: { AWS: creds.nobody!.arn },
            Action: 's3:GetObject',
            Resource: `arn:aws:s3:::${bucket}/*`,
            Condition: condition,
          }),
        }),
      )
    await grant({ Bool: { 'aws:SecureTransport': 'false' } })
    await denied(get(clients.nobody!, 'readme.txt'))
    await grant({ Bool: { 'aws:SecureTransport': 'true' }, IpAddress: { 'aws:SourceIp': '127.0.0.1/32' } })
    expect(await get(clients.nobody!, 'readme.txt')).toBe('data of readme.txt')
    await grant({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } })
    await denied(get(clients.nobody!, 'readme.txt'))
    await c.send(new DeleteBucketPolicyCommand({ Bucket: bucket }))
  })

  it('a malformed bucket policy is refused with MalformedPolicy and the reason', async () => {
    const err = await sdkError(
      clients.boss!.send(
        new PutBucketPolicyCommand({
          Bucket: bucket,
          Policy: policyOf({
            Effect: 'Allow',
            Principal: '*',
            Action: 's3:GetObject',
            Resource: 'arn:aws:s3:::elsewhere/*',
          }),
        }),
      ),
    )
    expect([err.status, err.name, err.message]).toEqual([400, 'MalformedPolicy', 'Policy has invalid resource'])
    const none = await sdkError(clients.boss!.send(new GetBucketPolicyCommand({ Bucket: bucket })))
    expect([none.status, none.name]).toEqual([404, 'NoSuchBucketPolicy'])
  })
})

describe('ownership controls and canned ACLs', () => {
  it('new buckets have ACLs disabled: a public canned ACL is refused, private is accepted', async () => {
    const c = clients.owner!
    const own = await c.send(new GetBucketOwnershipControlsCommand({ Bucket: bucket }))
    expect(own.OwnershipControls?.Rules?.[0]?.ObjectOwnership).toBe('BucketOwnerEnforced')
    const err = await sdkError(
      c.send(new PutObjectCommand({ Bucket: bucket, Key: 'acl/x', Body: 'x', ACL: 'public-read' })),
    )
    expect([err.status, err.name]).toEqual([400, 'AccessControlListNotSupported'])
    await c.send(new PutObjectCommand({ Bucket: bucket, Key: 'acl/x', Body: 'x', ACL: 'private' }))
    const created = await sdkError(c.send(new CreateBucketCommand({ Bucket: bucketName('pub'), ACL: 'public-read' })))
    expect([created.status, created.name]).toEqual([400, 'InvalidBucketAclWithObjectOwnership'])
  })
})
