import { afterEach, describe, expect, it } from 'vitest'
import { parseAclText } from '../policy/acl.ts'
import { isTagList } from '../meta/rows.ts'
import { bootstrapLayout, parseClusterLayout, withNode } from '../storage/cluster-layout.ts'
import { parseDataLayout } from '../storage/index.ts'
import { pseudoRandom } from '../storage/erasure-storage.testkit.ts'
import { streamFromBytes } from '../util/streams.ts'
import * as meta from '../meta/index.ts'
import { putBucketPublicAccessBlock } from './bucket-access.ts'
import { type CorsRule, getBucketCors, putBucketCors } from './bucket-cors.ts'
import { getBucketEncryption, putBucketEncryption } from './bucket-encryption.ts'
import { createBucket } from './buckets.ts'
import { parseEncryptionRecord } from './encryption.ts'
import { type GcRig, openGcRig } from './gc.testkit.ts'
import { decodeLifecycle, type LifecycleRule } from './lifecycle/rules.ts'
import { putBucketLifecycle } from './lifecycle/config.ts'
import { completeUpload } from './multipart-complete.ts'
import { createUpload, uploadPart } from './multipart.ts'
import { decodeBucketLock, decodeVersionLock, encodeBucketLock } from './object-lock.ts'
import { parsePublicAccessBlock } from './public-access.ts'
import { putObject } from './put-object.ts'
import { isShardGarbage, shardGarbage } from './rebalance/garbage.ts'
import { parseSegmentCrypto, parseStoredData } from './stored-data.ts'
import { putBucketTagging } from './tagging.ts'

// FORMAT golden texts of the JSON Coffer keeps in metadata columns (docs/formats.md §4). Each
// stands for rows already stored by this version: a later Coffer must read every one of them
// as it reads them today, so never edit a text here — a new shape is a new `v` with a golden
// text of its own beside the old one. The second half checks that what today's code writes has
// exactly these shapes (names, nesting and types; the values are random ids, keys and times).

