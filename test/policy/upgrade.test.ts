/**
 * Upgrading a deployment from before access control, black box: a real server writes users,
 * buckets and objects; its metadata file is taken back to the schema of migration 0005 (every
 * column added by 0006 and later dropped, their records removed — what the file of a pre-0006
 * version holds); a server of this version then starts on it. Users that existed keep what they
 * had (readwrite in their namespace), root keeps everything, and the data reads as before.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetBucketOwnershipControlsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import { createClient } from '@libsql/client'
import { afterAll, expect, it } from 'vitest'
import { migrationsFolder } from '../../src/meta/migrate.ts'
import { adminJson, type Credentials } from '../helpers/admin.ts'
import { bodyBytes, bucketName, s3Client, sdkError } from '../helpers/s3-client.ts'
import { randomCredentials, startServer, type TestServer } from '../helpers/server.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'coffer-upgrade-'))
const root = randomCredentials()
const env = { COFFER_ROOT_ACCESS_KEY: root.accessKeyId, COFFER_ROOT_SECRET_KEY: root.secretAccessKey }
let server: TestServer | undefined

afterAll(async () => {
  await server?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

/** Takes the metadata file back to the schema before `_access_control` (migrations up to 0005). */
async function downgradeToBeforeAccessControl(): Promise<void> {
  const folder = migrationsFolder()
  const journal = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8')) as {
    entries: { tag: string; when: number }[]
  }
  const first = journal.entries.findIndex((e) => e.tag.endsWith('_access_control'))
  expect(first).toBeGreaterThan(0)
  const drops: string[] = []
  for (const e of journal.entries.slice(first)) {
    const sql = readFileSync(join(folder, `${e.tag}.sql`), 'utf8')
    for (const m of sql.matchAll(/ALTER TABLE `(\w+)` ADD `(\w+)`/g))
      drops.push(`ALTER TABLE \`${m[1]}\` DROP COLUMN \`${m[2]}\``)
    // Tables later migrations create (kms_keys, cluster_layouts, …) go too, with their indexes.
    for (const m of sql.matchAll(/CREATE TABLE `(\w+)`/g)) drops.push(`DROP TABLE \`${m[1]}\``)
  }
  const client = createClient({ url: `file:${join(dataDir, 'meta.db')}` })
  try {
    await client.batch(
      [
        ...drops,
        { sql: 'DELETE FROM "__drizzle_migrations" WHERE created_at >= ?', args: [journal.entries[first]!.when] },
      ],
      'write',
    )
    const cols = await client.execute("SELECT name FROM pragma_table_info('users')")
    expect(cols.rows.map((r) => r.name)).not.toContain('builtin_policy')
  } finally {
    client.close()
  }
}

it('users from before access control keep readwrite; their data reads as before', async () => {
  // A pre-0006 version kept every object on shards (inline objects came with 0011), so the
  // server that writes the old data does too.
  server = await startServer({ dataDir, env: { ...env, COFFER_INLINE_MAX: '0' } })
  const app = await adminJson<Credentials>(server, [
    'user',
    'create',
    'app',
    '--namespace',
    'default',
    '--policy',
    'readwrite',
  ])
  const appBucket = bucketName('legacy-app')
  const rootBucket = bucketName('legacy-root')
  await s3Client(server, app).send(new CreateBucketCommand({ Bucket: appBucket }))
  await s3Client(server, app).send(new PutObjectCommand({ Bucket: appBucket, Key: 'old.txt', Body: 'written before' }))
  await s3Client(server).send(new CreateBucketCommand({ Bucket: rootBucket }))
  await s3Client(server).send(new PutObjectCommand({ Bucket: rootBucket, Key: 'r.txt', Body: 'root data' }))
  await server.stop()
  server = undefined

  await downgradeToBeforeAccessControl()

  server = await startServer({ dataDir, env })
  const c = s3Client(server, app)
  const read = async (client: typeof c, Bucket: string, Key: string) =>
    (await bodyBytes((await client.send(new GetObjectCommand({ Bucket, Key }))).Body)).toString()
  expect(await read(c, appBucket, 'old.txt')).toBe('written before')
  // readwrite reaches the whole namespace, as everything did before: root's bucket too.
  expect(await read(c, rootBucket, 'r.txt')).toBe('root data')
  expect((await c.send(new ListObjectsV2Command({ Bucket: appBucket }))).Contents?.map((o) => o.Key)).toEqual([
    'old.txt',
  ])
  await c.send(new PutObjectCommand({ Bucket: appBucket, Key: 'new.txt', Body: 'after' }))
  await c.send(new DeleteObjectCommand({ Bucket: appBucket, Key: 'new.txt' }))
  expect(await read(s3Client(server), appBucket, 'old.txt')).toBe('written before')
  // Buckets from before have no ownership setting (it reads as BucketOwnerEnforced).
  const own = await sdkError(s3Client(server).send(new GetBucketOwnershipControlsCommand({ Bucket: appBucket })))
  expect(own.name).toBe('OwnershipControlsNotFoundError')
  // Users created after the upgrade start with no rights.
  const fresh = await adminJson<Credentials>(server, ['user', 'create', 'fresh', '--namespace', 'default'])
  expect((await sdkError(read(s3Client(server, fresh), appBucket, 'old.txt'))).status).toBe(403)
}, 180_000)
