import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { codecContract } from './codec.contract.ts'
import { createWasmCodec, loadWasmCodec } from './codec-wasm.ts'

/** What a runtime does: resolve the package, read reed_solomon_erasure_bg.wasm, pass the bytes. */
export function wasmBytes(): Uint8Array {
  const pkg = createRequire(import.meta.url).resolve('@subspace/reed-solomon-erasure.wasm/package.json')
  return readFileSync(join(dirname(pkg), 'dist', 'reed_solomon_erasure_bg.wasm'))
}

codecContract('wasm (sync, from bytes)', () => createWasmCodec(wasmBytes()))
codecContract('wasm (async, from a Response)', () => loadWasmCodec(new Response(new Uint8Array(wasmBytes()))))

describe('wasm codec', () => {
  it('reports encode throughput (information only)', () => {
    const codec = createWasmCodec(wasmBytes())
    for (const [k, m] of [
      [4, 2],
      [8, 4],
    ] as const) {
      const block = 256 * 1024
      const data = Array.from({ length: k }, (_, i) => new Uint8Array(block).fill(i * 37 + 1))
      const parity = Array.from({ length: m }, () => new Uint8Array(block))
      codec.encode(data, parity) // warm up
      const rounds = 64
      const t0 = performance.now()
      for (let r = 0; r < rounds; r++) codec.encode(data, parity)
      const secs = (performance.now() - t0) / 1000
      const mbps = (rounds * k * block) / secs / 1e6
      console.log(`[info] ${codec.name} encode ${k}+${m}, ${block / 1024} KiB blocks: ${mbps.toFixed(0)} MB/s of data`)
      expect(codec.verify([...data, ...parity], k)).toBe(true)
    }
  })
})
