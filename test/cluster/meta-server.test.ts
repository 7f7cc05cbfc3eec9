/**
 * `coffer meta-server` and its sqld as processes: a meta-server killed with SIGKILL (no chance to
 * stop its child) must not leave sqld behind holding the port and the database.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from '@libsql/client'
import { afterAll, describe, expect, it } from 'vitest'
import { initCluster } from '../helpers/nodes.ts'
import { type MetaServerProc, startMetaServer } from '../helpers/sqld.ts'

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('coffer meta-server', () => {
  let root: string | undefined
  let sqld: MetaServerProc | undefined
  let first = 0
  afterAll(async () => {
    await sqld?.stop()
    if (first > 0 && alive(first)) process.kill(first, 'SIGKILL') // left behind: the test failed
    if (root) await rm(root, { recursive: true, force: true })
  })

  it('killed with SIGKILL, it takes sqld with it; a new one starts on the same port and database', async () => {
    root = await mkdtemp(join(tmpdir(), 'coffer-meta-server-'))
    const clusterFile = join(root, 'cluster.json')
    initCluster(clusterFile)
    sqld = await startMetaServer(clusterFile, join(root, 'meta'))
    first = sqld.sqldPid
    expect(first).toBeGreaterThan(0)
    const db = createClient({ url: sqld.url, authToken: sqld.token })
    await db.execute('CREATE TABLE kept (v TEXT)')
    await db.execute("INSERT INTO kept VALUES ('written before the kill')")
    db.close()
    await sqld.killParent()
    // Bounded wait: sqld gets SIGTERM when its parent dies and closes its database.
    for (let i = 0; i < 100 && alive(first); i++) await new Promise((r) => setTimeout(r, 100))
    expect(alive(first)).toBe(false)
    await sqld.restart()
    expect(sqld.sqldPid).not.toBe(first)
    const again = createClient({ url: sqld.url, authToken: sqld.token })
    try {
      expect((await again.execute('SELECT v FROM kept')).rows.map((r) => r.v)).toEqual(['written before the kill'])
    } finally {
      again.close()
    }
  })
})
