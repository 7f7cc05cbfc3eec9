/**
 * Black-box: POST Object (browser-based form uploads) with forms made by boto3's
 * `generate_presigned_post` — SigV4 and SigV2 — sent as multipart/form-data by curl (which streams
 * the file part), against a real server over TLS: the object arrives byte for byte, the success
 * answers are S3's, and the policy's conditions are enforced.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CreateBucketCommand, GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { boto3, type Boto3Call, describeWithBoto3 } from '../helpers/boto3.ts'
import { findOnPath } from '../helpers/clients.ts'
import { errorCode } from '../helpers/raw.ts'
import { s3Client } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

const run = promisify(execFile)

describeWithBoto3('POST Object: browser form uploads signed by boto3', (python) => {
  let server: TestServer
  let dir: string
  let caFile: string
  let photo: string
  const bytes = randomBytes(3 * 1024 * 1024 + 17)
  beforeAll(async () => {
    server = await startServer()
    dir = await mkdtemp(join(tmpdir(), 'coffer-post-'))
    caFile = join(dir, 'ca.pem')
    photo = join(dir, 'holiday photo.jpg')
    await writeFile(caFile, server.caPem)
    await writeFile(photo, bytes)
    await s3Client(server).send(new CreateBucketCommand({ Bucket: 'forms' }))
  })
  afterAll(async () => {
    await server?.stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  /** A form from boto3, then curl -F (fields in order, the file last); returns status, headers and body. */
  async function post(call: Omit<Boto3Call, 'op' | 'bucket'>, extra: [string, string][] = [], file = photo) {
    const form = await boto3(python, server, caFile, { op: 'presign_post', bucket: 'forms', ...call })
    expect(form.url).toBeDefined()
    const args = ['-sS', '--cacert', caFile, '-D', '-', '-o', join(dir, 'body.out'), '-w', '%{http_code}']
    for (const [k, v] of [...Object.entries(form.fields!), ...extra]) args.push('--form-string', `${k}=${v}`)
    args.push('-F', `file=@${file};type=image/jpeg`)
    const { stdout } = await run(findOnPath('curl')!, [...args, form.url!], { timeout: 60_000 })
    const status = Number(stdout.slice(-3))
    const body = await readFile(join(dir, 'body.out'), 'utf8')
    return { status, head: stdout.toLowerCase(), body }
  }
  const stored = async (key: string) => {
    const got = await s3Client(server).send(new GetObjectCommand({ Bucket: 'forms', Key: key }))
    return { bytes: Buffer.from(await got.Body!.transformToByteArray()), type: got.ContentType, meta: got.Metadata }
  }

  // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's literal ${filename} form variable
  it('SigV4 form with ${filename}, content-length-range, Content-Type and metadata: 204, stored byte for byte', async () => {
    const r = await post({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's literal ${filename} form variable
      key: 'uploads/${filename}',
      fields: { 'Content-Type': 'image/jpeg', 'x-amz-meta-album': 'summer' },
      conditions: [
        ['starts-with', '$key', 'uploads/'],
        ['content-length-range', 1, 10 * 1024 * 1024],
        { 'Content-Type': 'image/jpeg' },
        { 'x-amz-meta-album': 'summer' },
      ],
    })
    expect(r.status, r.body).toBe(204)
    expect(r.head).toMatch(/etag: "[0-9a-f]{32}"/)
    const got = await stored('uploads/holiday photo.jpg')
    expect(got.bytes.equals(bytes)).toBe(true)
    expect(got.type).toBe('image/jpeg')
    expect(got.meta).toEqual({ album: 'summer' })
  })

  it('success_action_status 201 answers a PostResponse; success_action_redirect answers 303 to it', async () => {
    const created = await post({
      key: 'status-201',
      fields: { success_action_status: '201' },
      conditions: [{ success_action_status: '201' }],
    })
    expect(created.status).toBe(201)
    expect(created.body).toContain('<Key>status-201</Key>')
    expect(created.body).toContain('<Bucket>forms</Bucket>')
    const redirected = await post({
      key: 'redirected',
      fields: { success_action_redirect: 'https://app.example/done' },
      conditions: [{ success_action_redirect: 'https://app.example/done' }],
    })
    expect(redirected.status).toBe(303)
    expect(redirected.head).toMatch(/location: https:\/\/app\.example\/done\?bucket=forms&key=redirected&etag=/)
  })

  it('the tagging field (a Tagging XML document, as on AWS) tags the object; a tag set AWS refuses stores nothing', async () => {
    const tagging =
      '<Tagging><TagSet><Tag><Key>source</Key><Value>browser form</Value></Tag>' +
      '<Tag><Key>n</Key><Value>1</Value></Tag></TagSet></Tagging>'
    const r = await post({ key: 'tagged-form', fields: { tagging }, conditions: [{ tagging }] })
    expect(r.status, r.body).toBe(204)
    const got = await s3Client(server).send(new GetObjectTaggingCommand({ Bucket: 'forms', Key: 'tagged-form' }))
    expect(got.TagSet).toEqual([
      { Key: 'source', Value: 'browser form' },
      { Key: 'n', Value: '1' },
    ])
    const eleven = `<Tagging><TagSet>${Array.from({ length: 11 }, (_, i) => `<Tag><Key>k${i}</Key><Value>v</Value></Tag>`).join('')}</TagSet></Tagging>`
    const refused = await post({ key: 'too-many-tags', fields: { tagging: eleven }, conditions: [{ tagging: eleven }] })
    expect([refused.status, errorCode(refused.body)]).toEqual([400, 'InvalidTag'])
    const head = s3Client(server).send(new HeadObjectCommand({ Bucket: 'forms', Key: 'too-many-tags' }))
    await expect(head).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } })
    const malformed = '<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>'
    const bad = await post({ key: 'bad-tags', fields: { tagging: malformed }, conditions: [{ tagging: malformed }] })
    expect([bad.status, errorCode(bad.body)]).toEqual([400, 'MalformedXML'])
  })

  it('SigV2 form (signature_version s3) uploads too', async () => {
    const r = await post({ key: 'v2-form', signature_version: 's3' })
    expect(r.status, r.body).toBe(204)
    expect((await stored('v2-form')).bytes.equals(bytes)).toBe(true)
  })

  it('refuses what the policy does not allow, as S3 does, and stores nothing', async () => {
    const big = await post({ key: 'too-big', conditions: [['content-length-range', 1, 1024 * 1024]] })
    expect([big.status, errorCode(big.body)]).toEqual([400, 'EntityTooLarge'])
    const extra = await post({ key: 'extra' }, [['x-amz-meta-sneaky', '1']])
    expect([extra.status, errorCode(extra.body)]).toEqual([403, 'AccessDenied'])
    expect(extra.body).toContain('Invalid according to Policy: Extra input fields: x-amz-meta-sneaky')
    const wrongKey = await post({ key: 'other/x', conditions: [['starts-with', '$key', 'uploads/']] })
    expect([wrongKey.status, errorCode(wrongKey.body)]).toEqual([403, 'AccessDenied'])
    const badSecret = await post({ key: 'bad-secret', sk: 'not-the-secret' })
    expect([badSecret.status, errorCode(badSecret.body)]).toEqual([403, 'SignatureDoesNotMatch'])
    for (const key of ['too-big', 'extra', 'other/x', 'bad-secret']) {
      const gone = await s3Client(server)
        .send(new GetObjectCommand({ Bucket: 'forms', Key: key }))
        .then(
          () => 'stored',
          (e: { name: string }) => e.name,
        )
      expect(gone, key).toBe('NoSuchKey')
    }
  })
})
