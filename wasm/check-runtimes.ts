/**
 * Quick check that the SIMD codec loads and is right on this runtime, beside the baseline:
 *   node --import tsx wasm/check-runtimes.ts | npx deno run --allow-read wasm/check-runtimes.ts | npx bun wasm/check-runtimes.ts
 */
import process from 'node:process'
import type { ErasureCodec } from '../src/storage/codec.ts'
import { createSimdCodec } from '../src/storage/codec-simd.ts'
import { createWasmCodec } from '../src/storage/codec-wasm.ts'
import { baselineWasmFile, simdWasmFiles } from './measure.ts'

// Only the fields read here; Node's types know neither global.
const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } }
const runtime = g.Deno ? `deno ${g.Deno.version.deno}` : g.Bun ? `bun ${g.Bun.version}` : `node ${process.version}`
let passed = 0
let failed = 0
function check(what: string, ok: boolean): void {
  if (ok) passed++
  else {
    failed++
    console.log(`FAIL ${what}`)
  }
}

function random(len: number): Uint8Array {
  const b = new Uint8Array(len)
  for (let i = 0; i < len; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536))
  return b
}
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i])

const files = simdWasmFiles()
const base = createWasmCodec(baselineWasmFile())
const codecs: [string, ErasureCodec][] = [
  ['best', createSimdCodec(files)],
  ['plain', createSimdCodec({ simd: files.simd })],
]
console.log(
  `${runtime}: relaxed SIMD build validates: ${WebAssembly.validate(files.relaxed)}; picked ${codecs[0]![1].name}`,
)

for (const [label, ours] of codecs) {
  for (const [k, m] of [
    [4, 2],
    [8, 4],
    [12, 4],
  ] as const) {
    for (const len of [1, 17, 64, 1000, 4099, 65536 + 13]) {
      const data = Array.from({ length: k }, () => random(len))
      const want = Array.from({ length: m }, () => new Uint8Array(len))
      const got = Array.from({ length: m }, () => random(len))
      base.encode(data, want)
      ours.encode(data, got)
      check(
        `${label} ${k}+${m} len ${len} encode`,
        want.every((w, j) => same(w, got[j]!)),
      )
      const full = [...data, ...want]
      // Every pattern of up to m losses for 4+2; a sliding window of m losses otherwise.
      const patterns: number[][] = []
      if (k === 4)
        for (let mask = 1; mask < 64; mask++) {
          const p = [0, 1, 2, 3, 4, 5].filter((i) => mask & (1 << i))
          if (p.length <= m) patterns.push(p)
        }
      else for (let s = 0; s + m <= k + m; s += 2) patterns.push(Array.from({ length: m }, (_, i) => s + i))
      for (const lost of patterns) {
        const present = full.map((_, i) => !lost.includes(i))
        const back = ours.reconstruct(
          full.map((b, i) => (present[i] ? b : undefined)),
          present,
          k,
        )
        check(
          `${label} ${k}+${m} len ${len} lost ${lost}`,
          full.every((b, i) => same(b, back[i]!)),
        )
      }
    }
  }
}

/** Data MB/s of 4+2 and 8+4 encode at 256 KiB shards, ours beside the baseline (indicative). */
function speed(codec: ErasureCodec, k: number, m: number): number {
  const len = 256 * 1024
  const data = Array.from({ length: k }, () => random(len))
  const parity = Array.from({ length: m }, () => new Uint8Array(len))
  for (let i = 0; i < 20; i++) codec.encode(data, parity)
  let n = 0
  const t0 = performance.now()
  while (performance.now() - t0 < 300) {
    codec.encode(data, parity)
    n++
  }
  return (n * k * len) / ((performance.now() - t0) / 1000) / 1e6
}
for (const [k, m] of [
  [4, 2],
  [8, 4],
] as const) {
  const ours = speed(codecs[0]![1], k, m)
  const b = speed(base, k, m)
  console.log(
    `${runtime}: encode ${k}+${m} 256 KiB: ours ${ours.toFixed(0)} MB/s, baseline ${b.toFixed(0)} MB/s, ${(ours / b).toFixed(1)}×`,
  )
}
console.log(`${passed} passed, ${failed} failed`)
if (failed) process.exit(1)
