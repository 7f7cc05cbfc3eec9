/**
 * The Node fast path for shard PUT and GET (node-shard-routes.ts) against the app it stands in
 * for: two in-process storage nodes, one with the fast routes and one with every request through
 * the Hono app, asked the same raw HTTPS requests (mutual TLS, a gateway's client certificate)
 * must answer the same status, content type and body — successes, 404, 416, the requests the fast
 * path leaves to the app, and 507 on a full drive (a small tmpfs). A body cut short on the fast
 * path leaves no shard and no temp file behind.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../util/log.ts'
import { mountSmallDisk, type SmallDisk } from '../../test/helpers/tmpfs.ts'
import { type Cluster, initCluster } from './cluster.ts'
import { nodeAdapter } from './node.ts'
import { NODE_DRIVE_DIR, type StorageNode, startStorageNode } from './storage-node.ts'
import { type ClientCert, issueClientCert } from './tls-ca.ts'

const KiB = 1024
const MiB = 1024 * KiB
const quiet = { out: () => {}, err: () => {} }

let dir: string
let cluster: Cluster
let client: ClientCert
const started: StorageNode[] = []
const disks: SmallDisk[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-node-fast-'))
  cluster = await initCluster(join(dir, 'cluster.json'))
  client = await issueClientCert(cluster)
})

afterAll(async () => {
  for (const n of started) await n.stop()
  for (const d of disks) await d.remove()
  if (dir) await rm(dir, { recursive: true, force: true })
})

async function startNode(dataDir: string, fastShardRoutes: boolean): Promise<StorageNode> {
  const node = await startStorageNode(
    { clusterFile: cluster.path, dataDir, port: 0, host: '127.0.0.1' },
    nodeAdapter(),
    quiet,
    { cluster, logger: silentLogger, fastShardRoutes },
  )
  started.push(node)
  return node
}

interface Answer {
  status: number
  type: string | undefined
  length: string | undefined
  body: string
}

/** One request on its own connection; a JSON body is kept as text, bytes as hex. */
function ask(node: StorageNode, method: string, target: string, body?: Uint8Array): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = request(
      `${node.endpoint}${target}`,
      { method, ca: cluster.caPem, cert: client.cert, key: client.key, agent: false, timeout: 20_000 },
      (res) => {
        const parts: Buffer[] = []
        res.on('data', (c: Buffer) => parts.push(c))
        res.on('error', reject)
        res.on('end', () => {
          const type = res.headers['content-type']
          const all = Buffer.concat(parts)
          resolve({
            status: res.statusCode ?? 0,
            type,
            length: res.headers['content-length'],
            body: type?.startsWith('application/json') ? all.toString('utf8') : all.toString('hex'),
          })
        })
      },
    )
    r.on('timeout', () => r.destroy(new Error('no answer within 20 s')))
    r.on('error', reject)
    r.end(body)
  })
}

