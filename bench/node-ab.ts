/**
 * Same-run A/B of Coffer on Node 20 and Node 24 (`npm run bench:node`): one embedded gateway (4+2,
 * D@RE on) per runtime — and per checkout when several are given, each with its own node_modules —
 * all started at once, then rounds that interleave them (order reversed every other round) over
 * the same S3 workloads and the same SDK client: PUT and GET of 4 KiB ×16, 16 MiB ×8, one 256 MiB
 * GET, and ListObjectsV2 pages of 1,000 among 10,000 keys. Per gateway and workload: the median
 * over rounds, the gateway's CPU seconds (all threads, /proc) per workload, and each runtime's
 * ratio to Node 20 of the same checkout (> 1: Node 24 faster). The load average is printed after
 * every round: the figures mean little without it.
 *
 * Node 20 is the `node` running this script; Node 24 is bin/node24.mjs's (installed into a cache
 * directory on first use, or COFFER_NODE24). Usage:
 *   npm run bench:node -- [CHECKOUT …] [--rounds N] [--quick] [--only put4k,get4k,…]
 *     [--node24-args "--flag …"] [--prof DIR]
 * --prof runs every gateway with --cpu-prof into DIR/<gateway>; --node24-args adds Node options to
 * the Node 24 gateways only (e.g. to A/B a V8 flag).
 */
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { node24Path } from '../bin/node24.mjs'
import type { TestServer } from '../test/helpers/server.ts'
import { createBucket, fillCofferMeta, getCell, listKey, putCell } from './lib/s3-load.ts'
import { clientForServer } from './lib/targets.ts'

const WORKLOADS = ['put4k', 'get4k', 'put16m', 'get16m', 'get256m', 'list'] as const
type Workload = (typeof WORKLOADS)[number]

const { values: flags, positionals } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'node24-args': { type: 'string', default: '' },
    prof: { type: 'string' },
  },
  allowPositionals: true,
})
const rounds = Number(flags.rounds)
const quick = flags.quick === true
const only = new Set((flags.only?.split(',') ?? WORKLOADS) as Workload[])
for (const w of only) if (!WORKLOADS.includes(w)) throw new Error(`--only: unknown workload ${w} (${WORKLOADS})`)
const checkouts = (positionals.length ? positionals : [resolve(import.meta.dirname, '..')]).map((c) => resolve(c))

const node24 = node24Path({ log: (m) => console.error(`node-ab: ${m}`) })
if (!node24) throw new Error('no Node 24 binary (see bin/node24.mjs); set COFFER_NODE24 to one')
const runtimes = [
  { label: 'node20', bin: process.execPath, extra: [] as string[] },
  { label: 'node24', bin: node24, extra: flags['node24-args'].split(' ').filter(Boolean) },
]

const KiB = 1024
const MiB = 1024 * KiB
const LIST_KEYS = 10_000
/** Ops per workload and round: enough to average over, few enough for a loaded 2-core machine. */
const OPS: Record<Workload, { size: number; concurrency: number; ops: number }> = {
  put4k: { size: 4 * KiB, concurrency: 16, ops: quick ? 160 : 480 },
  get4k: { size: 4 * KiB, concurrency: 16, ops: quick ? 320 : 960 },
  put16m: { size: 16 * MiB, concurrency: 8, ops: quick ? 8 : 16 },
  get16m: { size: 16 * MiB, concurrency: 8, ops: quick ? 16 : 32 },
  get256m: { size: 256 * MiB, concurrency: 1, ops: quick ? 1 : 2 },
  list: { size: 0, concurrency: 1, ops: quick ? 10 : 30 },
}

const cpuOf = (pid: number): number => {
  let s = 0
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  s += (Number(f[11]) + Number(f[12])) / 100 // utime + stime of all threads, USER_HZ 100
  return s
}

interface Gateway {
  name: string
  checkout: string
  runtime: string
  server: TestServer
  client: S3Client
}

const gateways: Gateway[] = []
const stopAll = () => Promise.all(gateways.map((g) => g.server.stop()))
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)))

/** results[gateway][metric] = one value per round */
const results: Record<string, Record<string, number[]>> = {}
const rec = (g: string, metric: string, v: number) => {
  const byMetric = results[g] ?? {}
  results[g] = byMetric
  const values = byMetric[metric] ?? []
  byMetric[metric] = values
  values.push(v)
}

