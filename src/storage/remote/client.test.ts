import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../util/log.ts'
import { readAll, streamFromBytes } from '../../util/streams.ts'
import { createDiskStore } from '../disk-store.ts'
import { ShardNotFound, type ShardStore, StoreFull } from '../shard-store.ts'
import { createTestDisk, type TestDisk } from '../disk.testkit.ts'
import { createRemoteStore, NodeSkipped, RemoteStoreError, type ClusterFetch } from './client.ts'
import { createNodeApp } from './server.ts'

const URL_ = 'https://node.test:9101'
const TIMEOUT = 200

let disk: TestDisk | undefined
afterEach(async () => {
  await disk?.destroy()
  disk = undefined
})

/** A node app in-process: the ClusterFetch is app.fetch (no network). */
async function inProcess() {
  disk = await createTestDisk()
  const app = createNodeApp({ store: createDiskStore('d', disk), logger: silentLogger })
  return (req: Request) => Promise.resolve(app.fetch(req))
}

const store = (fetch: ClusterFetch, extra: { healthTtlMs?: number; downBackoffMs?: number } = {}) =>
  createRemoteStore({ url: `${URL_}/`, fetch, timeoutMs: TIMEOUT, ...extra })

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  )
}

describe('RemoteStore: failures become "store unavailable"', () => {
  it('times out a node that never answers, aborting the request', async () => {
    let signal: AbortSignal | undefined
    const hang: ClusterFetch = (req) => {
      signal = req.signal
      return new Promise((_, reject) => req.signal.addEventListener('abort', () => reject(req.signal.reason)))
    }
    const s = store(hang)
    const t = performance.now()
    const e = await failure(s.stat('x'))
    expect(e).toBeInstanceOf(RemoteStoreError)
    expect((e as Error).message).toMatch(/no progress within 200 ms/)
    expect(performance.now() - t).toBeLessThan(TIMEOUT * 10)
    expect(signal?.aborted).toBe(true)
    expect(await failure(readAll(s.get('x', 0, 1), 10))).toBeInstanceOf(RemoteStoreError)
  })

  it('maps network errors and 5xx to RemoteStoreError, 404 to ShardNotFound', async () => {
    const down = store(() => Promise.reject(new TypeError('ECONNREFUSED')))
    for (const p of [
      down.stat('x'),
      down.delete('x'),
      down.put('x', streamFromBytes(new Uint8Array(3))),
      readAll(down.get('x', 0, 1), 10),
    ]) {
      const e = await failure(p)
      expect(e).toBeInstanceOf(RemoteStoreError)
      expect((e as Error).message).toContain('ECONNREFUSED')
    }
    const broken = store(async () =>
      Response.json({ error: 'InternalError', message: 'disk on fire' }, { status: 500 }),
    )
    const e = await failure(broken.stat('x'))
    expect(e).toMatchObject({ status: 500 })
    expect((e as Error).message).toContain('disk on fire')
    const s = store(await inProcess())
    expect(await failure(readAll(s.get('missing', 0, 1), 10))).toBeInstanceOf(ShardNotFound)
  })

  it('times out a GET whose body stalls midway', async () => {
    // Ten bytes, then silence (and a body that ignores the abort signal).
    const stalled: ClusterFetch = async () =>
      new Response(new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new Uint8Array(10)) }), { status: 200 })
    const e = await failure(readAll(store(stalled).get('x', 0, 100), 1000))
    expect(e).toBeInstanceOf(RemoteStoreError)
    expect((e as Error).message).toMatch(/no progress/)
  })

  it('times out a PUT the node stops taking, and cancels the body', async () => {
    let cancelled = false
    const body = new ReadableStream<Uint8Array>({
      pull: (c) => c.enqueue(new Uint8Array(65536)),
      cancel: () => {
        cancelled = true
      },
    })
    // A node that reads one chunk and then nothing, never answering.
    const stuck: ClusterFetch = (req) => {
      void req.body!.getReader().read()
      return new Promise((_, reject) => req.signal.addEventListener('abort', () => reject(req.signal.reason)))
    }
    const e = await failure(store(stuck).put('x', body))
    expect(e).toBeInstanceOf(RemoteStoreError)
    expect(cancelled).toBe(true)
  })

  it('a GET cancelled while its answer is on the way cancels the body once the answer comes', async () => {
    let answer!: (res: Response) => void
    let bodyCancelled = false
    // The node answers late, and sends no byte of the body until the gateway asks (it never does).
    const late: ClusterFetch = () => new Promise<Response>((r) => (answer = r))
    const reader = store(late).get('x', 0, 100).getReader()
    const first = reader.read().catch((e: unknown) => e)
    await new Promise((r) => setTimeout(r, 10))
    await reader.cancel(new Error('the client went away'))
    answer(
      new Response(
        new ReadableStream<Uint8Array>({
          pull: () => new Promise(() => {}),
          cancel: () => {
            bodyCancelled = true
          },
        }),
        { status: 200 },
      ),
    )
    // Well within one idle timeout: nothing is left waiting on a body nobody reads.
    for (let i = 0; i < 10 && !bodyCancelled; i++) await new Promise((r) => setTimeout(r, 5))
    expect(bodyCancelled).toBe(true)
    await first
  })

  it('does not time out a slow producer (the wait is on the gateway, not the node)', async () => {
    const s = store(await inProcess())
    let sent = 0
    const slow = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (sent === 3) return c.close()
        await new Promise((r) => setTimeout(r, TIMEOUT * 1.5))
        c.enqueue(new Uint8Array(1000).fill(++sent))
      },
    })
    await s.put('slow', slow)
    expect(await s.stat('slow')).toBe(3000)
  })
})

