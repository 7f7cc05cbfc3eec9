/**
 * The ceiling of the six-node shape (issue 15): what a do-nothing relay in Coffer's distributed
 * topology moves on this machine. A "gateway" process (bench/lib/relay-gateway.ts) over six "node"
 * processes (bench/lib/relay-node.ts), 4+2 with 256 KiB blocks: a PUT is cut into stripes and sent
 * as six streamed shard PUTs (two of them copies of data blocks in place of parity: the bytes
 * moved, not the codec), each node fdatasyncs its shard file before answering; a GET reads four
 * shard ranges from the page cache stripe by stripe and relays them. No S3, hashing, CRC,
 * encryption at rest or metadata. Three variants, rounds interleaved (order reversed every other
 * round), all driven by the HTTPS ceiling's client (node:https, keep-alive, the body streamed from
 * patternStream; bench/https-ceiling.ts) over HTTPS to the gateway:
 *   mtls    — gateway ↔ nodes over mutual TLS (a cluster CA from src/runtime/tls-ca.ts, Coffer's
 *             TLS options and agent settings);
 *   tcp     — gateway ↔ nodes over plain HTTP/TCP (what a "trusted cluster network" would buy);
 *   ceiling — the one-hop HTTPS ceiling (client ↔ one process writing one file per path, no
 *             fsync): bench/lib/ceiling-server.ts, as bench/s3.ts measures it, driven by the same client.
 * Workloads as bench/s3.ts's comparison rows: PUT and GET of 256 MiB ×1 (3 in a row) and 16 MiB ×8
 * (24 requests, 8 at a time); `sync` (untimed) before the GETs. Per cell: MB/s (10^6 B/s) and CPU
 * seconds per GiB (user + system from /proc) of the gateway (the ceiling's one process), the six
 * nodes, this process (the client) and the rest of the machine. Prints medians and every round.
 * Usage: node --import tsx bench/relay-ceiling.ts
 * Env: ROUNDS (3), VARIANTS (mtls,tcp,ceiling; also mtls-nosync, tcp-nosync: nodes without the
 * fdatasync, to see what durability costs the PUT floor; coffer: six-node Coffer itself, as
 * bench/s3.ts starts it, through the SDK), BIG_MIB (256), MID_MIB (16).
 */
