/**
 * Same-run A/B of the big-PUT path between checkouts (e.g. main and a branch, each with its
 * node_modules): every checkout's gateway is started at once (embedded, 4+2, D@RE on; the SDK's
 * default checksum), then rounds interleave them (order reversed every other
 * round). Per checkout and round: 16 PUTs of 16 MiB 8 at a time, 64 PUTs of 1 MiB 8 at a time,
 * 2 PUTs of 64 MiB one after the other — MB/s and gateway CPU (user + system, /proc) seconds per
 * GiB received (and of it system time: the kernel's share; and the main thread's alone: the request
 * thread, less noisy than the whole process). Prints medians with every round's value, and the load average after each round.
 * Usage: node --import tsx bench/put-ab.ts CHECKOUT [CHECKOUT …] [--no16] [--no1] [--no64]
 * Env: ROUNDS (default 3), PROF=dir and NODE_FLAGS (bench/lib/ab.ts; WINDOW lines on stderr give
 * the monotonic µs bounds of each phase, to cut a profile).
 */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { patternStream } from '../test/helpers/big-object.ts'
import { AbResults, abArgs, cpuSplitOf, loadavg, mainThreadCpuOf, mbPerS, roundOrder, startGateways } from './lib/ab.ts'
import { bufferOf } from './lib/s3-load.ts'

const { roots, flags } = abArgs()
const rounds = Number(process.env.ROUNDS ?? 3)
const MiB = 1024 * 1024

const targets = await startGateways(roots)
for (const t of targets) await t.client.send(new CreateBucketCommand({ Bucket: 'putb' }))
const bodies = new Map<number, Uint8Array>([[1, bufferOf(MiB, 1)]])
const cells = [
  { name: 'put16x8', size: 16, streams: 8, each: 2, skip: flags.has('--no16') },
  { name: 'put1x8', size: 1, streams: 8, each: 8, skip: flags.has('--no1') },
  { name: 'put64x1', size: 64, streams: 1, each: 2, skip: flags.has('--no64') },
].filter((c) => !c.skip)

/**
 * As the suite sends them (bench/lib/s3-load.ts): up to 8 MiB from a buffer (the SDK then sends a
 * literal SHA-256 the gateway verifies), larger ones as a stream (aws-chunked, CRC32 trailer).
 */
const BUFFERED_MAX = 8 * MiB
const bodyFor = (size: number, seed: number) =>
  size * MiB <= BUFFERED_MAX ? bodies.get(size)! : patternStream(size * MiB, seed).stream

const res = new AbResults()
for (let r = 0; r < rounds; r++) {
  for (const t of roundOrder(targets, r)) {
    for (const cell of cells) {
      const length = cell.size * MiB
      const c0 = cpuSplitOf(t.server.pid)
      const m0 = mainThreadCpuOf(t.server.pid)
      console.error(`WINDOW ${t.root} ${cell.name} start ${process.hrtime.bigint() / 1000n}`)
      const t0 = performance.now()
      await Promise.all(
        Array.from({ length: cell.streams }, async (_, s) => {
          for (let j = 0; j < cell.each; j++)
            await t.client.send(
              new PutObjectCommand({
                Bucket: 'putb',
                Key: `${cell.name}/${s}/${j}`,
                Body: bodyFor(cell.size, s * 100 + j + 1),
                ContentLength: length,
              }),
            )
        }),
      )
      const ms = performance.now() - t0
      console.error(`WINDOW ${t.root} ${cell.name} end ${process.hrtime.bigint() / 1000n}`)
      const bytes = cell.streams * cell.each * length
      res.rec(t.root, `${cell.name}_MBps`, mbPerS(bytes, ms))
      const c1 = cpuSplitOf(t.server.pid)
      const gib = bytes / 2 ** 30
      res.rec(t.root, `${cell.name}_cpu_s_GiB`, (c1.user - c0.user + c1.system - c0.system) / gib)
      res.rec(t.root, `${cell.name}_sys_s_GiB`, (c1.system - c0.system) / gib)
      res.rec(t.root, `${cell.name}_main_s_GiB`, (mainThreadCpuOf(t.server.pid) - m0) / gib)
    }
  }
  console.error(`round ${r} load ${loadavg()}`)
}
for (const t of targets) await t.server.stop()
res.print()
