import { afterEach, describe, expect, it } from 'vitest'
import { createPlatform } from '../../runtime/platform.ts'
import { readAll, streamFromBytes } from '../../util/streams.ts'
import type { Logger } from '../../util/log.ts'
import { createDiskStore } from '../disk-store.ts'
import type { ShardStore } from '../shard-store.ts'
import { createTestDisk, type TestDisk } from '../disk.testkit.ts'
import { deriveRequestKey, EMPTY_SHA256, signRequest } from './auth.ts'
import { STREAMING_PAYLOAD } from './protocol.ts'
import { createNodeApp } from './server.ts'
import { frameBody } from './trailer.ts'

const platform = createPlatform()
const secret = crypto.getRandomValues(new Uint8Array(32))
const key = deriveRequestKey(platform, secret)
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
  const app = createNodeApp({ store, secret, platform, logger, maxListCursors: 2 })
  return { app, store, lines, disk }
}

const signedGet = (method: string, target: string) =>
  new Request(BASE + target, {
    method,
    headers: signRequest(platform, key, { method, target, content: EMPTY_SHA256(platform) }).headers,
  })

function signedPut(target: string, payload: Uint8Array, tamper?: (framed: Uint8Array) => void): Promise<Request> {
  const { headers, signature } = signRequest(platform, key, { method: 'PUT', target, content: STREAMING_PAYLOAD })
  return readAll(frameBody(platform, key, signature, streamFromBytes(payload, 4096)).stream, payload.length + 100).then(
    (framed) => {
      const copy = framed.slice()
      tamper?.(copy)
      return new Request(BASE + target, { method: 'PUT', headers, body: copy })
    },
  )
}

describe('node app: authentication', () => {
  it('refuses an unsigned request with 401 and logs one line without secrets', async () => {
    const { app, lines } = await setup()
    const res = await app.fetch(new Request(`${BASE}/v1/health`))
    expect(res.status).toBe(401)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({
      level: 'warn',
      fields: { status: 401, reason: 'missing credentials', method: 'GET', path: '/v1/health' },
    })
  })

  it('refuses HEAD (it would stream a whole shard)', async () => {
    const { app } = await setup()
    expect((await app.fetch(signedGet('HEAD', '/v1/shards/a'))).status).toBe(405)
  })

  it('stores a correctly framed shard, and discards a tampered one with 403 leaving no file behind', async () => {
    const { app, store, lines, disk } = await setup()
    const payload = crypto.getRandomValues(new Uint8Array(50_000))
    expect((await app.fetch(await signedPut('/v1/shards/good', payload))).status).toBe(204)
    expect(await store.stat('good')).toBe(payload.length)

    const res = await app.fetch(await signedPut('/v1/shards/bad', payload, (f) => (f[100]! ^= 0xff)))
    expect(res.status).toBe(403)
    expect(await store.stat('bad')).toBeUndefined()
    expect(await disk.list('tmp')).toEqual([])
    expect(lines.at(-1)?.fields).toMatchObject({ status: 403, path: '/v1/shards/bad' })
    expect(JSON.stringify(lines)).not.toContain(Buffer.from(secret).toString('hex'))
  })

  it('refuses a shard PUT without the streaming trailer, and the trailer on anything else', async () => {
    const { app } = await setup()
    const target = '/v1/shards/x'
    const plain = signRequest(platform, key, { method: 'PUT', target, content: EMPTY_SHA256(platform) }).headers
    expect((await app.fetch(new Request(BASE + target, { method: 'PUT', headers: plain }))).status).toBe(401)
    const streaming = signRequest(platform, key, {
      method: 'GET',
      target: '/v1/health',
      content: STREAMING_PAYLOAD,
    }).headers
    expect((await app.fetch(new Request(`${BASE}/v1/health`, { headers: streaming }))).status).toBe(401)
  })

  it('refuses a small body that does not match its signed hash', async () => {
    const { app } = await setup()
    const { headers } = signRequest(platform, key, {
      method: 'DELETE',
      target: '/v1/shards/x',
      content: EMPTY_SHA256(platform),
    })
    expect(
      (await app.fetch(new Request(`${BASE}/v1/shards/x`, { method: 'DELETE', headers, body: 'surprise' }))).status,
    ).toBe(403)
  })
})