const GOLDEN = {
  /** objects.layout of a PutObject on shards, encrypted (sse-s3), 4+2. */
  storedData:
    '{"v":1,"segments":[{"size":300000,"layout":{"v":1,"scheme":"rs","id":"0f6c2b3e-7d51-4a4e-9d0b-3c1f2a8e5b11",' +
    '"size":300080,"k":4,"m":2,"blockSize":262144,"checksum":2,"stores":["drive-3","drive-0","drive-5","drive-1",' +
    '"drive-4","drive-2"]},"crypto":{"prefix":"q83vEjRWeJA=","partNumber":0}}]}',
  /** objects.layout of a small object kept in the metadata (inline_data row `id`). */
  inlineData:
    '{"v":1,"segments":[{"size":100,"inline":{"id":"7a9e0c55-0b2f-4c8e-a1d3-5e6f7a8b9c0d","crc32":2863311530,' +
    '"length":116},"crypto":{"prefix":"AAECAwQFBgc=","partNumber":0}}]}',
  /** objects.layout of a completed multipart upload: one segment per part, in order. */
  multipartData:
    '{"v":1,"segments":[{"size":5242880,"layout":{"v":1,"scheme":"rs","id":"a1","size":5244160,"k":4,"m":2,' +
    '"blockSize":262144,"checksum":2,"stores":["drive-0","drive-1","drive-2","drive-3","drive-4","drive-5"]},' +
    '"crypto":{"prefix":"AAAAAAAAAAA=","partNumber":1}},{"size":10,"layout":{"v":1,"scheme":"rs","id":"a2",' +
    '"size":26,"k":4,"m":2,"blockSize":262144,"checksum":2,"stores":["drive-1","drive-2","drive-3","drive-4",' +
    '"drive-5","drive-0"]},"crypto":{"prefix":"AQEBAQEBAQE=","partNumber":2}}]}',
  /** objects.parts of that upload's object. */
  parts: '[{"partNumber":1,"size":5242880,"etag":"e1"},{"partNumber":2,"size":10,"etag":"e2"}]',
  /** objects.encryption, SSE-S3 under the namespace key, and SSE-KMS. */
  sseS3:
    '{"v":1,"mode":"sse-s3","ns":"default","nsKeyVersion":1,"objectId":"5d1c0b2a-3e4f-4a5b-8c6d-7e8f9a0b1c2d",' +
    '"wrappedKey":"AQID"}',
  sseKms:
    '{"v":1,"mode":"sse-kms","ns":"default","nsKeyVersion":0,"objectId":"o2","wrappedKey":"AQID",' +
    '"kmsKeyId":"1b4e28ba-2fa1-4d2e-8f3c-0f1e2d3c4b5a","kmsKeyArn":"arn:aws:kms:us-east-1:000000000000:key/' +
    '1b4e28ba-2fa1-4d2e-8f3c-0f1e2d3c4b5a","kmsContext":"{}","sseAlgorithm":"aws:kms","bucketKeyEnabled":true}',
  /** objects.encryption of an SSE-C object: wrapped by the customer's key, its fingerprint kept. */
  sseC:
    '{"v":1,"mode":"sse-c","ns":"default","nsKeyVersion":0,"objectId":"0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f",' +
    '"wrappedKey":"AQID","sseCFingerprint":"4f2a9c1e0b3d5a7c9e1f2b4d6a8c0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d"}',
  /** objects.checksum: a single PUT's full-object checksum, and a multipart object's composite one. */
  checksumFull: '{"algorithm":"CRC32","type":"FULL_OBJECT","value":"NSRBwg=="}',
  checksumComposite:
    '{"algorithm":"SHA256","type":"COMPOSITE","value":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=-2","partCount":2}',
  /** objects.headers and objects.user_meta (lower-case names, string values). */
  headers: '{"cache-control":"max-age=60","content-disposition":"attachment; filename=\\"r\u00e9sum\u00e9.txt\\""}',
  userMeta: '{"owner":"ops","note":"caf\u00e9"}',
  /** objects.lock: retention and legal hold; buckets.object_lock without and with a default. */
  versionLock: '{"v":1,"retention":{"mode":"GOVERNANCE","until":4102444800000},"legalHold":true}',
  bucketLock: '{"v":1}',
  bucketLockDefault: '{"v":1,"defaultRetention":{"mode":"COMPLIANCE","days":30}}',
  /** objects.tags, buckets.tags. */
  tags: '[{"key":"project","value":"coffer"},{"key":"empty","value":""}]',
  /** buckets.lifecycle. */
  lifecycle:
    '{"v":1,"rules":[{"id":"expire-logs","enabled":true,"filter":{"prefix":"logs/","tags":[]},' +
    '"expiration":{"days":30},"noncurrentExpiration":{"noncurrentDays":7},"abortAfterDays":2}]}',
  /** buckets.public_access_block (and the namespace's). */
  publicAccessBlock:
    '{"BlockPublicAcls":true,"IgnorePublicAcls":false,"BlockPublicPolicy":true,"RestrictPublicBuckets":false}',
  /** buckets.acl / objects.acl. */
  acl:
    '{"owner":"c0ffee","grants":[{"grantee":{"type":"CanonicalUser","id":"c0ffee"},"permission":"FULL_CONTROL"},' +
    '{"grantee":{"type":"Group","uri":"http://acs.amazonaws.com/groups/global/AllUsers"},"permission":"READ"}]}',
  /** cluster_layouts.layout. */
  clusterLayout:
    '{"v":1,"version":2,"nodes":[{"id":"https://10.0.1.5:9100","address":"https://10.0.1.5:9100",' +
    '"capacity":1099511627776,"zone":"https://10.0.1.5:9100","state":"active"},{"id":"https://10.0.1.6:9100",' +
    '"address":"https://10.0.1.6:9100","capacity":2199023255552,"zone":"dc1-a","state":"active","rack":"r3"}]}',
  /** settings['bucket-cors/<bucket id>'] and settings['bucket-encryption/<bucket id>']. */
  cors:
    '[{"id":"web","allowedOrigins":["https://app.example"],"allowedMethods":["GET","PUT"],' +
    '"allowedHeaders":["*"],"exposeHeaders":["ETag"],"maxAgeSeconds":600}]',
  bucketEncryption: '{"v":1,"algorithm":"aws:kms","kmsKeyId":"alias/backups","bucketKeyEnabled":true}',
  /** gc_queue.layout of a shard a move left behind. */
  shardGarbage: '{"v":1,"shard":{"id":"0f6c2b3e","index":4,"store":"https://10.0.1.5:9100"}}',
} as const

