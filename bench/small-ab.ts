/**
 * Same-run A/B of 4 KiB objects between checkouts (e.g. main and a branch, each with its
 * node_modules): every target's gateway is started at once (embedded, 4+2, D@RE on, background
 * work quiet), then rounds interleave them (order reversed every other round). Per target and
 * round: 4 KiB PUT ×1, PUT ×16 and GET ×16 (ops/s, p99, and the gateway's CPU ms per request from
 * /proc, all its threads: steadier than ops/s when the machine is loaded). Prints medians over the
 * rounds and the load average after each round (figures mean little without it).
 * Usage: node --import tsx bench/small-ab.ts TARGET [TARGET …], TARGET = CHECKOUT[+flag=value…]
 * (e.g. `../inline+--inline-max=0` for the same build with inlining off).
 * Env: ROUNDS (default 3), SECONDS (per cell, default 6), SIZE (bytes, default 4096: the rows are
 * named put4k… whatever it is), PROF=dir (gateways run with --cpu-prof into dir/<n>; WINDOW lines
 * on stderr give the monotonic µs bounds of each cell).
 */
import os from 'node:os'
import { resolve } from 'node:path'
import type { S3Client } from '@aws-sdk/client-s3'
import type { TestServer } from '../test/helpers/server.ts'
import { createBucket, getCell, putCell, threadCpu } from './lib/s3-load.ts'
import { clientFor } from './lib/targets.ts'

const rounds = Number(process.env.ROUNDS ?? 3)
const cellMs = Number(process.env.SECONDS ?? 6) * 1000
const SIZE = Number(process.env.SIZE ?? 4096)

const targets: { name: string; server: TestServer; client: S3Client }[] = []
for (const spec of process.argv.slice(2)) {
  const [dir, ...flags] = spec.split('+')
  const root = resolve(dir!)
  // Each checkout's own helper, so each gateway runs that checkout's code.
  const { startServer } = (await import(`${root}/test/helpers/server.ts`)) as typeof import('../test/helpers/server.ts')
  const env: Record<string, string> = { COFFER_HEAL_INTERVAL_MS: '3600000', COFFER_SCRUB_INTERVAL_MS: '3600000' }
  const profDir = `${process.env.PROF}/${targets.length}`
  const wrap = process.env.PROF
    ? (cmd: string, argv: string[]) => ({ cmd, argv: ['--cpu-prof', `--cpu-prof-dir=${profDir}`, ...argv] })
    : undefined
  const server = await startServer({ env, args: flags.flatMap((f) => f.split('=')), wrap })
  const client = clientFor(
    {
      name: spec,
      endpoint: server.endpoint,
      ca: server.caPem,
      accessKeyId: server.accessKeyId,
      secretAccessKey: server.secretAccessKey,
      pids: [server.pid],
      stop: () => server.stop(),
    },
    'default',
  )
  await createBucket(client, 'small')
  targets.push({ name: spec, server, client })
}

const res: Record<string, Record<string, number[]>> = {}
const rec = (who: string, what: string, v: number) => {
  const byWhat = res[who] ?? {}
  res[who] = byWhat
  const values = byWhat[what] ?? []
  byWhat[what] = values
  values.push(v)
}
const p99 = (l: number[]) => [...l].sort((a, b) => a - b)[Math.min(l.length - 1, Math.floor(l.length * 0.99))]!
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!

for (let r = 0; r < rounds; r++) {
  for (const t of r % 2 ? [...targets].reverse() : targets) {
    const cpuMs = () => {
      const c = threadCpu(t.server.pid)
      return c ? (c.main + c.other) * 1000 : Number.NaN
    }
    /** The cell, and the gateway CPU it took (ms, all threads), between WINDOW marks for PROF. */
    const measured = async <T>(what: string, cell: () => Promise<T>): Promise<{ c: T; ms: number }> => {
      if (process.env.PROF) console.error(`WINDOW ${what} start ${process.hrtime.bigint() / 1000n}`)
      const before = cpuMs()
      const c = await cell()
      const ms = cpuMs() - before
      if (process.env.PROF) console.error(`WINDOW ${what} end ${process.hrtime.bigint() / 1000n}`)
      return { c, ms }
    }
    const one = await measured('put4k_x1', () =>
      putCell(t.client, 'small', `r${r}a`, SIZE, { concurrency: 1, maxOps: 1e9, maxMs: cellMs }),
    )
    const many = await measured('put4k_x16', () =>
      putCell(t.client, 'small', `r${r}b`, SIZE, { concurrency: 16, maxOps: 1e9, maxMs: cellMs }),
    )
    const get = await measured('get4k_x16', () =>
      getCell(t.client, 'small', `r${r}b`, SIZE, many.c.ops, { concurrency: 16, maxOps: 1e9, maxMs: cellMs }),
    )
    for (const [what, { c, ms }] of [
      ['put4k_x1', one],
      ['put4k_x16', many],
      ['get4k_x16', get],
    ] as const) {
      if (c.errors > 0) throw new Error(`${t.name} ${what}: ${c.errors} errors, first: ${c.firstError}`)
      rec(t.name, `${what}_ops`, c.opsPerSec)
      rec(t.name, `${what}_p99ms`, p99(c.latencies))
      rec(t.name, `${what}_cpu_ms_per_op`, ms / c.ops)
    }
  }
  console.log(
    `round ${r + 1}/${rounds} done, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  )
}
for (const t of targets) await t.server.stop()
for (const [name, byWhat] of Object.entries(res)) {
  console.log(`\n${name}`)
  for (const [what, v] of Object.entries(byWhat))
    console.log(
      `  ${what.padEnd(18)} median ${median(v).toFixed(1).padStart(8)}  all ${v.map((x) => x.toFixed(1)).join(' ')}`,
    )
}
