/**
 * Same-run A/B of 4 KiB objects between checkouts (e.g. main and a branch, each with its
 * node_modules): every target's gateway is started at once (embedded, 4+2, D@RE on, background
 * work quiet), then rounds interleave them (order reversed every other round). Per target and
 * round: 4 KiB PUT ×1, PUT ×16 and GET ×16 (ops/s and p99). Prints medians over the rounds and
 * the load average after each round (figures mean little without it).
 * Usage: node --import tsx bench/small-ab.ts TARGET [TARGET …], TARGET = CHECKOUT[+flag=value…]
 * (e.g. `../inline+--inline-max=0` for the same build with inlining off).
 * Env: ROUNDS (default 3), SECONDS (per cell, default 6), SIZE (bytes, default 4096: the rows are
 * named put4k… whatever it is).
 */
import os from 'node:os'
import { resolve } from 'node:path'
import type { S3Client } from '@aws-sdk/client-s3'
import type { TestServer } from '../test/helpers/server.ts'
import { createBucket, getCell, putCell } from './lib/s3-load.ts'
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
  const server = await startServer({ env, args: flags.flatMap((f) => f.split('=')) })
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
    const one = await putCell(t.client, 'small', `r${r}a`, SIZE, { concurrency: 1, maxOps: 1e9, maxMs: cellMs })
    const many = await putCell(t.client, 'small', `r${r}b`, SIZE, { concurrency: 16, maxOps: 1e9, maxMs: cellMs })
    const get = await getCell(t.client, 'small', `r${r}b`, SIZE, many.ops, {
      concurrency: 16,
      maxOps: 1e9,
      maxMs: cellMs,
    })
    for (const [what, c] of [
      ['put4k_x1', one],
      ['put4k_x16', many],
      ['get4k_x16', get],
    ] as const) {
      if (c.errors > 0) throw new Error(`${t.name} ${what}: ${c.errors} errors, first: ${c.firstError}`)
      rec(t.name, `${what}_ops`, c.opsPerSec)
      rec(t.name, `${what}_p99ms`, p99(c.latencies))
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