describe('the fast shard routes answer as the app does', () => {
  let fast: StorageNode
  let app: StorageNode
  const shard = randomBytes(300 * KiB)

  beforeAll(async () => {
    fast = await startNode(join(dir, 'fast'), true)
    app = await startNode(join(dir, 'app'), false)
    for (const n of [fast, app]) {
      expect((await ask(n, 'PUT', '/v2/shards/s1', shard)).status).toBe(204)
      expect((await ask(n, 'PUT', '/v2/shards/empty', new Uint8Array(0))).status).toBe(204)
    }
  })

  const cases: Array<[string, string, number, Uint8Array?]> = [
    ['PUT', '/v2/shards/s2', 204, randomBytes(2 * MiB + 3)],
    ['PUT', '/v2/shards/s3?unexpected=1', 204, randomBytes(10)], // left to the app
    ['PUT', '/v2/shards/.hidden', 400, randomBytes(10)],
    ['GET', '/v2/shards/s1?offset=0&length=307200', 200],
    ['GET', '/v2/shards/s1?offset=1000&length=5000', 200],
    ['GET', '/v2/shards/s1?offset=307200&length=0', 200],
    ['GET', '/v2/shards/empty?offset=0&length=0', 200],
    ['GET', '/v2/shards/missing?offset=0&length=1', 404],
    ['GET', '/v2/shards/s1?offset=307000&length=201', 416],
    ['GET', '/v2/shards/s1?offset=99999999999999999&length=1', 400], // not a safe integer: the app's
    ['GET', '/v2/shards/s1?length=10&offset=0', 200], // another order: the app's
    ['GET', '/v2/shards/s1', 400],
    ['GET', '/v2/shards/s1?offset=0', 400],
    ['GET', '/v2/shards/s1?offset=-1&length=1', 400],
    ['GET', '/v2/shards/.hidden?offset=0&length=1', 400],
    ['GET', '/v2/shards/s%31?offset=0&length=4', 200], // escaped name: the app decodes it
    ['HEAD', '/v2/shards/s1?offset=0&length=1', 405],
    ['DELETE', '/v2/shards/empty', 204],
  ]
  it.each(cases)('%s %s → %i on both', async (method, target, status, body) => {
    const a = await ask(fast, method, target, body)
    const b = await ask(app, method, target, body)
    expect(a.status).toBe(status)
    expect(a).toEqual(b)
  })

  it('stores the bytes it was sent', async () => {
    const body = randomBytes(5 * MiB + 17)
    expect((await ask(fast, 'PUT', '/v2/shards/big', body)).status).toBe(204)
    const got = await ask(fast, 'GET', `/v2/shards/big?offset=0&length=${body.length}`)
    expect(got.length).toBe(String(body.length))
    expect(got.body === body.toString('hex')).toBe(true)
  })

  it('serves concurrent GETs from pooled read buffers without mixing their bytes', async () => {
    // Each GET's pieces go back to one pool once written: a buffer reused too early would show
    // here as another shard's bytes in a body.
    const bodies = Array.from({ length: 8 }, () => randomBytes(3 * MiB + 1000))
    for (const [i, b] of bodies.entries()) expect((await ask(fast, 'PUT', `/v2/shards/c${i}`, b)).status).toBe(204)
    for (let round = 0; round < 2; round++) {
      const got = await Promise.all(
        bodies.map((b, i) =>
          ask(fast, 'GET', `/v2/shards/c${i}?offset=${round * 777}&length=${b.length - round * 777}`),
        ),
      )
      for (const [i, g] of got.entries()) expect(g.body === bodies[i]!.subarray(round * 777).toString('hex')).toBe(true)
    }
  })

  /** Sends `head` and `part` on a raw TLS connection, then closes it before the body is whole. */
  const cutShort = (head: string, part: Uint8Array) =>
    new Promise<void>((resolve, reject) => {
      const s = connect({
        host: '127.0.0.1',
        port: fast.port,
        ca: cluster.caPem,
        cert: client.cert,
        key: client.key,
        servername: 'localhost',
      })
      s.on('error', () => {}) // the node may answer (or reset) as the connection goes
      s.once('secureConnect', () => {
        s.write(head)
        s.write(part, () => setTimeout(() => s.destroy(), 200))
      })
      s.once('close', () => resolve())
      setTimeout(() => reject(new Error('connection still open after 10 s')), 10_000).unref()
    })

  const tempFiles = () => readdir(join(dir, 'fast', NODE_DRIVE_DIR, 'tmp')).catch(() => [])

  it('a body cut short (Content-Length) leaves no shard and no temp file', async () => {
    await cutShort(
      'PUT /v2/shards/cut1 HTTP/1.1\r\nhost: localhost\r\ncontent-length: 1048576\r\n\r\n',
      randomBytes(600 * KiB),
    )
    await expect.poll(tempFiles, { timeout: 5000 }).toEqual([])
    expect((await ask(fast, 'GET', '/v2/shards/cut1?offset=0&length=1')).status).toBe(404)
  })

  it('a chunked body cut short (no last chunk) leaves no shard and no temp file', async () => {
    const part = randomBytes(600 * KiB)
    await cutShort(
      'PUT /v2/shards/cut2 HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\n\r\n',
      Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]),
    )
    await expect.poll(tempFiles, { timeout: 5000 }).toEqual([])
    expect((await ask(fast, 'GET', '/v2/shards/cut2?offset=0&length=1')).status).toBe(404)
  })
})

describe('a full drive', () => {
  it('answers 507 InsufficientStorage on both paths, and keeps the connection usable', async () => {
    const nodes: StorageNode[] = []
    for (const fastShardRoutes of [true, false]) {
      const m = await mountSmallDisk(4)
      if ('problem' in m) throw new Error(`${m.problem}; these tests run as root (as CI does)`)
      disks.push(m)
      nodes.push(await startNode(m.dir, fastShardRoutes))
    }
    const body = randomBytes(6 * MiB)
    const [a, b] = [
      await ask(nodes[0]!, 'PUT', '/v2/shards/toobig', body),
      await ask(nodes[1]!, 'PUT', '/v2/shards/toobig', body),
    ]
    expect(a.status).toBe(507)
    expect(JSON.parse(a.body).error).toBe('InsufficientStorage')
    expect({ ...a, body: JSON.parse(a.body).error }).toEqual({ ...b, body: JSON.parse(b.body).error })
    expect((await ask(nodes[0]!, 'GET', '/v2/shards/toobig?offset=0&length=1')).status).toBe(404)
    expect((await ask(nodes[0]!, 'PUT', '/v2/shards/small', randomBytes(1000))).status).toBe(204)
  })
})
