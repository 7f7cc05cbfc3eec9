/**
 * The operator path for durability: `coffer admin heal status|run` against a real gateway, and
 * the admin API refusing anything not signed by the root user.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawRequest } from '../helpers/raw.ts'
import { REPO_ROOT, startServer, type TestServer } from '../helpers/server.ts'

const run = promisify(execFile)
let server: TestServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

function admin(args: string[], env: Record<string, string> = {}) {
  return run(
    'node',
    [
      join(REPO_ROOT, 'bin/coffer.mjs'),
      'admin',
      '--endpoint',
      server.endpoint,
      '--data',
      server.dataDir,
      '--json',
      ...args,
    ],
    {
      env: {
        ...process.env,
        COFFER_ROOT_ACCESS_KEY: server.accessKeyId,
        COFFER_ROOT_SECRET_KEY: server.secretAccessKey,
        ...env,
      },
      timeout: 60_000,
    },
  )
}

describe('coffer admin heal', () => {
  it('status shows every drive up and an empty backlog', async () => {
    const { stdout } = await admin(['heal', 'status'])
    const health = JSON.parse(stdout)
    expect(health.ec).toBe('4+2')
    expect(health.stores).toHaveLength(6)
    expect(health.stores.every((s: { up: boolean }) => s.up)).toBe(true)
    expect(health.healBacklog).toBe(0)
  })

  it('run performs a maintenance pass and reports', async () => {
    const { stdout } = await admin(['heal', 'run'])
    expect(JSON.parse(stdout).status).toBe('ok')
  })

  it('wrong credentials are refused with exit 1 and the reason', async () => {
    const err = await admin(['heal', 'status'], {
      COFFER_ROOT_SECRET_KEY: 'wrong-secret-wrong-secret-wrong-secret-00',
    }).catch((e) => e)
    expect(err.code).toBe(1)
    expect(err.stderr).toContain('SignatureDoesNotMatch')
  })

  it('an unsigned admin request gets 403', async () => {
    const res = await rawRequest(server, { method: 'GET', path: '/_coffer/admin/heal', sign: false })
    expect(res.status).toBe(403)
  })
})