describe('RemoteStore: healthy()', () => {
  it('caches the answer for the TTL and shares a probe in flight', async () => {
    const real = await inProcess()
    let probes = 0
    const counting: ClusterFetch = (req) => {
      if (new URL(req.url).pathname === '/v2/health') probes++
      return real(req)
    }
    const s = store(counting, { healthTtlMs: 300 })
    expect(await Promise.all([s.healthy(), s.healthy(), s.healthy()])).toEqual([true, true, true])
    expect(probes).toBe(1)
    expect(await s.healthy()).toBe(true)
    expect(probes).toBe(1)
    await new Promise((r) => setTimeout(r, 350))
    expect(await s.healthy()).toBe(true)
    expect(probes).toBe(2)
  })

  it('is false when the node is unreachable or refuses us', async () => {
    expect(await store(() => Promise.reject(new Error('down'))).healthy()).toBe(false)
    // A node that answers 403 (never ours today: mutual TLS refuses at the handshake) is not healthy.
    const refusing = store(async () => Response.json({ error: 'Forbidden' }, { status: 403 }))
    expect(await refusing.healthy()).toBe(false)
    expect(await failure(refusing.stat('x'))).toMatchObject({ status: 403 })
  })
})

describe('RemoteStore: back-off after the node did not answer', () => {
  const BACKOFF = 150
  /** The in-process node behind a switch; counts the requests that reached the transport. */
  async function switchable() {
    const real = await inProcess()
    const state = { up: true, sent: 0 }
    const fetch: ClusterFetch = (req) => {
      state.sent++
      return state.up ? real(req) : Promise.reject(new TypeError('connect ECONNREFUSED 127.0.0.1:9101'))
    }
    return { state, s: store(fetch, { downBackoffMs: BACKOFF, healthTtlMs: 1 }) }
  }
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

  it('skips a node that refused a connection, without sending, until the back-off runs out', async () => {
    const { state, s } = await switchable()
    await s.put('obj', streamFromBytes(new Uint8Array(100).fill(5)))
    state.up = false
    expect(await failure(readAll(s.get('obj', 0, 100), 1000))).toBeInstanceOf(RemoteStoreError)
    const sent = state.sent
    // Every kind of data request now fails at once, still as "store unavailable", naming the cause.
    let cancelled = false
    const body = new ReadableStream<Uint8Array>({
      pull: (c) => c.enqueue(new Uint8Array(10)),
      cancel: () => {
        cancelled = true
      },
    })
    for (const p of [readAll(s.get('obj', 0, 100), 1000), s.stat('obj'), s.delete('obj'), s.put('other', body)]) {
      const e = await failure(p)
      expect(e).toBeInstanceOf(NodeSkipped)
      expect((e as Error).message).toContain('ECONNREFUSED')
    }
    expect(cancelled).toBe(true)
    expect(state.sent).toBe(sent)
    // The node returns; after the back-off the next request tries it and finds it.
    state.up = true
    await sleep(BACKOFF + 30)
    expect(await s.stat('obj')).toBe(100)
    expect(state.sent).toBe(sent + 1)
    expect(Array.from(await readAll(s.get('obj', 0, 3), 10))).toEqual([5, 5, 5])
  })

  it('a trial that fails starts another back-off', async () => {
    const { state, s } = await switchable()
    state.up = false
    expect(await failure(s.stat('x'))).toBeInstanceOf(RemoteStoreError)
    await sleep(BACKOFF + 30)
    const before = state.sent
    expect(await failure(s.stat('x'))).not.toBeInstanceOf(NodeSkipped) // the trial went out
    expect(state.sent).toBe(before + 1)
    expect(await failure(s.stat('x'))).toBeInstanceOf(NodeSkipped)
    expect(state.sent).toBe(before + 1)
  })

  it('healthy() still probes a node marked down and reports it; a good answer clears the mark', async () => {
    const { state, s } = await switchable()
    state.up = false
    expect(await failure(s.stat('x'))).toBeInstanceOf(RemoteStoreError)
    await sleep(5) // past the health TTL
    expect(await s.healthy()).toBe(false)
    state.up = true
    await sleep(5)
    const before = state.sent
    expect(await s.healthy()).toBe(true)
    expect(state.sent).toBe(before + 1)
    // Without waiting for the back-off: the probe's answer brought the node back.
    expect(await s.stat('x')).toBeUndefined()
  })

  it("an HTTP error answer or the caller's own body error does not mark the node down", async () => {
    let sent = 0
    const real = await inProcess()
    const answering: ClusterFetch = (req) => {
      sent++
      if (new URL(req.url).pathname.startsWith('/v2/stat'))
        return Promise.resolve(Response.json({ message: 'busy' }, { status: 503 }))
      return real(req)
    }
    const s = store(answering, { downBackoffMs: 60_000 })
    expect(await failure(s.stat('x'))).toMatchObject({ status: 503 })
    const bad = new Error('bad digest')
    expect(await failure(s.put('y', failingBody(bad)))).toBe(bad)
    const before = sent
    expect(await failure(readAll(s.get('missing', 0, 1), 10))).toBeInstanceOf(ShardNotFound)
    expect(sent).toBe(before + 1)
  })

  it('a node that never answers is skipped after its first timeout', async () => {
    let sent = 0
    const hang: ClusterFetch = (req) => {
      sent++
      return new Promise((_, reject) => req.signal.addEventListener('abort', () => reject(req.signal.reason)))
    }
    const s = store(hang, { downBackoffMs: 60_000 })
    expect(await failure(s.stat('x'))).toBeInstanceOf(RemoteStoreError)
    const t = performance.now()
    expect(await failure(readAll(s.get('x', 0, 1), 10))).toBeInstanceOf(NodeSkipped)
    expect(performance.now() - t).toBeLessThan(TIMEOUT / 2)
    expect(sent).toBe(1)
  })
})