/** The rule GOLDEN.lifecycle holds, as PutBucketLifecycleConfiguration gives it. */
const LIFECYCLE_RULE: LifecycleRule = {
  id: 'expire-logs',
  enabled: true,
  filter: { prefix: 'logs/', tags: [] },
  expiration: { days: 30 },
  noncurrentExpiration: { noncurrentDays: 7 },
  abortAfterDays: 2,
}

const parsed = (text: string): unknown => JSON.parse(text)

describe('stored JSON: the golden texts are read as today', () => {
  it('object data: shards, inline, multipart, and a part row’s crypto', () => {
    const data = parseStoredData(parsed(GOLDEN.storedData), 'golden')
    const seg = data.segments[0]!
    expect(seg.size).toBe(300_000)
    if (!('layout' in seg)) throw new Error('a shard segment')
    expect(seg.layout).toEqual({
      v: 1,
      scheme: 'rs',
      id: '0f6c2b3e-7d51-4a4e-9d0b-3c1f2a8e5b11',
      size: 300_080,
      k: 4,
      m: 2,
      blockSize: 262_144,
      checksum: 2,
      stores: ['drive-3', 'drive-0', 'drive-5', 'drive-1', 'drive-4', 'drive-2'],
    })
    expect(seg.crypto).toEqual({ prefix: 'q83vEjRWeJA=', partNumber: 0 })
    expect(parseDataLayout(seg.layout)).toBe(seg.layout)

    const inline = parseStoredData(parsed(GOLDEN.inlineData), 'golden').segments[0]!
    expect('inline' in inline && inline.inline).toEqual({
      id: '7a9e0c55-0b2f-4c8e-a1d3-5e6f7a8b9c0d',
      crc32: 2_863_311_530,
      length: 116,
    })

    const multi = parseStoredData(parsed(GOLDEN.multipartData), 'golden')
    expect(multi.segments.map((s) => [s.size, s.crypto?.partNumber])).toEqual([
      [5_242_880, 1],
      [10, 2],
    ])
    expect(parseSegmentCrypto({ prefix: 'AQEBAQEBAQE=', partNumber: 2 }, 'golden')).toEqual({
      prefix: 'AQEBAQEBAQE=',
      partNumber: 2,
    })
  })

  it('encryption records', () => {
    expect(parseEncryptionRecord(parsed(GOLDEN.sseS3), 'golden')).toEqual({
      v: 1,
      mode: 'sse-s3',
      ns: 'default',
      nsKeyVersion: 1,
      objectId: '5d1c0b2a-3e4f-4a5b-8c6d-7e8f9a0b1c2d',
      wrappedKey: 'AQID',
    })
    const kms = parseEncryptionRecord(parsed(GOLDEN.sseKms), 'golden')
    expect(kms).toMatchObject({
      mode: 'sse-kms',
      kmsKeyId: '1b4e28ba-2fa1-4d2e-8f3c-0f1e2d3c4b5a',
      kmsContext: '{}',
      sseAlgorithm: 'aws:kms',
      bucketKeyEnabled: true,
    })
    expect(parseEncryptionRecord(parsed(GOLDEN.sseC), 'golden')).toEqual({
      v: 1,
      mode: 'sse-c',
      ns: 'default',
      nsKeyVersion: 0,
      objectId: '0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f',
      wrappedKey: 'AQID',
      sseCFingerprint: '4f2a9c1e0b3d5a7c9e1f2b4d6a8c0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d',
    })
  })

  it('locks, tags, lifecycle, public access, ACLs', () => {
    expect(decodeVersionLock(parsed(GOLDEN.versionLock), 'golden')).toEqual({
      retention: { mode: 'GOVERNANCE', until: new Date(4_102_444_800_000) },
      legalHold: true,
    })
    expect(decodeBucketLock(parsed(GOLDEN.bucketLock), 'golden')).toEqual({})
    expect(decodeBucketLock(parsed(GOLDEN.bucketLockDefault), 'golden')).toEqual({
      defaultRetention: { mode: 'COMPLIANCE', days: 30 },
    })
    expect(isTagList(parsed(GOLDEN.tags))).toBe(true)
    expect(decodeLifecycle(parsed(GOLDEN.lifecycle))).toEqual({ v: 1, rules: [LIFECYCLE_RULE] })
    expect(parsePublicAccessBlock(GOLDEN.publicAccessBlock)).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: false,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: false,
    })
    expect(parseAclText(GOLDEN.acl, 'someone-else')).toEqual({
      owner: 'c0ffee',
      grants: [
        { grantee: { type: 'CanonicalUser', id: 'c0ffee' }, permission: 'FULL_CONTROL' },
        { grantee: { type: 'Group', uri: 'http://acs.amazonaws.com/groups/global/AllUsers' }, permission: 'READ' },
      ],
    })
  })

  it('cluster layouts and shard garbage', () => {
    const layout = parseClusterLayout(parsed(GOLDEN.clusterLayout))
    expect(layout.version).toBe(2)
    expect(layout.nodes.map((n) => [n.id, n.capacity, n.zone, n.rack, n.state])).toEqual([
      ['https://10.0.1.5:9100', 1_099_511_627_776, 'https://10.0.1.5:9100', undefined, 'active'],
      ['https://10.0.1.6:9100', 2_199_023_255_552, 'dc1-a', 'r3', 'active'],
    ])
    expect(isShardGarbage(parsed(GOLDEN.shardGarbage))).toBe(true)
  })
})

