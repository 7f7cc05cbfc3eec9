import { afterEach, describe, expect, it } from 'vitest'
import { readAll, streamFromBytes } from '../../util/streams.ts'
import type { Logger } from '../../util/log.ts'
import { createDiskStore } from '../disk-store.ts'
import type { ShardStore } from '../shard-store.ts'
import { createTestDisk, type TestDisk } from '../disk.testkit.ts'
import { createNodeApp } from './server.ts'

const BASE = 'https://node.test'

let disk: TestDisk | undefined
afterEach(async () => {
  await disk?.destroy()
  disk = undefined
})

async function setup(opts: { store?: ShardStore } = {}) {
  disk = await createTestDisk()
  const store = opts.store ?? createDiskStore('d', disk)
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = []
  const logger: Logger = { log: (level, msg, fields) => lines.push({ level, msg, fields }) }
  const app = createNodeApp({ store, logger, maxListCursors: 2 })
  return { app, store, lines, disk }
}

// Who may call is settled by the node's TLS listener (mutual TLS, test/cluster/node-auth.test.ts).
const signedGet = (method: string, target: string) => new Request(BASE + target, { method })

/** A body that fails after `good` bytes, as a connection cut mid-upload does. */
function cutBody(good: Uint8Array): ReadableStream<Uint8Array> {
  let sent = false
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent) return c.error(new Error('connection reset'))
      sent = true
      c.enqueue(good)
    },
  })
}

describe('node app: shard PUT', () => {
  it('refuses HEAD (it would stream a whole shard)', async () => {
    const { app } = await setup()
    expect((await app.fetch(signedGet('HEAD', '/v2/shards/a'))).status).toBe(405)
  })

  it('stores the body as the shard; a body cut short answers 400 and leaves no file behind', async () => {
    const { app, store, disk } = await setup()
    const payload = crypto.getRandomValues(new Uint8Array(50_000))
    const put = (name: string, body: ReadableStream<Uint8Array>) =>
      app.fetch(new Request(`${BASE}/v2/shards/${name}`, { method: 'PUT', body, duplex: 'half' } as RequestInit))
    expect((await put('good', streamFromBytes(payload, 4096))).status).toBe(204)
    expect(await store.stat('good')).toBe(payload.length)
    expect(await readAll(store.get('good', 0, payload.length), payload.length)).toEqual(payload)

    const res = await put('cut', cutBody(payload.subarray(0, 1000)))
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toBe('IncompleteBody')
    expect(await store.stat('cut')).toBeUndefined()
    expect(await disk.list('tmp')).toEqual([])
  })
})

describe('node app: shard routes', () => {
  it('answers ranged GETs, 404 for a missing shard, 416 beyond the end, 400 for bad ranges or names', async () => {
    const { app, store } = await setup()
    const data = crypto.getRandomValues(new Uint8Array(10_000))
    await store.put('s', streamFromBytes(data))
    const res = await app.fetch(signedGet('GET', '/v2/shards/s?offset=100&length=50'))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe('50')
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(data.subarray(100, 150))
    expect((await app.fetch(signedGet('GET', '/v2/shards/nope?offset=0&length=1'))).status).toBe(404)
    expect((await app.fetch(signedGet('GET', '/v2/shards/s?offset=9990&length=11'))).status).toBe(416)
    expect((await app.fetch(signedGet('GET', '/v2/shards/s?offset=0'))).status).toBe(400)
    expect((await app.fetch(signedGet('GET', '/v2/shards/s?offset=-1&length=1'))).status).toBe(400)
    expect((await app.fetch(signedGet('GET', '/v2/shards/.hidden?offset=0&length=1'))).status).toBe(400)
    expect(await (await app.fetch(signedGet('GET', '/v2/stat/s'))).json()).toEqual({ size: 10_000 })
    expect((await app.fetch(signedGet('GET', '/v2/stat/nope'))).status).toBe(404)
    expect((await app.fetch(signedGet('DELETE', '/v2/shards/s'))).status).toBe(204)
    expect((await app.fetch(signedGet('GET', '/v2/stat/s'))).status).toBe(404)
  })

  it('lists in bounded pages with cursors; an unknown or used cursor is 410', async () => {
    const { app, store } = await setup()
    const names = Array.from({ length: 12 }, (_, i) => `n${i}`)
    for (const n of names) await store.put(n, streamFromBytes(new Uint8Array([1])))
    const seen: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const res = await app.fetch(signedGet('GET', `/v2/list?limit=5${cursor ? `&cursor=${cursor}` : ''}`))
      expect(res.status).toBe(200)
      const page = (await res.json()) as { names: string[]; cursor?: string }
      expect(page.names.length).toBeLessThanOrEqual(5)
      seen.push(...page.names)
      if (cursor && page.cursor) expect(page.cursor).not.toBe(cursor)
      if (cursor) expect((await app.fetch(signedGet('GET', `/v2/list?limit=5&cursor=${cursor}`))).status).toBe(410)
      cursor = page.cursor
    } while (cursor && ++pages < 10)
    expect(seen.sort()).toEqual(names.sort())
    expect((await app.fetch(signedGet('GET', '/v2/list?limit=0'))).status).toBe(400)
    expect((await app.fetch(signedGet('GET', '/v2/list?limit=100000'))).status).toBe(400)
  })

  it('drops the oldest cursor beyond the bound', async () => {
    const { app, store } = await setup()
    for (const n of ['a', 'b', 'c']) await store.put(n, streamFromBytes(new Uint8Array([1])))
    const cursors: string[] = []
    for (let i = 0; i < 3; i++)
      cursors.push(
        ((await (await app.fetch(signedGet('GET', '/v2/list?limit=1'))).json()) as { cursor: string }).cursor,
      )
    expect((await app.fetch(signedGet('GET', `/v2/list?limit=1&cursor=${cursors[0]}`))).status).toBe(410)
    expect((await app.fetch(signedGet('GET', `/v2/list?limit=1&cursor=${cursors[2]}`))).status).toBe(200)
  })

  it('reports health from the store', async () => {
    const d = await createTestDisk()
    const sick: ShardStore = { ...createDiskStore('d', d), healthy: async () => false }
    const { app } = await setup({ store: sick })
    const res = await app.fetch(signedGet('GET', '/v2/health'))
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({ ok: false })
    await d.destroy()
  })
})