/** Two chunks, then `err`: a body that fails on the gateway's side. */
function failingBody(err: Error): ReadableStream<Uint8Array> {
  let n = 0
  return new ReadableStream<Uint8Array>({ pull: (c) => (n++ < 2 ? c.enqueue(new Uint8Array(1000)) : c.error(err)) })
}

describe('RemoteStore: a node with a full drive', () => {
  it('reports the node drive space (its filesystem named by host), and a full drive is StoreFull, not down', async () => {
    disk = await createTestDisk()
    const inner = createDiskStore('d', disk)
    let full = false
    const node: ShardStore = {
      ...inner,
      async put(name, body) {
        if (!full) return inner.put(name, body)
        await body.cancel().catch(() => {})
        throw new StoreFull('d', `drive d is full (ENOSPC) while storing shard ${name}`)
      },
      space: async () => ({ free: 5_000_000, total: 9_000_000, fs: 'dev:42' }),
    }
    const app = createNodeApp({ store: node, logger: silentLogger })
    const s = store((req) => Promise.resolve(app.fetch(req)), { healthTtlMs: 0 })
    expect(await s.space?.()).toEqual({ free: 5_000_000, total: 9_000_000, fs: 'node.test/dev:42' })
    await s.put('a', streamFromBytes(new Uint8Array(10)))
    full = true
    const e = await failure(s.put('b', streamFromBytes(new Uint8Array(100_000))))
    expect(e).toBeInstanceOf(StoreFull)
    expect((e as Error).message).toMatch(/HTTP 507 \(drive d is full/)
    // A full drive is an answer, not an outage: the node is not backed off, reads go on.
    expect(await s.healthy()).toBe(true)
    expect(await s.stat('a')).toBe(10)
  })
})
