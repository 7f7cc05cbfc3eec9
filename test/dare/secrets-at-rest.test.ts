/**
 * Users' secret keys at rest (issue 10, defect 7): no secret — root's or a user's — appears in the
 * metadata files (meta.db and its WAL); rows an older Coffer wrote in clear are sealed at start;
 * a master-key rotation re-seals them; S3 authentication works throughout. Real server over TLS,
 * real SDK, the real libSQL file opened beside it to plant legacy rows.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ListBucketsCommand } from '@aws-sdk/client-s3'
import { createClient } from '@libsql/client/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminJson, type Credentials, tenant } from '../helpers/admin.ts'
import { s3Client } from '../helpers/s3-client.ts'
import { startServer, type TestServer } from '../helpers/server.ts'

let server: TestServer | undefined
let dataDir: string
/** Fixed root credentials, given at every start (the harness would draw new ones each time). */
const root: Credentials = { accessKeyId: 'CFROOTSECRETSTEST001', secretAccessKey: randomBytes(30).toString('base64') }
let user: Credentials
const legacy: Credentials = { accessKeyId: 'CFLEGACYUSER00000001', secretAccessKey: randomBytes(30).toString('base64') }
/**
 * Many more legacy users: sealing makes every row longer, so rows move between pages and the old
 * pages keep copies of the clear secrets unless the file is rebuilt.
 */
const crowd: Credentials[] = Array.from({ length: 300 }, (_, i) => ({
  accessKeyId: `CFLEGACYCROWD${String(i).padStart(7, '0')}`,
  secretAccessKey: randomBytes(30).toString('base64'),
}))

const metaFiles = () => [join(dataDir, 'meta.db'), join(dataDir, 'meta.db-wal')]

/** The metadata files (that exist) whose bytes contain `secret`. */
async function filesHolding(secret: string): Promise<string[]> {
  const hits: string[] = []
  for (const f of metaFiles()) {
    const bytes = await readFile(f).catch(() => undefined)
    if (bytes?.includes(Buffer.from(secret))) hits.push(f)
  }
  return hits
}

async function signsIn(c: Credentials): Promise<boolean> {
  const out = await s3Client(server!, c).send(new ListBucketsCommand({}))
  return Array.isArray(out.Buckets)
}

async function start(): Promise<TestServer> {
  server = await startServer({
    dataDir,
    env: { COFFER_ROOT_ACCESS_KEY: root.accessKeyId, COFFER_ROOT_SECRET_KEY: root.secretAccessKey },
  })
  return server
}

async function restart(): Promise<void> {
  await server?.stop()
  await start()
}

/**
 * Puts rows back as a Coffer before sealed secrets wrote them: the secret in clear, nothing
 * sealed. They are planted into today's schema, so they carry what the access-control migration
 * gave every user that existed before it: the readwrite policy.
 */
async function plantLegacyRows(): Promise<void> {
  const db = createClient({ url: `file:${join(dataDir, 'meta.db')}` })
  try {
    await db.batch(
      [
        {
          sql: 'update users set secret_access_key = ?, wrapped_secret = null where access_key_id = ?',
          args: [user.secretAccessKey, user.accessKeyId],
        },
        {
          sql: 'update users set secret_access_key = ?, wrapped_secret = null where access_key_id = ?',
          args: [root.secretAccessKey, root.accessKeyId],
        },
        {
          sql: `insert into users (access_key_id, name, namespace, secret_access_key, is_root, created_at, builtin_policy)
                values (?, 'legacy', 'default', ?, 0, 0, 'readwrite')`,
          args: [legacy.accessKeyId, legacy.secretAccessKey],
        },
        ...crowd.map((c) => ({
          sql: `insert into users (access_key_id, name, namespace, secret_access_key, is_root, created_at, builtin_policy)
                values (?, 'crowd', 'default', ?, 0, 0, 'readwrite')`,
          args: [c.accessKeyId, c.secretAccessKey],
        })),
      ],
      'write',
    )
    await db.execute('PRAGMA wal_checkpoint(TRUNCATE)')
  } finally {
    db.close()
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'coffer-secrets-'))
  user = await tenant(await start(), 'secrets', 'on')
}, 60_000)

afterAll(async () => {
  await server?.stop()
  await rm(dataDir, { recursive: true, force: true })
})

describe('user secrets at rest', () => {
  it('a fresh server: neither the root secret nor a created user secret is in meta.db or its WAL; both sign in', async () => {
    expect(await signsIn(root)).toBe(true)
    expect(await signsIn(user)).toBe(true)
    expect(await filesHolding(root.secretAccessKey)).toEqual([])
    expect(await filesHolding(user.secretAccessKey)).toEqual([])
  }, 60_000)

  it('rows an older Coffer wrote in clear are sealed at start and the files purged; every user still signs in', async () => {
    await server!.stop()
    await plantLegacyRows()
    // The planted state is what an old data directory looks like: the secrets are in the file.
    expect(await filesHolding(legacy.secretAccessKey)).not.toEqual([])
    expect(await filesHolding(user.secretAccessKey)).not.toEqual([])
    await start()
    for (const c of [root, user, legacy]) {
      expect(await filesHolding(c.secretAccessKey), c.accessKeyId).toEqual([])
      expect(await signsIn(c), c.accessKeyId).toBe(true)
    }
    const left: string[] = []
    for (const c of crowd) if ((await filesHolding(c.secretAccessKey)).length > 0) left.push(c.accessKeyId)
    expect(left).toEqual([])
    expect(await signsIn(crowd[123]!)).toBe(true)
    // Idempotent: a second start finds nothing to do and everything still works.
    await restart()
    for (const c of [root, user, legacy]) expect(await signsIn(c), c.accessKeyId).toBe(true)
  }, 120_000)

  it('a master-key rotation re-seals the secrets: after a restart on the new key every user signs in', async () => {
    expect(await adminJson(server!, ['key', 'rotate', '--master'])).toMatchObject({ rotated: 'master' })
    await restart()
    for (const c of [root, user, legacy]) {
      expect(await signsIn(c), c.accessKeyId).toBe(true)
      expect(await filesHolding(c.secretAccessKey), c.accessKeyId).toEqual([])
    }
  }, 120_000)
})
