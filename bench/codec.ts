/**
 * Codec suite: Reed–Solomon encode and reconstruct (1..m lost shards, data and parity) across
 * geometries and shard sizes, the baseline wasm codec beside our SIMD kernel, in data bytes/s.
 */
import { randomFillSync } from 'node:crypto'
import type { ErasureCodec } from '../src/storage/codec.ts'
import { loadCodecs } from './lib/codecs.ts'
import type { Metric, SuiteResult, Table } from './lib/report.ts'
import type { SuiteContext } from './lib/suite.ts'
import { fmtMbps, fmtRatio, NA, sizeName } from './lib/table.ts'
import { micro } from './lib/timing.ts'

/** Each cell runs at least this long per codec, after a short warm-up. */
const CELL_MS = 500
const WARMUP_MS = 150
const KiB = 1024

interface Cell {
  k: number
  m: number
  shard: number
  /** Shard indexes lost before the call; empty means encode. */
  lost: number[]
  label: string
}

function patterns(k: number, m: number, quick: boolean): { lost: number[]; label: string }[] {
  const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i)
  const out = [{ lost: [] as number[], label: 'encode' }]
  for (let j = 1; j <= m; j++)
    if (!quick || j === 1 || j === m) out.push({ lost: range(0, j), label: `rebuild ${j} data` })
  if (m >= 2 && !quick) out.push({ lost: [0, ...range(k, m - 1)], label: `rebuild 1 data + ${m - 1} parity` })
  out.push({ lost: range(k, m), label: `rebuild ${m} parity` })
  return out
}

export function codecCells(quick: boolean): Cell[] {
  const geometries: [number, number][] = [
    [4, 2],
    [8, 4],
    [12, 4],
  ]
  const sizes = quick ? [256 * KiB] : [64 * KiB, 256 * KiB, 1024 * KiB]
  const cells: Cell[] = []
  for (const [k, m] of geometries) {
    for (const shard of sizes) for (const p of patterns(k, m, quick)) cells.push({ k, m, shard, ...p })
  }
  // Quick still shows how shard size moves the 4+2 encode figure.
  if (quick) for (const shard of [64 * KiB, 1024 * KiB]) cells.push({ k: 4, m: 2, shard, lost: [], label: 'encode' })
  return cells
}

interface Buffers {
  data: Uint8Array[]
  parity: Uint8Array[]
  /** Pristine copies of every shard, to check a reconstruct. */
  truth: Uint8Array[]
}

function buffers(k: number, m: number, shard: number, reference: ErasureCodec): Buffers {
  const data = Array.from({ length: k }, () => randomFillSync(new Uint8Array(shard)))
  const parity = Array.from({ length: m }, () => new Uint8Array(shard))
  reference.encode(data, parity)
  return { data, parity, truth: [...data, ...parity].map((b) => b.slice()) }
}

/** One timed operation on `codec`, plus a check that it produced the baseline's bytes. */
function operation(codec: ErasureCodec, cell: Cell, b: Buffers): { run: () => void; correct: () => boolean } {
  const { k, m, shard, lost } = cell
  if (lost.length === 0) {
    const parity = Array.from({ length: m }, () => new Uint8Array(shard))
    const run = () => codec.encode(b.data, parity)
    return {
      run,
      correct: () => {
        run()
        return parity.every((p, j) => equal(p, b.truth[k + j]!))
      },
    }
  }
  const present = Array.from({ length: k + m }, (_, i) => !lost.includes(i))
  const scratch = lost.map(() => new Uint8Array(shard))
  const shards: (Uint8Array | undefined)[] = b.truth.map((t, i) => (present[i] ? t : scratch[lost.indexOf(i)]))
  const run = () => void codec.reconstruct(shards, present, k, false)
  return {
    run,
    correct: () => {
      for (const s of scratch) s.fill(0)
      run()
      return lost.every((i, n) => equal(scratch[n]!, b.truth[i]!))
    },
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

export async function runCodec(ctx: SuiteContext): Promise<SuiteResult> {
  const started = performance.now()
  const { baseline, ours, oursMissing } = await loadCodecs(ctx.repoRoot)
  const cells = codecCells(ctx.quick)
  ctx.progress.plan(cells.length)
  const rows: string[][] = []
  const metrics: Metric[] = []
  const wrong: string[] = []
  let current: Buffers | undefined
  let currentKey = ''
  for (const cell of cells) {
    const { k, m, shard } = cell
    const key = `${k}+${m}/${shard}`
    if (key !== currentKey) current = buffers(k, m, shard, baseline)
    currentKey = key
    const name = `${cell.label} ${k}+${m} ${sizeName(shard)}`
    const bytesPerOp = k * shard // data bytes/s: the user's bytes, whatever is lost or rebuilt
    const measure = async (codec: ErasureCodec): Promise<number | 'wrong'> => {
      const op = operation(codec, cell, current!)
      if (!op.correct()) return 'wrong'
      return (await micro(op.run, { bytesPerOp, minMs: CELL_MS, warmupMs: WARMUP_MS })).mbps
    }
    ctx.progress.status(`codec ${name}`)
    const base = await measure(baseline)
    const results: [string, number | 'wrong'][] = [['baseline', base]]
    for (const o of ours) results.push([o.label, await measure(o.codec)])
    for (const [target, v] of results) {
      if (v === 'wrong') wrong.push(`${target} ${name}`)
      metrics.push({
        suite: 'codec',
        case: name,
        target,
        value: typeof v === 'number' ? v : null,
        unit: 'MB/s',
        extra: { k, m, shard, lost: cell.lost.length },
      })
    }
    if (!ours.length)
      metrics.push({
        suite: 'codec',
        case: name,
        target: 'simd',
        value: null,
        unit: 'MB/s',
        extra: { why: oursMissing ?? null },
      })
    const show = (v: number | 'wrong') => (v === 'wrong' ? 'WRONG BYTES' : fmtMbps(v))
    const ratio = (v: number | 'wrong') =>
      typeof base === 'number' && typeof v === 'number' ? fmtRatio(v / base) : '–'
    const oursCells = ours.length ? results.slice(1).flatMap(([, v]) => [show(v), ratio(v)]) : [NA, '–']
    rows.push([`${k}+${m}`, sizeName(shard), cell.label, show(base), ...oursCells])
    ctx.progress.step(`codec ${name}`)
  }
  const labels = ours.length ? ours.map((o) => o.label) : ['simd']
  const table: Table = {
    title: 'Reed–Solomon codec, data MB/s on one core',
    columns: [
      'geometry',
      'shard',
      'operation',
      'baseline MB/s',
      ...labels.flatMap((l) => [`${l} MB/s`, `${l}/baseline`]),
    ],
    rows,
    notes: [
      `baseline: ${baseline.name} (@subspace/reed-solomon-erasure.wasm); ours: ${ours.length ? ours.map((o) => `${o.label} = ${o.codec.name}`).join(', ') : `${NA} — ${oursMissing}`}.`,
      'Data bytes/s = k × shard size per call, on ordinary JS buffers (copied in and out of wasm memory, as the server calls it). ' +
        '"rebuild" fills every lost shard (data through the decode matrix, parity by re-encoding), checked byte for byte against the originals before timing.',
      `Each cell: ${WARMUP_MS} ms warm-up, then repeated for ≥ ${CELL_MS} ms.`,
    ],
  }
  const notes = wrong.length ? [`WRONG BYTES (not timed): ${wrong.join(', ')}`] : []
  return { name: 'codec', ms: performance.now() - started, tables: [table], metrics, notes }
}