async function runWorkload(g: Gateway, w: Workload, round: number): Promise<void> {
  const { size, concurrency, ops } = OPS[w]
  const c0 = cpuOf(g.server.pid)
  const opts = { concurrency, maxOps: ops, maxMs: 1e9, minOps: ops }
  if (w === 'list') {
    const lat: number[] = []
    for (let j = 0; j < ops; j++) {
      const t0 = performance.now()
      const out = await g.client.send(
        new ListObjectsV2Command({ Bucket: 'listb', MaxKeys: 1000, StartAfter: listKey((j * 487) % 9000, LIST_KEYS) }),
      )
      lat.push(performance.now() - t0)
      if ((out.KeyCount ?? 0) < 500) throw new Error(`${g.name}: short list page`)
    }
    lat.sort((a, b) => a - b)
    rec(g.name, 'list pages/s', 1000 / (lat.reduce((a, b) => a + b, 0) / lat.length))
  } else {
    const r = w.startsWith('put')
      ? await putCell(g.client, 'abench', `p${round}`, size, opts)
      : await getCell(g.client, 'abench', `g${w}`, size, w === 'get4k' ? 64 : 4, opts)
    // A failed request (e.g. a client timeout on a heavily loaded machine) is counted and shown, not fatal.
    if (r.errors) {
      rec(g.name, `${w} errors`, r.errors)
      console.error(`${g.name} ${w} round ${round + 1}: ${r.errors} errors, first: ${r.firstError}`)
    }
    rec(g.name, size < MiB ? `${w} ops/s` : `${w} MB/s`, size < MiB ? r.opsPerSec : r.mbps)
  }
  rec(g.name, `${w} cpu s`, cpuOf(g.server.pid) - c0)
}

const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')
/** Starts every checkout × runtime gateway and writes the objects the GET and list workloads read. */
async function startGateways(): Promise<void> {
  for (const checkout of checkouts) {
    // Each checkout's own helper, so each gateway runs that checkout's code.
    const { startServer } = (await import(
      `${checkout}/test/helpers/server.ts`
    )) as typeof import('../test/helpers/server.ts')
    for (const rt of runtimes) {
      const name = `${checkouts.length > 1 ? `${checkout.split('/').pop()}:` : ''}${rt.label}`
      const prof = flags.prof ? ['--cpu-prof', `--cpu-prof-dir=${resolve(flags.prof, name)}`] : []
      const server = await startServer({
        env: { COFFER_HEAL_INTERVAL_MS: '3600000', COFFER_SCRUB_INTERVAL_MS: '3600000' },
        // The same command line, run by the other binary (bin/coffer.mjs picks its loader by version).
        wrap: (_cmd, argv) => ({ cmd: rt.bin, argv: [...rt.extra, ...prof, ...argv] }),
      })
      const client = clientForServer(name, server, 'default')
      gateways.push({ name, checkout, runtime: rt.label, server, client })
      await createBucket(client, 'abench')
      if (only.has('list')) {
        await createBucket(client, 'listb')
        await client.send(new PutObjectCommand({ Bucket: 'listb', Key: 'template', Body: '' }))
        await fillCofferMeta(server.dataDir, 'listb', 'listb', LIST_KEYS)
      }
      // Objects for the GET workloads, written once (the PUT workloads write under other keys).
      for (const w of ['get4k', 'get16m', 'get256m'] as const)
        if (only.has(w)) {
          const { size } = OPS[w]
          await putCell(client, 'abench', `g${w}`, size, { concurrency: 4, maxOps: w === 'get4k' ? 64 : 4, maxMs: 1e9 })
        }
    }
  }
}

try {
  await startGateways()
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...gateways].reverse() : gateways
    for (const w of WORKLOADS) if (only.has(w)) for (const g of order) await runWorkload(g, w, r)
    console.error(`round ${r + 1}/${rounds} done, load average ${load()}`)
  }
} finally {
  await stopAll()
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}
/** Errors add up over rounds (a round without any records none); every other metric is a median. */
const summary = (m: string, a: number[] | undefined) =>
  m.endsWith('errors') ? (a ?? []).reduce((x, y) => x + y, 0) : median(a ?? [Number.NaN])
const metrics = [...new Set(Object.values(results).flatMap((m) => Object.keys(m)))]
const baseOf = (g: Gateway) => gateways.find((b) => b.checkout === g.checkout && b.runtime === 'node20')!
console.log(
  `\nCoffer on Node 20 (${process.version}) and Node 24, ${rounds} interleaved rounds, medians (errors: sums)`,
)
console.log(`${'metric'.padEnd(18)} ${gateways.map((g) => g.name.padStart(22)).join(' ')}`)
for (const m of metrics) {
  const cells = gateways.map((g) => {
    const v = summary(m, results[g.name]?.[m])
    const base = summary(m, results[baseOf(g).name]?.[m])
    const ratio = g.runtime === 'node20' ? '' : ` (${(v / base).toFixed(2)}×)`
    return `${v.toFixed(m.includes('cpu') ? 2 : 1)}${ratio}`.padStart(22)
  })
  console.log(`${m.padEnd(18)} ${cells.join(' ')}`)
}
console.log(`(× = Node 24 / Node 20 of the same checkout; for cpu s lower is better) load average ${load()}`)