import { execFileSync } from 'node:child_process'
import { createHash, type Hash } from 'node:crypto'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { readFileSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:https'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { ensureLocalTls, issueClientCert, TLS_DIR, CA_KEY_FILE } from '../src/runtime/tls-ca.ts'
import { patternStream } from '../test/helpers/big-object.ts'
import { cpuOf, loadavg, roundOrder } from './lib/ab.ts'
import { type Child, selfSignedCert, spawnEntry, tempDir } from './lib/child.ts'
import { cleanupAll } from './lib/cleanup.ts'
import { clientFor, startCofferNodes } from './lib/targets.ts'
import { cellCpu } from './lib/s3-load.ts'
import { load } from './lib/timing.ts'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const VARIANTS = (process.env.VARIANTS ?? 'mtls,tcp,ceiling').split(',')
const BIG = Number(process.env.BIG_MIB ?? 256) * MiB
const MID = Number(process.env.MID_MIB ?? 16) * MiB
/** bench/s3.ts: big objects 3 in a row (×1), 16 MiB ×8 three waves (24 requests). */
const CELLS = [
  { name: `${BIG / MiB} MiB ×1`, size: BIG, conc: 1, count: 3, prefix: 'b' },
  { name: `${MID / MiB} MiB ×8`, size: MID, conc: 8, count: 24, prefix: 'm' },
] as const

interface Target {
  name: string
  /** The process that answers the client (gateway, or the ceiling's one process). */
  pid: number
  nodePids: number[]
  /** Negotiated TLS of each hop, for the report. */
  cipher(): string
  /** The children's stderr tails (for an error report). */
  stderr(): string
  put(path: string, body: Readable, size: number): Promise<void>
  /** Downloads `path`; resolves with the byte count (and feeds `hash`, when given). */
  get(path: string, hash?: Hash): Promise<number>
  stop(): Promise<void>
}

/** The HTTPS ceiling's client (bench/https-ceiling.ts), for every target here. */
function client(port: number, ca: string) {
  // timeout: idle sockets are closed by this side after 4 s, before the servers' keep-alive (Node's
  // default 5 s) does: a socket the server closes just as a request goes out on it is a "socket
  // hang up" (seen here when `sync` and a 256 MiB cell left a ×8 cell's sockets idle for > 5 s).
  // A request's own timeout (300 s) replaces it while the socket is in use.
  const agent = new Agent({ ca, keepAlive: true, maxSockets: 64, timeout: 4_000 })
  let cipher = ''
  const call = (method: string, path: string, body?: Readable, size = 0, hash?: Hash) =>
    new Promise<number>((resolve, reject) => {
      const headers = method === 'PUT' ? { 'content-length': size } : {}
      const req = request({ host: '127.0.0.1', port, method, path, agent, headers, timeout: 300_000 }, (res) => {
        if (!cipher) {
          const s = res.socket as import('node:tls').TLSSocket
          cipher = `${s.getProtocol()} ${s.getCipher().name}`
        }
        let n = 0
        res.on('data', (c: Buffer) => {
          n += c.length
          hash?.update(c)
        })
        res.on('end', () =>
          res.statusCode === 200 ? resolve(n) : reject(new Error(`relay ${method} ${path}: HTTP ${res.statusCode}`)),
        )
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new Error(`relay ${method} ${path}: timed out`)))
      req.on('error', reject)
      if (body) body.pipe(req)
      else req.end()
    })
  return {
    put: async (path: string, body: Readable, size: number) => void (await call('PUT', path, body, size)),
    get: (path: string, hash?: Hash) => call('GET', path, undefined, 0, hash),
    cipher: () => cipher,
    destroy: () => agent.destroy(),
  }
}

/** Cluster CA, node certificate and gateway client certificate, as Coffer issues them (tls-ca.ts). */
async function clusterTls(dir: string) {
  const t = await ensureLocalTls(dir)
  const caKeyPem = readFileSync(join(dir, TLS_DIR, CA_KEY_FILE), 'utf8')
  const gw = await issueClientCert({ caPem: t.caPem, caKeyPem })
  const f = (name: string, text: string) => {
    const file = join(dir, name)
    writeFileSync(file, text, { mode: 0o600 })
    return file
  }
  return {
    nodeKey: f('node-key.pem', t.key),
    nodeCert: f('node-cert.pem', t.cert),
    ca: t.caFile,
    gwCert: f('gw-cert.pem', gw.cert),
    gwKey: f('gw-key.pem', gw.key),
  }
}

async function startRelay(variant: string, dir: string, front: ReturnType<typeof selfSignedCert>) {
  const tls = variant.startsWith('mtls') ? await clusterTls(join(dir, 'cluster')) : undefined
  const nosync = variant.endsWith('-nosync') ? '-nosync' : ''
  const nodes: Child[] = []
  for (let i = 0; i < 6; i++) {
    const data = join(dir, `n${i}`)
    execFileSync('mkdir', ['-p', data])
    const args = tls ? [data, `tls${nosync}`, tls.nodeKey, tls.nodeCert, tls.ca] : [data, `plain${nosync}`]
    nodes.push(await spawnEntry(`relay ${variant} node ${i}`, join(import.meta.dirname, 'lib/relay-node.ts'), args))
  }
  const ports = nodes.map((n) => n.port).join(',')
  const gwArgs = [tls ? 'tls' : 'plain', front.keyFile, front.certFile, ports]
  if (tls) gwArgs.push(tls.gwCert, tls.gwKey, tls.ca)
  const gw = await spawnEntry(`relay ${variant} gateway`, join(import.meta.dirname, 'lib/relay-gateway.ts'), gwArgs)
  const c = client(gw.port, front.cert)
  const target: Target = {
    name: `relay ${variant}`,
    pid: gw.pid,
    nodePids: nodes.map((n) => n.pid),
    stderr: () => [gw, ...nodes].map((p) => p.stderr()).join(''),
    put: c.put,
    get: c.get,
    cipher: () => `${c.cipher()}; gateway ↔ node ${/node hop: (.*)/.exec(gw.stderr())?.[1] ?? 'plain HTTP'}`,
    stop: async () => {
      c.destroy()
      await gw.stop()
      await Promise.all(nodes.map((n) => n.stop()))
    },
  }
  return target
}

/**
 * Six-node Coffer as bench/s3.ts starts it (startCofferNodes: 4+2 over six `coffer node`s),
 * driven through the AWS SDK with WHEN_REQUIRED checksums (Ceph's client in the full run) — its
 * client costs more CPU than the others' bare node:https, so compare its gateway and nodes' CPU.
 */
async function startCoffer(): Promise<Target> {
  const t = await startCofferNodes()
  const s3 = clientFor(t, 'when-required')
  const Bucket = 'relay'
  await s3.send(new CreateBucketCommand({ Bucket }))
  const [gateway, ...nodes] = t.pids as [number, ...number[]]
  return {
    name: 'coffer 6 nodes',
    pid: gateway,
    nodePids: nodes,
    stderr: () => t.server?.stderr() ?? '',
    cipher: () => 'AWS SDK, WHEN_REQUIRED; gateway ↔ node mutual TLS (coffer node)',
    put: async (path, body, size) => {
      await s3.send(new PutObjectCommand({ Bucket, Key: path.slice(1), Body: body, ContentLength: size }))
    },
    get: async (path, hash) => {
      const r = await s3.send(new GetObjectCommand({ Bucket, Key: path.slice(1) }))
      let n = 0
      for await (const c of r.Body as AsyncIterable<Uint8Array>) {
        n += c.length
        hash?.update(c)
      }
      return n
    },
    stop: async () => {
      s3.destroy()
      await t.stop()
    },
  }
}

const results: Record<string, Record<string, number[]>> = {}
const rec = (who: string, what: string, v: number) => {
  const byWhat = results[who] ?? {}
  results[who] = byWhat
  const values = byWhat[what] ?? []
  byWhat[what] = values
  values.push(v)
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!

/** One cell: `count` operations, `conc` at a time; MB/s and CPU per GiB of each party. */
async function cell(
  t: Target,
  what: string,
  conc: number,
  count: number,
  bytes: number,
  op: (i: number) => Promise<number>,
) {
  const nodes0 = t.nodePids.reduce((s, p) => s + cpuOf(p), 0)
  const cpu = cellCpu(t.pid)
  const r = await load(op, { concurrency: conc, maxOps: count, minOps: count, maxMs: 0 })
  if (r.errors) throw new Error(`${t.name} ${what}: ${r.errors} errors, first: ${r.firstError}\n${t.stderr()}`)
  if (r.bytes !== bytes) throw new Error(`${t.name} ${what}: moved ${r.bytes} of ${bytes} bytes`)
  const c = cpu()!
  const nodes = t.nodePids.reduce((s, p) => s + cpuOf(p), 0) - nodes0
  const gib = bytes / GiB
  rec(t.name, `${what} MB/s`, r.mbps)
  rec(t.name, `${what} gateway s/GiB`, (c.main + c.other) / gib)
  if (t.nodePids.length) rec(t.name, `${what} nodes s/GiB`, nodes / gib)
  rec(t.name, `${what} client s/GiB`, c.client / gib)
  // rest: the machine's busy time minus gateway and client (cellCpu), minus the nodes here.
  rec(t.name, `${what} other s/GiB`, Math.max(0, c.rest - nodes) / gib)
  console.error(`  ${t.name.padEnd(14)} ${what.padEnd(16)} ${r.mbps.toFixed(1)} MB/s`)
}

async function round(t: Target): Promise<void> {
  for (const c of CELLS) {
    await cell(t, `PUT ${c.name}`, c.conc, c.count, c.size * c.count, async (i) => {
      await t.put(`/${c.prefix}${i}`, patternStream(c.size, i + 1).stream, c.size)
      return c.size
    })
  }
  execFileSync('sync') // untimed, as bench/s3.ts: no GET pays for the PUTs' writeback
  for (const c of CELLS) {
    await cell(t, `GET ${c.name}`, c.conc, c.count, c.size * c.count, async (i) => {
      const n = await t.get(`/${c.prefix}${i}`)
      if (n !== c.size) throw new Error(`GET returned ${n} of ${c.size} bytes`)
      return n
    })
  }
}

/**
 * MB/s of the last full `--peer ceph` run (bench/results/latest.md, commit 896c154): Ceph RGW
 * and six-node Coffer, quoted for the comparison (not measured here).
 */
const LAST_FULL_RUN: Record<string, { ceph: number; cofferSixNode: number }> = {
  'PUT 256 MiB ×1': { ceph: 109.4, cofferSixNode: 79.3 },
  'GET 256 MiB ×1': { ceph: 241.3, cofferSixNode: 158 },
  'PUT 16 MiB ×8': { ceph: 108.0, cofferSixNode: 85.8 },
  'GET 16 MiB ×8': { ceph: 265.8, cofferSixNode: 103 },
}

/** Medians of this run beside the last full run's Ceph and six-node figures. */
function compare(): void {
  const mb = (who: string, what: string) => {
    const v = results[who]?.[`${what} MB/s`]
    return v ? med(v) : undefined
  }
  const f = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(1))
  const r = (a: number | undefined, b: number) => (a === undefined ? '–' : `${(a / b).toFixed(2)}×`)
  console.log(
    '\n| workload | relay mtls | relay tcp | https ceiling | coffer 6 nodes | ceph (last full run) | coffer 6 nodes (last full run) | mtls / ceph | tcp / ceph |',
  )
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const [what, last] of Object.entries(LAST_FULL_RUN)) {
    const m = mb('relay mtls', what)
    const t = mb('relay tcp', what)
    console.log(
      `| ${what} | ${f(m)} | ${f(t)} | ${f(mb('https ceiling', what))} | ${f(mb('coffer 6 nodes', what))} | ${last.ceph} | ${last.cofferSixNode} | ${r(m, last.ceph)} | ${r(t, last.ceph)} |`,
    )
  }
}