describe('node app: shard routes', () => {
  it('answers ranged GETs, 404 for a missing shard, 416 beyond the end, 400 for bad ranges or names', async () => {
    const { app, store } = await setup()
    const data = crypto.getRandomValues(new Uint8Array(10_000))
    await store.put('s', streamFromBytes(data))
    const res = await app.fetch(signedGet('GET', '/v1/shards/s?offset=100&length=50'))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe('50')
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(data.subarray(100, 150))
    expect((await app.fetch(signedGet('GET', '/v1/shards/nope?offset=0&length=1'))).status).toBe(404)
    expect((await app.fetch(signedGet('GET', '/v1/shards/s?offset=9990&length=11'))).status).toBe(416)
    expect((await app.fetch(signedGet('GET', '/v1/shards/s?offset=0'))).status).toBe(400)
    expect((await app.fetch(signedGet('GET', '/v1/shards/s?offset=-1&length=1'))).status).toBe(400)
    expect((await app.fetch(signedGet('GET', '/v1/shards/.hidden?offset=0&length=1'))).status).toBe(400)
    expect(await (await app.fetch(signedGet('GET', '/v1/stat/s'))).json()).toEqual({ size: 10_000 })
    expect((await app.fetch(signedGet('GET', '/v1/stat/nope'))).status).toBe(404)
    expect((await app.fetch(signedGet('DELETE', '/v1/shards/s'))).status).toBe(204)
    expect((await app.fetch(signedGet('GET', '/v1/stat/s'))).status).toBe(404)
  })

  it('lists in bounded pages with cursors; an unknown or used cursor is 410', async () => {
    const { app, store } = await setup()
    const names = Array.from({ length: 12 }, (_, i) => `n${i}`)
    for (const n of names) await store.put(n, streamFromBytes(new Uint8Array([1])))
    const seen: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const res = await app.fetch(signedGet('GET', `/v1/list?limit=5${cursor ? `&cursor=${cursor}` : ''}`))
      expect(res.status).toBe(200)
      const page = (await res.json()) as { names: string[]; cursor?: string }
      expect(page.names.length).toBeLessThanOrEqual(5)
      seen.push(...page.names)
      if (cursor && page.cursor) expect(page.cursor).not.toBe(cursor)
      if (cursor) expect((await app.fetch(signedGet('GET', `/v1/list?limit=5&cursor=${cursor}`))).status).toBe(410)
      cursor = page.cursor
    } while (cursor && ++pages < 10)
    expect(seen.sort()).toEqual(names.sort())
    expect((await app.fetch(signedGet('GET', '/v1/list?limit=0'))).status).toBe(400)
    expect((await app.fetch(signedGet('GET', '/v1/list?limit=100000'))).status).toBe(400)
  })

  it('drops the oldest cursor beyond the bound', async () => {
    const { app, store } = await setup()
    for (const n of ['a', 'b', 'c']) await store.put(n, streamFromBytes(new Uint8Array([1])))
    const cursors: string[] = []
    for (let i = 0; i < 3; i++)
      cursors.push(
        ((await (await app.fetch(signedGet('GET', '/v1/list?limit=1'))).json()) as { cursor: string }).cursor,
      )
    expect((await app.fetch(signedGet('GET', `/v1/list?limit=1&cursor=${cursors[0]}`))).status).toBe(410)
    expect((await app.fetch(signedGet('GET', `/v1/list?limit=1&cursor=${cursors[2]}`))).status).toBe(200)
  })

  it('reports health from the store', async () => {
    const d = await createTestDisk()
    const sick: ShardStore = { ...createDiskStore('d', d), healthy: async () => false }
    const { app } = await setup({ store: sick })
    const res = await app.fetch(signedGet('GET', '/v1/health'))
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({ ok: false })
    await d.destroy()
  })
})
