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
import { AbResults, abArgs, loadavg, roundOrder, startGateways } from './lib/ab.ts'
import { createBucket, getCell, putCell, threadCpu } from './lib/s3-load.ts'

const rounds = Number(process.env.ROUNDS ?? 3)
const cellMs = Number(process.env.SECONDS ?? 6) * 1000
const SIZE = Number(process.env.SIZE ?? 4096)

const targets = (await startGateways(abArgs().roots)).map((t) => ({ ...t, name: t.root }))
for (const t of targets) await createBucket(t.client, 'small')
const res = new AbResults()
const p99 = (l: number[]) => [...l].sort((a, b) => a - b)[Math.min(l.length - 1, Math.floor(l.length * 0.99))]!

for (let r = 0; r < rounds; r++) {
  for (const t of roundOrder(targets, r)) {
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
      res.rec(t.name, `${what}_ops`, c.opsPerSec)
      res.rec(t.name, `${what}_p99ms`, p99(c.latencies))
      res.rec(t.name, `${what}_cpu_ms_per_op`, ms / c.ops)
    }
  }
  console.log(`round ${r + 1}/${rounds} done, load average ${loadavg()}`)
}
for (const t of targets) await t.server.stop()
res.print()
