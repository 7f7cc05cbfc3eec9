/**
 * CPU of joining a remote shard's 16 KiB pieces (TLS records) into 256 KiB blocks, the
 * ExactReader step of every six-node GET: into fresh buffers, or into a BytePool whose buffers the
 * consumer releases (as decrypt-stream does). Same process, interleaved rounds; prints medians.
 * Usage: node --import tsx bench/block-join.ts   Env: ROUNDS (8), MIB (256)
 */
import { ExactReader } from '../src/storage/block-cursor.ts'
import { BytePool, releaseBytes } from '../src/util/byte-pool.ts'

const PIECE = 16 * 1024
const UNIT = 256 * 1024 + 4 // a default block and its CRC32
const TOTAL = Number(process.env.MIB ?? 256) * 1024 * 1024
const ROUNDS = Number(process.env.ROUNDS ?? 8)

/** Fresh 16 KiB pieces, as a TLS socket hands them over. */
function pieces(): ReadableStream<Uint8Array> {
  let sent = 0
  return new ReadableStream(
    {
      pull(c) {
        if (sent >= TOTAL) return c.close()
        sent += PIECE
        c.enqueue(new Uint8Array(PIECE))
      },
    },
    { highWaterMark: 0 },
  )
}

/** CPU ms (user + system) to read every block once, each released after use. */
async function join(pool?: BytePool): Promise<number> {
  const r = new ExactReader(pieces().getReader(), pool)
  const t0 = process.cpuUsage()
  for (let i = 0; i < TOTAL / PIECE; i++) {
    const b = await r.read(UNIT)
    if (!b) break
    releaseBytes(b.subarray(0, UNIT - 4))
  }
  const d = process.cpuUsage(t0)
  return (d.user + d.system) / 1000
}

const pool = new BytePool(8 << 20)
const ms: Record<'fresh' | 'pooled', number[]> = { fresh: [], pooled: [] }
for (let round = 0; round < ROUNDS; round++) {
  for (const k of round % 2 ? (['pooled', 'fresh'] as const) : (['fresh', 'pooled'] as const)) {
    ms[k].push(await join(k === 'pooled' ? pool : undefined))
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!
for (const [k, v] of Object.entries(ms)) {
  console.log(
    `${k.padEnd(6)} median ${median(v).toFixed(0)} ms CPU per ${TOTAL >> 20} MiB  all ${v.map((x) => x.toFixed(0)).join(' ')}`,
  )
}
console.log(
  `load ${(await import('node:os'))
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
)
