/**
 * Codec speed, ours beside the baseline in the same run: encode and reconstruct (1..m data shards
 * lost) for 4+2, 8+4, 12+4 at 64 KiB, 256 KiB and 1 MiB shards. Node, Deno or Bun:
 *   node --import tsx wasm/measure.ts [--quick] [--ms 400]      (bench/ may import measureCodecs)
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import type { ErasureCodec } from '../src/storage/codec.ts'
import { createSimdCodec, type SimdCodec } from '../src/storage/codec-simd.ts'
import { createWasmCodec } from '../src/storage/codec-wasm.ts'

const here = dirname(fileURLToPath(import.meta.url))

/** Reads both kernel builds from wasm/ (what a runtime adapter does). */
export function simdWasmFiles(): { simd: Uint8Array<ArrayBuffer>; relaxed: Uint8Array<ArrayBuffer> } {
  return { simd: readFileSync(join(here, 'rs-simd.wasm')), relaxed: readFileSync(join(here, 'rs-relaxed-simd.wasm')) }
}

export function baselineWasmFile(): Uint8Array<ArrayBuffer> {
  const pkg = createRequire(join(here, '..', 'package.json')).resolve(
    '@subspace/reed-solomon-erasure.wasm/package.json',
  )
  return readFileSync(join(dirname(pkg), 'dist', 'reed_solomon_erasure_bg.wasm'))
}

export interface MeasureRow {
  k: number
  m: number
  shard: number
  op: string
  /** Data bytes per second, 10^6 units. */
  oursMBps: number
  /** Ours on shardViews buffers (no copy in or out). */
  inPlaceMBps: number
  baselineMBps: number
}

function random(len: number): Uint8Array {
  const b = new Uint8Array(len)
  for (let i = 0; i < len; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536))
  return b
}

/** Runs `fn` for at least `ms` after a warm-up; returns calls per second. */
function rate(fn: () => void, ms: number): number {
  const warm = performance.now() + Math.min(100, ms / 4)
  while (performance.now() < warm) fn()
  let calls = 0
  const t0 = performance.now()
  let t = t0
  while (t - t0 < ms) {
    for (let i = 0; i < 4; i++) fn()
    calls += 4
    t = performance.now()
  }
  return (calls * 1000) / (t - t0)
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** One cell: the operation on one codec's buffers, checked once before it is timed. */
function cell(
  codec: ErasureCodec,
  shards: Uint8Array[],
  truth: Uint8Array[],
  k: number,
  lost: number,
  ms: number,
): number {
  const m = shards.length - k
  const present = shards.map((_, i) => i >= lost)
  const fn =
    lost === 0
      ? () => codec.encode(shards.slice(0, k), shards.slice(k))
      : () => codec.reconstruct(shards.slice(), present, k)
  for (let i = 0; i < lost; i++) shards[i]!.fill(0)
  fn()
  for (let i = 0; i < k + m; i++)
    if (!same(shards[i]!, truth[i]!)) throw new Error(`${codec.name}: wrong shard ${i} (${k}+${m}, lost ${lost})`)
  return (rate(fn, ms) * k * shards[0]!.length) / 1e6
}

export function measureCodecs(
  opts: { quick?: boolean; ms?: number; ours?: SimdCodec; baseline?: ErasureCodec } = {},
): MeasureRow[] {
  const ms = opts.ms ?? (opts.quick ? 150 : 400)
  const ours = opts.ours ?? createSimdCodec(simdWasmFiles())
  const baseline = opts.baseline ?? createWasmCodec(baselineWasmFile())
  const rows: MeasureRow[] = []
  const sizes = opts.quick ? [256 * 1024] : [64 * 1024, 256 * 1024, 1024 * 1024]
  for (const [k, m] of [
    [4, 2],
    [8, 4],
    [12, 4],
  ] as const) {
    for (const shard of sizes) {
      const truth = Array.from({ length: k }, () => random(shard))
      const parity = Array.from({ length: m }, () => new Uint8Array(shard))
      baseline.encode(truth, parity)
      truth.push(...parity)
      const plain = truth.map((b) => b.slice())
      const views = ours.shardViews(k + m, shard)
      for (const [i, v] of views.entries()) v.set(truth[i]!)
      for (let lost = 0; lost <= m; lost++) {
        rows.push({
          k,
          m,
          shard,
          op: lost === 0 ? 'encode' : `rebuild ${lost} data`,
          oursMBps: cell(ours, plain, truth, k, lost, ms),
          inPlaceMBps: cell(ours, views, truth, k, lost, ms),
          baselineMBps: cell(baseline, plain, truth, k, lost, ms),
        })
      }
    }
  }
  return rows
}

export function formatRows(rows: MeasureRow[]): string {
  const head = [
    'geometry',
    'shard',
    'operation',
    'ours MB/s',
    'in-place MB/s',
    'baseline MB/s',
    'ratio',
    'in-place ratio',
  ]
  const body = rows.map((r) => [
    `${r.k}+${r.m}`,
    r.shard >= 1 << 20 ? `${r.shard >> 20} MiB` : `${r.shard >> 10} KiB`,
    r.op,
    r.oursMBps.toFixed(0),
    r.inPlaceMBps.toFixed(0),
    r.baselineMBps.toFixed(0),
    `${(r.oursMBps / r.baselineMBps).toFixed(1)}×`,
    `${(r.inPlaceMBps / r.baselineMBps).toFixed(1)}×`,
  ])
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((b) => b[c]!.length)))
  const line = (cells: string[]) =>
    `| ${cells.map((s, c) => (c < 3 ? s.padEnd(widths[c]!) : s.padStart(widths[c]!))).join(' | ')} |`
  return [
    line(head),
    `|${widths.map((w, c) => (c < 3 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...body.map(line),
  ].join('\n')
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('wasm/measure.ts')) {
  const args = process.argv.slice(2)
  const msArg = args.indexOf('--ms')
  const ours = createSimdCodec(simdWasmFiles())
  console.log(`kernel: ${ours.name}; data bytes/s (10^6); ours = ErasureCodec on JS buffers, in-place = shardViews`)
  console.log(
    formatRows(
      measureCodecs({ quick: args.includes('--quick'), ms: msArg >= 0 ? Number(args[msArg + 1]) : undefined, ours }),
    ),
  )
}
