/**
 * What a new gateway → node connection costs: CPU ms (gateway: this process; node: /proc) per
 * request on a fresh mutual-TLS connection each time, with the client's PEM material given per
 * connection (ca/cert/key: tls.connect builds a secure context for every socket) and with one
 * shared secure context (what cluster-fetch.ts does), against requests on one kept-alive
 * connection. One `coffer node` of CHECKOUT (default: this one). Variants alternate, ROUNDS times.
 * Usage: node --import tsx bench/node-conn.ts [CHECKOUT]. Env: N (150 requests per variant), ROUNDS (2).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { Agent, request } from 'node:https'
import os from 'node:os'
import { join, resolve } from 'node:path'
import { createSecureContext } from 'node:tls'
import { loadCluster } from '../src/runtime/cluster.ts'
import { issueClientCert } from '../src/runtime/tls-ca.ts'
import { cpuOf, initCluster, startNode, stopNode } from './lib/node-proc.ts'

const root = resolve(process.argv[2] ?? '.')
const N = Number(process.env.N ?? 150)
const ROUNDS = Number(process.env.ROUNDS ?? 2)
const tmp = mkdtempSync(join(os.tmpdir(), 'coffer-node-conn-'))
initCluster(root, join(tmp, 'cluster.json'))
const cluster = await loadCluster(join(tmp, 'cluster.json'))
const { child, port } = await startNode(root, cluster.path, join(tmp, 'node'))
const client = await issueClientCert(cluster)
const pem = { ca: cluster.caPem, cert: client.cert, key: client.key }
const shared = createSecureContext(pem)
const kept = new Agent({ keepAlive: true, secureContext: shared })

const health = (opts: object) =>
  new Promise<void>((res, rej) => {
    const r = request({ host: '127.0.0.1', port, path: '/v2/health', ...opts }, (s) => {
      s.resume()
      s.on('end', res)
    })
    r.on('error', rej)
    r.end()
  })
const variants: [string, object][] = [
  ['new connection, PEM per connection', { ...pem, agent: false }],
  ['new connection, shared secure context', { secureContext: shared, agent: false }],
  ['kept-alive connection', { agent: kept }],
]
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, opts] of variants) {
    const u0 = process.cpuUsage()
    const n0 = cpuOf(child.pid!)
    for (let i = 0; i < N; i++) await health(opts)
    const u = process.cpuUsage(u0)
    console.log(
      `${name.padEnd(38)} gateway ${((u.user + u.system) / 1000 / N).toFixed(2)} ms CPU per request, node ${(((cpuOf(child.pid!) - n0) * 1000) / N).toFixed(2)} ms, load ${os.loadavg()[0]!.toFixed(1)}`,
    )
  }
}
kept.destroy()
await stopNode(child)
rmSync(tmp, { recursive: true, force: true })
