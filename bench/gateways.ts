/**
 * Throughput through one gateway beside two (`--only gateways`), in the same run on the same
 * cluster: six `coffer node`s (4+2), sqld from `coffer meta-server`, two `coffer server`s sharing
 * both. 8 clients PUT then GET 256 KiB objects for a fixed time, first all through gateway A,
 * then split over A and B. On a 2-core machine every process shares the same cores, so this
 * shows what a second gateway costs or gives there, not what it gives on separate machines.
 */
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { freePorts, initCluster, type NodeProc, startNode, stopNode } from '../test/helpers/nodes.ts'
import { bodyBytes, s3Client } from '../test/helpers/s3-client.ts'
import { randomCredentials, startServer, type TestServer } from '../test/helpers/server.ts'
import { startMetaServer } from '../test/helpers/sqld.ts'
import { tempDir } from './lib/child.ts'
import { onCleanup } from './lib/cleanup.ts'
import type { Metric, SuiteResult } from './lib/report.ts'
import type { SuiteContext } from './lib/suite.ts'

const NODES = 6
const CLIENTS = 8
const OBJECT_BYTES = 256 * 1024
const QUIET = { COFFER_HEAL_INTERVAL_MS: '3600000', COFFER_SCRUB_INTERVAL_MS: '3600000' }

interface Phase {
  ops: number
  bytes: number
  ms: number
  errors: number
}

/** `CLIENTS` loops, client i through clients[i % clients.length], each doing `op(i, n)` until `ms` pass. */
async function drive(
  clients: S3Client[],
  ms: number,
  op: (c: S3Client, client: number, n: number) => Promise<number>,
): Promise<Phase> {
  const end = performance.now() + ms
  const t0 = performance.now()
  let ops = 0
  let bytes = 0
  let errors = 0
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      for (let n = 0; performance.now() < end; n++) {
        try {
          // Not `bytes += await …`: that reads `bytes` before the await and loses the others' adds.
          const got = await op(clients[i % clients.length]!, i, n)
          bytes += got
          ops++
        } catch {
          errors++
        }
      }
    }),
  )
  return { ops, bytes, ms: performance.now() - t0, errors }
}

export async function runGateways(ctx: SuiteContext): Promise<SuiteResult> {
  const t0 = performance.now()
  const phaseMs = ctx.quick ? 8_000 : 20_000
  const tmp = tempDir('coffer-bench-gateways-')
  const root = tmp.dir
  const clusterFile = join(root, 'cluster.json')
  initCluster(clusterFile)
  const nodes: NodeProc[] = (await freePorts(NODES)).map((port, i) => ({
    port,
    dataDir: join(root, `node-${i}`),
    url: `https://127.0.0.1:${port}`,
    log: '',
  }))
  const stops: (() => Promise<void>)[] = []
  try {
    ctx.progress.status('gateways: starting nodes, sqld and two gateways')
    await Promise.all(nodes.map((n) => startNode(n, clusterFile)))
    stops.push(onCleanup('bench nodes', () => Promise.all(nodes.map((n) => stopNode(n))).then(() => {})))
    const sqld = await startMetaServer(clusterFile, join(root, 'meta'))
    stops.push(onCleanup('bench sqld', () => sqld.stop()))
    const keyFile = join(root, 'master.key')
    await writeFile(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 })
    const creds = randomCredentials()
    const env = {
      ...QUIET,
      COFFER_MASTER_KEY_FILE: keyFile,
      COFFER_ROOT_ACCESS_KEY: creds.accessKeyId,
      COFFER_ROOT_SECRET_KEY: creds.secretAccessKey,
    }
    const gateways: TestServer[] = []
    for (const name of ['gw-a', 'gw-b']) {
      const g = await startServer({
        dataDir: join(root, name),
        args: ['--cluster', clusterFile, '--meta', sqld.url, '--nodes', nodes.map((n) => n.url).join(',')],
        env,
      })
      gateways.push(g)
      stops.push(onCleanup(`bench ${name}`, () => g.stop(), { pid: g.pid }))
    }
    const [a, b] = gateways.map((g) => s3Client(g))
    stops.push(async () => {
      a!.destroy()
      b!.destroy()
    })
    const Bucket = 'gateways-bench'
    await a!.send(new CreateBucketCommand({ Bucket }))
    const body = Buffer.alloc(OBJECT_BYTES, 3)
    const rows: string[][] = []
    const metrics: Metric[] = []
    for (const [label, clients] of [
      ['one gateway', [a!]],
      ['two gateways', [a!, b!]],
    ] as const) {
      const prefix = label.replace(' ', '-')
      // Per client: how many of its keys were written (a PUT cut by the phase's end may be missing).
      const written = new Array<number>(CLIENTS).fill(0)
      const puts = await drive([...clients], phaseMs, async (c, i, n) => {
        await c.send(new PutObjectCommand({ Bucket, Key: `${prefix}/${i}/${n}`, Body: body }))
        written[i] = n + 1
        return OBJECT_BYTES
      })
      const gets = await drive([...clients], phaseMs, async (c, i, n) => {
        const r = await c.send(new GetObjectCommand({ Bucket, Key: `${prefix}/${i}/${n % Math.max(1, written[i]!)}` }))
        return (await bodyBytes(r.Body)).length
      })
      for (const [op, p] of [
        ['PUT', puts],
        ['GET', gets],
      ] as const) {
        const mbs = p.bytes / 1e6 / (p.ms / 1000)
        rows.push([label, op, String(CLIENTS), (p.ops / (p.ms / 1000)).toFixed(1), mbs.toFixed(1), String(p.errors)])
        metrics.push({
          suite: 'gateways',
          case: `${op} 256KiB c${CLIENTS}`,
          target: label,
          value: Number(mbs.toFixed(2)),
          unit: 'MB/s',
          extra: { opsPerS: Number((p.ops / (p.ms / 1000)).toFixed(1)), errors: p.errors },
        })
      }
    }
    return {
      name: 'gateways',
      ms: performance.now() - t0,
      tables: [
        {
          title: `Throughput through one gateway and through two on one sqld (6 nodes, 4+2, 256 KiB objects, ${phaseMs / 1000} s per phase)`,
          columns: ['through', 'op', 'clients', 'ops/s', 'MB/s', 'errors'],
          rows,
          notes: [
            'Same run, same cluster: every process (nodes, sqld, gateways, clients) shares this machine’s cores.',
          ],
        },
      ],
      metrics,
      notes: [],
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {})
    await tmp.remove()
  }
}