const tmp = tempDir('coffer-relay-')
try {
  const front = selfSignedCert(tmp.dir)
  const targets: Target[] = []
  for (const v of VARIANTS) {
    if (/^(mtls|tcp)(-nosync)?$/.test(v)) targets.push(await startRelay(v, join(tmp.dir, v), front))
    else if (v === 'ceiling') {
      // bench/https-ceiling.ts's server, started here so that the same client drives it.
      const dir = join(tmp.dir, 'ceiling')
      execFileSync('mkdir', ['-p', dir])
      const p = await spawnEntry('https ceiling', join(import.meta.dirname, 'lib/ceiling-server.ts'), [
        dir,
        front.keyFile,
        front.certFile,
      ])
      const c = client(p.port, front.cert)
      targets.push({
        name: 'https ceiling',
        pid: p.pid,
        nodePids: [],
        stderr: p.stderr,
        put: c.put,
        get: c.get,
        cipher: () => `${c.cipher()} (one hop)`,
        stop: async () => {
          c.destroy()
          await p.stop()
        },
      })
    } else if (v === 'coffer') targets.push(await startCoffer())
    else throw new Error(`unknown variant ${v} (mtls, tcp, ceiling, mtls-nosync, tcp-nosync, coffer)`)
  }
  // Untimed warm-up (connections, JIT, the first files of each node) that also checks the
  // relay gives back the bytes it was given: stripes cut and joined in the right order.
  for (const t of targets) {
    const sent = patternStream(4 * MiB, 7)
    await t.put('/warm', sent.stream, 4 * MiB)
    const back = createHash('sha256')
    if ((await t.get('/warm', back)) !== 4 * MiB || back.digest('hex') !== sent.sha256())
      throw new Error(`${t.name}: the warm-up object came back different`)
  }
  console.error(`load at start ${loadavg()}`)
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of roundOrder(targets, r)) await round(t)
    console.error(`round ${r} done, load ${loadavg()}`)
  }
  for (const t of targets) console.log(`${t.name}: client ↔ gateway ${t.cipher()}`)
  for (const [who, m] of Object.entries(results))
    for (const [what, v] of Object.entries(m))
      console.log(
        `${who.padEnd(14)} ${what.padEnd(32)} median ${med(v).toFixed(2).padStart(7)}  all ${v.map((x) => x.toPrecision(3)).join(' ')}`,
      )
  console.log(`load ${loadavg()}`)
  compare()
  for (const t of targets) await t.stop()
} finally {
  await cleanupAll()
}
