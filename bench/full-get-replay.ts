/**
 * Replays the full run's embedded phase up to its 4 KiB GET cells (issue 15: those cells ran at
 * ≈ 240 ops/s at every concurrency in the full `--peer ceph` run, 509–657 in the quick run and in
 * the same run's later cells), with where every GET's CPU went. As bench/s3.ts does: an embedded
 * gateway and a second one with `--hash-workers 0`, cells paired (the first gateway's, then the
 * second's), the throughput PUT and GET cells (1 MiB ×1/×8 for 5 s, 16 MiB and BIG MiB ×1 (3 in a
 * row) and ×8), then 4 KiB PUT ×1/×8/×16/×32 for SMALL_MS each; then 4 KiB GET ×1/×8/×16 rounds:
 * twice with both gateways up, once after the second stopped. Each GET cell prints ops/s, p50 and
 * per request the gateway's request-thread and other-thread CPU, the client's (this process) and
 * the rest of the machine's (bench/lib/s3-load.ts cellCpu).
 * Usage: node --import tsx bench/full-get-replay.ts [CHECKOUT]   (default: this checkout)
 * Env: BIG (MiB, default 256), SMALL_MS (default 4000), NOTP=1 (skip the throughput cells).
 */
import { execFileSync } from 'node:child_process'
import { resolve } from 'node:path'
import type { S3Client } from '@aws-sdk/client-s3'
import { loadavg, startGateways } from './lib/ab.ts'
import { cellCpu, createBucket, getCell, putCell } from './lib/s3-load.ts'
import { summarize } from './lib/stats.ts'
import type { LoadOptions } from './lib/timing.ts'

const root = resolve(process.argv[2] ?? '.')
const MiB = 2 ** 20
const SMALL = 4096
const big = Number(process.env.BIG ?? 256) * MiB
const smallMs = Number(process.env.SMALL_MS ?? 4000)

interface Gw {
  name: string
  pid: number
  client: S3Client
  stop: () => Promise<void>
}
// That checkout's gateways (its own helper, so they run its code), quiet background work.
const gateways: Gw[] = (await startGateways([root, `${root}+--hash-workers=0`])).map((t, i) => ({
  name: i === 0 ? 'default' : '--hash-workers 0',
  pid: t.server.pid,
  client: t.client,
  stop: () => t.server.stop(),
}))
for (const g of gateways) await createBucket(g.client, 'bench')

/** bench/s3.ts planFor's cells (full run). */
const opts = (size: number, c: number): LoadOptions =>
  size >= 16 * MiB
    ? { concurrency: c, maxOps: c === 1 ? 3 : c, minOps: c === 1 ? 3 : c, maxMs: 0 }
    : { concurrency: c, maxOps: 50_000, minOps: c, maxMs: size <= SMALL ? smallMs : 5_000 }
const stored = new Map<string, number>()
const note = (g: Gw, prefix: string, size: number, ops: number) => {
  const k = `${g.name}|${prefix}|${size}`
  stored.set(k, Math.max(stored.get(k) ?? 0, ops))
}
const tp: [number, number][] = process.env.NOTP
  ? []
  : [
      [MiB, 1],
      [MiB, 8],
      [16 * MiB, 1],
      [16 * MiB, 8],
      [big, 1],
      [big, 8],
    ]
try {
  for (const [size, c] of tp)
    for (const g of gateways) note(g, 'tp', size, (await putCell(g.client, 'bench', 'tp', size, opts(size, c))).ops)
  for (const [size, c] of tp)
    for (const g of gateways) {
      execFileSync('sync')
      await getCell(g.client, 'bench', 'tp', size, stored.get(`${g.name}|tp|${size}`)!, opts(size, c))
    }
  console.log(`throughput cells done, load ${loadavg()}`)
  for (const c of [1, 8, 16, 32])
    for (const g of gateways) {
      const r = await putCell(g.client, 'bench', 'small', SMALL, opts(SMALL, c))
      note(g, 'small', SMALL, r.ops)
      console.log(`${g.name.padEnd(17)} PUT 4 KiB ×${c} ${r.opsPerSec.toFixed(0)} ops/s`)
    }
  const round = async (label: string, live: Gw[]) => {
    for (const c of [1, 8, 16])
      for (const g of live) {
        execFileSync('sync')
        const spent = cellCpu(g.pid)
        const r = await getCell(
          g.client,
          'bench',
          'small',
          SMALL,
          stored.get(`${g.name}|small|${SMALL}`)!,
          opts(SMALL, c),
        )
        const cpu = spent()
        const per = (s: number | undefined) => (s === undefined ? '–' : ((s * 1000) / Math.max(1, r.ops)).toFixed(2))
        console.log(
          `${label} ${g.name.padEnd(17)} GET 4 KiB ×${String(c).padEnd(2)} ${r.opsPerSec.toFixed(0).padStart(4)} ops/s p50 ${summarize(r.latencies).p50.toFixed(1)} ms; ` +
            `CPU ms/GET: gateway ${per(cpu?.main)} + ${per(cpu?.other)}, client ${per(cpu?.client)}, rest ${per(cpu?.rest)}; load ${loadavg()}`,
        )
      }
  }
  await round('both up ', gateways)
  await round('again   ', gateways)
  const second = gateways.pop()!
  second.client.destroy()
  await second.stop()
  await round('one up  ', gateways)
} finally {
  for (const g of gateways) {
    g.client.destroy()
    await g.stop()
  }
}