/**
 * The shape of a JSON value: every object's keys (sorted) with the shapes of their values, arrays
 * element by element, and each leaf's type — except the fields whose value is itself the format
 * (`v`, `scheme`, `mode`, …), which must match exactly.
 */
const LITERAL = new Set(['v', 'scheme', 'mode', 'checksum', 'state', 'type', 'permission', 'sseAlgorithm', 'k', 'm'])
function shape(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) return v.map((e) => shape(e))
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, shape((v as Record<string, unknown>)[k], k)]),
    )
  return LITERAL.has(key) ? v : typeof v
}

let g: GcRig | undefined
afterEach(async () => {
  await g?.close()
  g = undefined
})

type Raw = Record<string, string | number | null>
async function rows(rig: GcRig, sql: string): Promise<Raw[]> {
  const client = (rig.svc.db as unknown as { $client: { execute(sql: string): Promise<{ rows: unknown[] }> } }).$client
  return (await client.execute(sql)).rows as Raw[]
}
const json = (v: string | number | null | undefined): unknown => JSON.parse(String(v))

describe('stored JSON: what today’s code writes has the golden shapes', () => {
  it('object rows and bucket settings written through the service', async () => {
    g = await openGcRig({ inlineMax: 4096 })
    const { svc, actor } = g
    await createBucket(svc, actor, 'locked', 'us-east-1', { objectLock: true })
    await createBucket(svc, actor, 'plain', 'us-east-1')
    const body = pseudoRandom(300_000, 1)
    await putObject(svc, actor, {
      bucket: 'locked',
      key: 'big',
      body: streamFromBytes(body, 65_536),
      digests: () => ({ etag: '"e"' }),
      headers: {},
      userMeta: {},
      lockRequest: {
        retention: { mode: 'GOVERNANCE', until: new Date(4_102_444_800_000) },
        legalHold: true,
        integrity: true,
      },
      tags: [
        { key: 'project', value: 'coffer' },
        { key: 'empty', value: '' },
      ],
    })
    await putObject(svc, actor, {
      bucket: 'plain',
      key: 'small',
      body: streamFromBytes(pseudoRandom(100, 2), 100),
      length: 100, // a declared length is what lets a write go inline
      digests: () => ({ etag: '"s"' }),
      headers: {},
      userMeta: {},
    })
    const upload = await createUpload(svc, actor, { bucket: 'plain', key: 'multi', headers: {}, userMeta: {} })
    const address = { bucket: 'plain', key: 'multi', uploadId: upload.uploadId }
    const sizes = [5 * 2 ** 20, 10]
    for (const [i, size] of sizes.entries()) {
      await uploadPart(svc, actor, {
        ...address,
        partNumber: i + 1,
        body: streamFromBytes(pseudoRandom(size, 3 + i), 1 << 20),
        digests: () => ({ etag: `"e${i + 1}"` }),
      })
    }
    await completeUpload(svc, actor, {
      ...address,
      parts: sizes.map((_, i) => ({ partNumber: i + 1, etag: `"e${i + 1}"`, checksums: {} })),
      conditions: {},
    })
    await putBucketLifecycle(svc, actor, 'plain', [LIFECYCLE_RULE])
    await putBucketPublicAccessBlock(svc, actor, 'plain', {
      BlockPublicAcls: true,
      IgnorePublicAcls: false,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: false,
    })
    await putBucketTagging(svc, actor, 'plain', [
      { key: 'project', value: 'coffer' },
      { key: 'empty', value: '' },
    ])

    const objs = new Map(
      (await rows(g, 'select key, layout, encryption, lock, tags, parts from objects')).map((r) => [String(r.key), r]),
    )
    const big = objs.get('big')!
    // The layout's store order and the ciphertext size depend on the key and the write id: shape only.
    expect(shape(json(big.layout))).toEqual(shape(json(GOLDEN.storedData)))
    expect(shape(json(big.encryption))).toEqual(shape(json(GOLDEN.sseS3)))
    expect(json(big.lock)).toEqual(json(GOLDEN.versionLock))
    expect(json(big.tags)).toEqual(json(GOLDEN.tags))
    expect(shape(json(objs.get('small')!.layout))).toEqual(shape(json(GOLDEN.inlineData)))
    const multi = objs.get('multi')!
    expect(shape(json(multi.layout))).toEqual(shape(json(GOLDEN.multipartData)))
    expect(shape(json(multi.parts))).toEqual(shape(json(GOLDEN.parts)))

    const buckets = new Map(
      (await rows(g, 'select name, object_lock, lifecycle, public_access_block, tags from buckets')).map((r) => [
        String(r.name),
        r,
      ]),
    )
    expect(json(buckets.get('locked')!.object_lock)).toEqual(json(GOLDEN.bucketLock))
    const plain = buckets.get('plain')!
    expect(plain.lifecycle).toBe(GOLDEN.lifecycle)
    expect(plain.public_access_block).toBe(GOLDEN.publicAccessBlock)
    expect(json(plain.tags)).toEqual(json(GOLDEN.tags))
  })

  it('bucket settings rows: written as the golden texts, and those texts read back', async () => {
    g = await openGcRig()
    const { svc, actor } = g
    await createBucket(svc, actor, 'written', 'us-east-1')
    await createBucket(svc, actor, 'stored', 'us-east-1')
    await putBucketCors(svc, actor, 'written', json(GOLDEN.cors) as CorsRule[])
    await putBucketEncryption(svc, actor, 'written', {
      algorithm: 'aws:kms',
      kmsKeyId: 'alias/backups',
      bucketKeyEnabled: true,
    })
    const ids = new Map((await rows(g, 'select name, id from buckets')).map((r) => [String(r.name), String(r.id)]))
    const setting = async (key: string) => (await meta.getSetting(svc.db, key)) ?? null
    expect(await setting(`bucket-cors/${ids.get('written')}`)).toBe(GOLDEN.cors)
    expect(await setting(`bucket-encryption/${ids.get('written')}`)).toBe(GOLDEN.bucketEncryption)

    // Rows as an earlier gateway left them: the texts alone, read through the use cases.
    await meta.setSetting(svc.db, `bucket-cors/${ids.get('stored')}`, GOLDEN.cors)
    await meta.setSetting(svc.db, `bucket-encryption/${ids.get('stored')}`, GOLDEN.bucketEncryption)
    expect(await getBucketCors(svc, actor, 'stored')).toEqual([
      {
        id: 'web',
        allowedOrigins: ['https://app.example'],
        allowedMethods: ['GET', 'PUT'],
        allowedHeaders: ['*'],
        exposeHeaders: ['ETag'],
        maxAgeSeconds: 600,
      },
    ])
    expect(await getBucketEncryption(svc, actor, 'stored')).toEqual({
      v: 1,
      algorithm: 'aws:kms',
      kmsKeyId: 'alias/backups',
      bucketKeyEnabled: true,
    })
  })

  it('object row columns (checksum, headers, user metadata, SSE-C and SSE-KMS records): written, and golden rows read', async () => {
    g = await openGcRig()
    const { svc, actor } = g
    await createBucket(svc, actor, 'cols', 'us-east-1')
    const put = (key: string, extra: Partial<Parameters<typeof putObject>[2]>) =>
      putObject(svc, actor, {
        bucket: 'cols',
        key,
        body: streamFromBytes(pseudoRandom(1000, 4), 1000),
        digests: () => ({ etag: '"c"', checksum: { algorithm: 'CRC32', type: 'FULL_OBJECT', value: 'NSRBwg==' } }),
        headers: json(GOLDEN.headers) as Record<string, string>,
        userMeta: json(GOLDEN.userMeta) as Record<string, string>,
        ...extra,
      })
    await put('customer', { sseC: { key: new Uint8Array(32).fill(9) } })
    await put('kms', { sse: { algorithm: 'aws:kms' } })
    const objs = new Map(
      (await rows(g, 'select key, checksum, headers, user_meta, encryption from objects')).map((r) => [
        String(r.key),
        r,
      ]),
    )
    const customer = objs.get('customer')!
    expect(customer.checksum).toBe(GOLDEN.checksumFull)
    expect(customer.headers).toBe(GOLDEN.headers)
    expect(customer.user_meta).toBe(GOLDEN.userMeta)
    expect(shape(json(customer.encryption))).toEqual(shape(json(GOLDEN.sseC)))
    const kms = json(objs.get('kms')!.encryption) as Record<string, unknown>
    // The managed default key (alias/aws/s3) takes no bucket key: the golden's optional field is absent.
    const { bucketKeyEnabled: _, ...kmsGolden } = json(GOLDEN.sseKms) as Record<string, unknown>
    expect(shape(kms)).toEqual(shape(kmsGolden))

    // Rows as an earlier gateway left them: the golden texts in the columns, read as a GET reads them.
    const client = (svc.db as unknown as { $client: { execute(q: { sql: string; args: string[] }): Promise<unknown> } })
      .$client
    await client.execute({
      sql: "update objects set checksum = ?, headers = ?, user_meta = ? where key = 'customer'",
      args: [GOLDEN.checksumComposite, GOLDEN.headers, GOLDEN.userMeta],
    })
    const row = (await meta.getObject(svc.db, 'cols', 'customer'))!
    expect(row.checksum).toEqual({
      algorithm: 'SHA256',
      type: 'COMPOSITE',
      value: '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=-2',
      partCount: 2,
    })
    expect(row.headers).toEqual({
      'cache-control': 'max-age=60',
      'content-disposition': 'attachment; filename="résumé.txt"',
    })
    expect(row.userMeta).toEqual({ owner: 'ops', note: 'café' })
    await client.execute({
      sql: "update objects set checksum = ? where key = 'customer'",
      args: [GOLDEN.checksumFull],
    })
    expect((await meta.getObject(svc.db, 'cols', 'customer'))!.checksum).toEqual({
      algorithm: 'CRC32',
      type: 'FULL_OBJECT',
      value: 'NSRBwg==',
    })
  })

  it('cluster layouts as bootstrap and `node add` make them', () => {
    const first = bootstrapLayout(['https://10.0.1.5:9100'])
    const next = withNode(first, {
      id: 'https://10.0.1.6:9100',
      address: 'https://10.0.1.6:9100',
      capacity: 2 * 1024 ** 4,
      zone: 'dc1-a',
      rack: 'r3',
    })
    expect(JSON.stringify(next)).toBe(GOLDEN.clusterLayout)
  })

  it('shard garbage and bucket lock defaults as their encoders make them', () => {
    expect(JSON.stringify(shardGarbage('0f6c2b3e', 4, 'https://10.0.1.5:9100'))).toBe(GOLDEN.shardGarbage)
    expect(JSON.stringify(encodeBucketLock({ defaultRetention: { mode: 'COMPLIANCE', days: 30 } }))).toBe(
      GOLDEN.bucketLockDefault,
    )
  })
})
