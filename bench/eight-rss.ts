/**
 * Issue 15's memory target (peak gateway RSS ≤ 300 MiB with eight 256 MiB transfers at once),
 * per phase: one embedded gateway per CHECKOUT (4+2, D@RE on, each that checkout's code) takes
 * eight 256 MiB PUTs at once, then serves eight GETs of them at once; the peak RSS (VmHWM, reset
 * through /proc/PID/clear_refs before each phase) of each phase is printed in MiB, with the phase's
 * MB/s (eight objects over its wall time: one load-sensitive figure beside it). With several
 * checkouts, every gateway is started first and the phases run one gateway at a time, the order
 * reversed every other round (ROUNDS, default 1), so that they share the machine's load alike.
 * PHASES=get runs the PUT phase in the first round only (the GETs need the objects), for more
 * GET rounds in the time; peaks move by ±30 MiB from round to round, so compare medians.
 * PHASES=…,dget adds eight degraded GETs (two of the six drive directories renamed away, as the
 * full run's degraded table does: every stripe rebuilt from parity), after the healthy ones.
 * NODES=6: each gateway stores on six `coffer node` processes of its checkout instead of six local
 * drives (distributed mode; the peak is still the gateway's; no dget phase).
 * MEMLOG=1: each gateway preloads bench/lib/mem-sampler.cjs, and each phase also prints the peaks
 * of process.memoryUsage() (heap used and total, external, arrayBuffers) and the whole of it at the
 * peak RSS sample — what of the peak is V8's heap and what is buffers. MEMLOG_GC=1 adds a full GC
 * every 500 ms and the largest live ArrayBuffer total after one (changes the RSS it measures).
 * PHASES=put16,… first runs the full run's 16 MiB ×8 PUT cell (24 PUTs, 8 at a time) on each gateway and
 * records its peak: in the full run the ×8 256 MiB cells come after it and start from what it left.
 * PAUSE_MS=N waits N ms before each phase (the full run has other cells between these: what a
 * gateway lets go of when idle shows only with a pause).
 * A CHECKOUT may carry environment for its gateway (and nodes' not) as in bench/lib/ab.ts:
 * `main+env:GLIBC_TUNABLES=glibc.malloc.arena_max=2` (the same code with and without a setting,
 * interleaved like two checkouts), and Node flags for the gateway's command line marked `node:`
 * (`main+node:--initial-old-space-size=64`; flags Node refuses in NODE_OPTIONS go here).
 * Usage: node --import tsx bench/eight-rss.ts CHECKOUT [CHECKOUT …]
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import os from 'node:os'
import { join, resolve } from 'node:path'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { specEnv } from './lib/ab.ts'
import { initCluster, startNode, stopNode } from './lib/node-proc.ts'

const specs = process.argv.slice(2).map((arg) => {
  const [dir, ...parts] = arg.split('+') as [string, ...string[]]
  const node = parts.filter((p) => p.startsWith('node:')).map((p) => p.slice('node:'.length))
  return { arg, root: resolve(dir), env: specEnv(parts), node }
})
const rounds = Number(process.env.ROUNDS ?? 1)
const phases = new Set((process.env.PHASES ?? 'put,get').split(','))
const nodeCount = Number(process.env.NODES ?? 0)
const memlog = process.env.MEMLOG === '1'
const size = 256 * 2 ** 20
const mib = (b: number) => (b / 2 ** 20).toFixed(0)
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')

interface Target {
  root: string
  pid: number
  dataDir: string
  s3: S3Client
  peakRss: (pid: number) => number
  patternStream: (size: number, seed: number) => { stream: unknown }
  memFile: string
}

/** MEMLOG: the sampler's peaks since the last call (it writes them on SIGUSR2 and starts over). */
async function memPeaks(t: Target): Promise<string | undefined> {
  if (!memlog) return undefined
  rmSync(t.memFile, { force: true })
  process.kill(t.pid, 'SIGUSR2')
  for (let i = 0; i < 50; i++) {
    try {
      const { peak, atRss } = JSON.parse(readFileSync(t.memFile, 'utf8'))
      const f = (m: Record<string, number>) =>
        `rss ${mib(m.rss!)} heapUsed ${mib(m.heapUsed!)} heapTotal ${mib(m.heapTotal!)} external ${mib(m.external!)} arrayBuffers ${mib(m.arrayBuffers!)}`
      const live =
        peak.liveArrayBuffers === undefined
          ? ''
          : ` | after a GC at most: arrayBuffers ${mib(peak.liveArrayBuffers)} heapUsed ${mib(peak.liveHeap)}`
      return `peaks: ${f(peak)} | at peak rss: ${f(atRss ?? peak)}${live}`
    } catch {
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  return 'sampler wrote nothing'
}
const targets: Target[] = []
const peaks: Record<string, number[]> = {}
const rates: Record<string, number[]> = {}
/** What to stop and remove at the end, in reverse order of start. */
const cleanups: { what: string; run: () => Promise<unknown> }[] = []
let failed = false
// A failed request or start stops every gateway and node started so far and removes their
// directories (eight 256 MiB objects per gateway: gigabytes left in /tmp otherwise).
try {
  for (const { arg, root, env, node } of specs) {
    // Each checkout's own helpers, so each gateway runs that checkout's code.
    const { patternStream, peakRss } = await import(`${root}/test/helpers/big-object.ts`)
    const { s3Client } = await import(`${root}/test/helpers/s3-client.ts`)
    const { startServer } = await import(`${root}/test/helpers/server.ts`)
    let nodes: ChildProcess[] = []
    let args: string[] = []
    const tmp = mkdtempSync(join(os.tmpdir(), 'coffer-eight-rss-'))
    cleanups.push({ what: tmp, run: async () => rmSync(tmp, { recursive: true, force: true }) })
    if (nodeCount > 0) {
      const cluster = join(tmp, 'cluster.json')
      initCluster(root, cluster)
      const started = await Promise.all(
        Array.from({ length: nodeCount }, (_, i) => startNode(root, cluster, join(tmp, `n${i}`))),
      )
      nodes = started.map((s) => s.child)
      cleanups.push({ what: `${arg} nodes`, run: () => Promise.all(nodes.map(stopNode)) })
      args = ['--cluster', cluster, '--nodes', started.map((s) => `https://127.0.0.1:${s.port}`).join(',')]
    }
    // Healing and scrubbing off, as in the full run: a degraded phase must not rebuild mid-read.
    const memFile = join(tmp, 'memlog.json')
    const server = await startServer({
      args,
      wrap: node.length ? (cmd: string, argv: string[]) => ({ cmd, argv: [...node, ...argv] }) : undefined,
      env: {
        COFFER_HEAL_INTERVAL_MS: '3600000',
        COFFER_SCRUB_INTERVAL_MS: '3600000',
        ...env,
        ...(memlog
          ? {
              NODE_OPTIONS: `${process.env.MEMLOG_GC === '1' ? '--expose-gc ' : ''}--require ${join(import.meta.dirname, 'lib/mem-sampler.cjs')}`,
              MEMLOG: memFile,
              MEMLOG_GC: process.env.MEMLOG_GC ?? '',
            }
          : {}),
      },
    })
    cleanups.push({
      what: `${arg} gateway`,
      run: async () => {
        // A gateway that failed a phase says why on its stderr.
        if (failed) console.error(`${arg} gateway stderr (last 3000 chars):\n${server.stderr().slice(-3000)}`)
        await server.stop()
      },
    })
    const s3 = s3Client(server) as S3Client
    await s3.send(new CreateBucketCommand({ Bucket: 'bbb' }))
    console.log(arg, 'idle', mib(peakRss(server.pid)))
    targets.push({ root: arg, pid: server.pid, dataDir: server.dataDir, s3, peakRss, patternStream, memFile })
  }
  const record = async (t: Target, phase: string, started: number, bytes = 8 * size) => {
    const v = t.peakRss(t.pid)
    const rate = bytes / ((performance.now() - started) * 1000)
    const key = `${t.root} ${phase}`
    peaks[key] = [...(peaks[key] ?? []), v]
    rates[key] = [...(rates[key] ?? []), rate]
    console.log(t.root, `${phase} peak`, mib(v), `${rate.toFixed(1)} MB/s`, `load ${load()}`)
    const m = await memPeaks(t)
    if (m) console.log(`  ${m}`)
  }
  /** Resets the peaks; returns the phase's start (its MB/s: eight objects over the phase's time). */
  const begin = async (t: Target) => {
    await new Promise((r) => setTimeout(r, Number(process.env.PAUSE_MS ?? 0)))
    writeFileSync(`/proc/${t.pid}/clear_refs`, '5')
    await memPeaks(t)
    return performance.now()
  }
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 ? [...targets].reverse() : targets) {
      if (phases.has('put16')) {
        const small = 16 * 2 ** 20
        const started = await begin(t)
        await Promise.all(
          Array.from({ length: 8 }, async (_, w) => {
            for (let j = 0; j < 3; j++)
              await t.s3.send(
                new PutObjectCommand({
                  Bucket: 'bbb',
                  Key: `m${w}-${j}`,
                  Body: t.patternStream(small, w * 3 + j).stream as never,
                  ContentLength: small,
                }),
              )
          }),
        )
        await record(t, 'put16x8', started, 24 * small)
      }
      if (r === 0 || phases.has('put')) {
        const started = await begin(t)
        await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            t.s3.send(
              new PutObjectCommand({
                Bucket: 'bbb',
                Key: `k${i}`,
                Body: t.patternStream(size, i).stream as never,
                ContentLength: size,
              }),
            ),
          ),
        )
        await record(t, 'put8', started)
      }
      const get8 = async (phase: string) => {
        const started = await begin(t)
        await Promise.all(
          Array.from({ length: 8 }, async (_, i) => {
            const o = await t.s3.send(new GetObjectCommand({ Bucket: 'bbb', Key: `k${i}` }))
            for await (const _c of o.Body as AsyncIterable<Uint8Array>);
          }),
        )
        await record(t, phase, started)
      }
      if (phases.has('get')) await get8('get8')
      if (phases.has('dget') && nodeCount === 0) {
        const away = [0, 1].map((d) => join(t.dataDir, 'drives', String(d)))
        for (const d of away) await rename(d, `${d}.away`)
        try {
          await get8('dget8')
        } finally {
          // The gateway may have made an empty drive directory meanwhile: the renamed one replaces it.
          for (const d of away) {
            await rm(d, { recursive: true, force: true })
            await rename(`${d}.away`, d)
          }
        }
      }
    }
  }
} catch (e) {
  failed = true
  throw e
} finally {
  for (const c of cleanups.reverse())
    await c.run().catch((e: unknown) => console.error(`stopping ${c.what}: ${String(e)}`))
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!
for (const [key, v] of Object.entries(peaks))
  console.log(
    `${key} median ${mib(med(v))} MiB  all ${v.map(mib).join(' ')}  MB/s median ${med(rates[key]!).toFixed(1)} all ${rates[key]!.map((r) => r.toFixed(1)).join(' ')}`,
  )
console.log(`load ${load()}`)
