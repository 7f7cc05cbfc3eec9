/**
 * Same-run A/B of listing between checkouts (e.g. main's build and a branch, each with its own
 * node_modules): every checkout's embedded gateway is started at once, each gets buckets of 10k
 * and 100k keys (`p0000/k0000000`…: 1,000 top-level prefixes, rows copied from a real 0-byte
 * object with one SQL statement, bench/lib/s3-load.ts), then rounds interleave the checkouts
 * (order reversed every other round). Per case: PAGES pages through the AWS SDK, median ms per
 * page (client included: the SDK parses the XML) and the gateway's CPU ms per page (/proc, the
 * server's own cost). Prints the load average with every round.
 * Usage: node --import tsx bench/list-ab.ts CHECKOUT [CHECKOUT …]
 * Env: ROUNDS (default 2), PAGES (default 7), SIZES (default 10000,100000), CASES (a regular
 * expression: only the cases whose name matches), PROF=dir (gateways run with --cpu-prof into dir/<n>).
 */
import {
  CreateBucketCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { abArgs, cpuOf, loadavg, roundOrder, startGateways } from './lib/ab.ts'
import { fillCofferMeta, listKey } from './lib/s3-load.ts'

const { roots } = abArgs()
const rounds = Number(process.env.ROUNDS ?? 2)
const pages = Number(process.env.PAGES ?? 7)
const sizes = (process.env.SIZES ?? '10000,100000').split(',').map(Number)

/** One listing request; returns the entries on the page (checked against `expect`). */
type Case = { name: string; expect: number; run: (c: S3Client, bucket: string) => Promise<number> }
const only = new RegExp(process.env.CASES ?? '')
const cases = (n: number): Case[] => allCases(n).filter((c) => only.test(c.name))
const allCases = (n: number): Case[] => {
  const middle = listKey(Math.floor(n / 2), n)
  const v2 = async (c: S3Client, Bucket: string, more: Record<string, string | number>) => {
    const r = await c.send(new ListObjectsV2Command({ Bucket, MaxKeys: 1000, ...more }))
    return (r.Contents?.length ?? 0) + (r.CommonPrefixes?.length ?? 0)
  }
  return [
    { name: 'v2 first page', expect: 1000, run: (c, b) => v2(c, b, {}) },
    { name: 'v2 middle page', expect: 1000, run: (c, b) => v2(c, b, { StartAfter: middle }) },
    { name: "v2 delimiter '/' (1,000 prefixes)", expect: 1000, run: (c, b) => v2(c, b, { Delimiter: '/' }) },
    // 100 prefixes p0500/ … p0599/ under 'p05'.
    { name: "v2 prefix 'p05' delimiter '/'", expect: 100, run: (c, b) => v2(c, b, { Prefix: 'p05', Delimiter: '/' }) },
    // Keys with a '9' past the start roll up at it, the others are keys: a page mixing both.
    { name: "v2 delimiter '9' (mixed)", expect: 1000, run: (c, b) => v2(c, b, { Delimiter: '9' }) },
    {
      name: 'v1 middle page',
      expect: 1000,
      run: async (c, Bucket) => {
        const r = await c.send(new ListObjectsCommand({ Bucket, MaxKeys: 1000, Marker: middle }))
        return r.Contents?.length ?? 0
      },
    },
    {
      name: 'versions first page',
      expect: 1000,
      run: async (c, Bucket) => {
        const r = await c.send(new ListObjectVersionsCommand({ Bucket, MaxKeys: 1000 }))
        return r.Versions?.length ?? 0
      },
    },
    {
      name: "versions delimiter '/'",
      expect: 1000,
      run: async (c, Bucket) => {
        const r = await c.send(new ListObjectVersionsCommand({ Bucket, MaxKeys: 1000, Delimiter: '/' }))
        return (r.Versions?.length ?? 0) + (r.CommonPrefixes?.length ?? 0)
      },
    },
  ]
}

const targets = await startGateways(roots)
for (const { client, server } of targets) {
  await client.send(new CreateBucketCommand({ Bucket: 'template' }))
  await client.send(new PutObjectCommand({ Bucket: 'template', Key: 'template', Body: '' }))
  for (const n of sizes) {
    await client.send(new CreateBucketCommand({ Bucket: `list-${n}` }))
    await fillCofferMeta(server.dataDir, 'template', `list-${n}`, n)
  }
}

const res = new Map<string, number[]>()
const rec = (k: string, v: number) => res.set(k, [...(res.get(k) ?? []), v])
for (let r = 0; r < rounds; r++) {
  for (const t of roundOrder(targets, r)) {
    for (const n of sizes) {
      for (const c of cases(n)) {
        await c.run(t.client, `list-${n}`) // warm: connection, statement caches
        const ms: number[] = []
        const cpu0 = cpuOf(t.server.pid) * 1000
        for (let j = 0; j < pages; j++) {
          const t0 = performance.now()
          const got = await c.run(t.client, `list-${n}`)
          ms.push(performance.now() - t0)
          if (got !== c.expect) throw new Error(`${c.name} at ${n}: ${got} entries, expected ${c.expect}`)
        }
        ms.sort((a, b) => a - b)
        rec(`${n}\t${c.name}\t${t.root}\tms`, ms[Math.floor(ms.length / 2)]!)
        rec(`${n}\t${c.name}\t${t.root}\tcpu`, (cpuOf(t.server.pid) * 1000 - cpu0) / pages)
      }
    }
  }
  console.error(`round ${r} load ${loadavg()}`)
}
for (const t of targets) await t.server.stop()

const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!
console.log(`keys\tcase\t${roots.map((r) => `${r} ms/page (gateway CPU ms/page)`).join('\t')}\tratio`)
for (const n of sizes)
  for (const c of cases(n)) {
    const cells = roots.map((root) => ({
      ms: med(res.get(`${n}\t${c.name}\t${root}\tms`)!),
      cpu: med(res.get(`${n}\t${c.name}\t${root}\tcpu`)!),
    }))
    const ratio = cells.length > 1 ? (cells[0]!.ms / cells[cells.length - 1]!.ms).toFixed(2) : ''
    console.log(`${n}\t${c.name}\t${cells.map((x) => `${x.ms.toFixed(1)} (${x.cpu.toFixed(1)})`).join('\t')}\t${ratio}`)
  }
console.log(`load ${loadavg()}`)
