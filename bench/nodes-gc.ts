/**
 * Where a six-node gateway's GET CPU goes between its request thread and the rest (V8's GC
 * helpers above all), and how many full GCs it runs: per checkout and round a fresh gateway over
 * six `coffer node` processes (4+2) runs with `--trace-gc`, takes one BIG_MIB object by PUT, then
 * serves it GETS times; prints the gateway's CPU for the GETs (all threads, and its main thread
 * from /proc/<pid>/task/<pid>/stat), and the mark-compacts and scavenges V8 logged meanwhile with
 * their main-thread pause. Checkouts alternate round by round (each needs its node_modules).
 * A target may add runtime flags for its gateway as bench/lib/ab.ts does: `CHECKOUT+node:--flag=value`.
 * PHASE=put measures PUTs instead: after the same unmeasured PUT, PUTS batches of CONC objects of
 * BIG_MIB stored at once (e.g. CONC=8 BIG_MIB=16 for issue 15's 16 MiB ×8 row); the figures are
 * the gateway's over those batches.
 * Usage: node --import tsx bench/nodes-gc.ts CHECKOUT [CHECKOUT …]
 * Env: ROUNDS (3), BIG_MIB (256), GETS (4); PHASE (get | put), PUTS (2), CONC (1)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join, resolve } from 'node:path'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { patternStream } from '../test/helpers/big-object.ts'
import { cpuOf, initCluster, startNode, stopNode } from './lib/node-proc.ts'
import { tlsAgent } from '../test/helpers/s3-client.ts'

const specs = process.argv.slice(2)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const BIG = Number(process.env.BIG_MIB ?? 256) * 1024 * 1024
const GETS = Number(process.env.GETS ?? 4)
const PUT_PHASE = process.env.PHASE === 'put'
const PUTS = Number(process.env.PUTS ?? 2)
const CONC = Number(process.env.CONC ?? 1)

/** CPU seconds (user + system, in clock ticks of 1/100 s) of one thread. */
const threadCpu = (pid: number, tid: number) => {
  const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}
/** The main-thread pause V8 logs for each GC line ("…, 7.76 / 0.08 ms"). */
const pauseMs = (lines: string[]) => lines.reduce((s, l) => s + Number(/, ([\d.]+) \/ [\d.]+ ms/.exec(l)?.[1] ?? 0), 0)

async function round(spec: string): Promise<string> {
  const [checkout, ...parts] = spec.split('+') as [string, ...string[]]
  const root = resolve(checkout)
  const flags = parts.filter((p) => p.startsWith('node:')).map((p) => p.slice('node:'.length))
  const { startServer } = (await import(`${root}/test/helpers/server.ts`)) as typeof import('../test/helpers/server.ts')
  const tmp = mkdtempSync(join(os.tmpdir(), 'coffer-nodes-gc-'))
  const cluster = join(tmp, 'cluster.json')
  initCluster(root, cluster)
  const nodes = await Promise.all(Array.from({ length: 6 }, (_, i) => startNode(root, cluster, join(tmp, `n${i}`), [])))
  const server = await startServer({
    dataDir: join(tmp, 'gateway'),
    args: ['--cluster', cluster, '--nodes', nodes.map((s) => `https://127.0.0.1:${s.port}`).join(',')],
    env: { COFFER_HEAL_INTERVAL_MS: '3600000', COFFER_SCRUB_INTERVAL_MS: '3600000' },
    wrap: (cmd, argv) => ({ cmd, argv: ['--trace-gc', ...flags, ...argv] }),
  })
  const client = new S3Client({
    endpoint: server.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpsAgent: tlsAgent(server, 64) }),
  })
  try {
    await client.send(new CreateBucketCommand({ Bucket: 'gcbench' }))
    await client.send(
      new PutObjectCommand({ Bucket: 'gcbench', Key: 'big', Body: patternStream(BIG, 1).stream, ContentLength: BIG }),
    )
    await new Promise((r) => setTimeout(r, 500)) // the PUT's GC lines arrive before the mark
    const from = server.stdout().length
    const all0 = cpuOf(server.pid)
    const main0 = threadCpu(server.pid, server.pid)
    const t0 = performance.now()
    const ops = PUT_PHASE ? PUTS * CONC : GETS
    if (PUT_PHASE) {
      for (let j = 0; j < PUTS; j++) {
        await Promise.all(
          Array.from({ length: CONC }, (_, c) =>
            client.send(
              new PutObjectCommand({
                Bucket: 'gcbench',
                Key: `p${c}`,
                Body: patternStream(BIG, j * CONC + c + 2).stream,
                ContentLength: BIG,
              }),
            ),
          ),
        )
      }
    } else {
      for (let j = 0; j < GETS; j++) {
        const o = await client.send(new GetObjectCommand({ Bucket: 'gcbench', Key: 'big' }))
        let n = 0
        for await (const c of o.Body as AsyncIterable<Uint8Array>) n += c.length
        if (n !== BIG) throw new Error(`GET returned ${n} bytes`)
      }
    }
    const secs = (performance.now() - t0) / 1000
    const gib = (ops * BIG) / 2 ** 30
    const all = (cpuOf(server.pid) - all0) / gib
    const main = (threadCpu(server.pid, server.pid) - main0) / gib
    const log = server.stdout().slice(from).split('\n')
    const mc = log.filter((l) => l.includes('Mark-Compact'))
    const sc = log.filter((l) => l.includes('Scavenge'))
    return (
      `${spec}: ${PUT_PHASE ? `PUT ${CONC}×` : 'GET '}${BIG / 2 ** 20} MiB ${((ops * BIG) / 1e6 / secs).toFixed(0)} MB/s; gateway CPU per GiB ${all.toFixed(2)} s ` +
      `(main thread ${main.toFixed(2)}, others ${(all - main).toFixed(2)}); per GiB ${(mc.length / gib).toFixed(0)} ` +
      `mark-compacts (${(pauseMs(mc) / gib).toFixed(0)} ms paused), ${(sc.length / gib).toFixed(0)} scavenges ` +
      `(${(pauseMs(sc) / gib).toFixed(0)} ms); load ${os.loadavg()[0]!.toFixed(2)}`
    )
  } finally {
    client.destroy()
    await server.stop()
    await Promise.all(nodes.map((n) => stopNode(n.child)))
    rmSync(tmp, { recursive: true, force: true })
  }
}

for (let r = 0; r < ROUNDS; r++) for (const spec of r % 2 ? [...specs].reverse() : specs) console.log(await round(spec))
