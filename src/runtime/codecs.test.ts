import { describe, expect, it } from 'vitest'
import { loadBaselineCodec, loadCodec } from './codecs.ts'

// The server's codec choice point: both load from their real files, and because the parity is
// byte-identical, shards written by one are rebuilt by the other.
describe('loadCodec', () => {
  it('simd loads our relaxed-SIMD kernel from wasm/ (Node 20 included: the V8 flag) and baseline loads the package', async () => {
    expect((await loadCodec('simd')).name).toBe('wasm:rs-relaxed-simd')
    expect((await loadCodec('baseline')).name).toBe('wasm:reed-solomon-erasure')
  })

  it('simd whose module files cannot be read falls back to the baseline, with a warning', async () => {
    const warnings: string[] = []
    const codec = await loadCodec('simd', (m) => warnings.push(m), '/nonexistent/coffer-wasm')
    expect(codec.name).toBe('wasm:reed-solomon-erasure')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/SIMD codec unavailable .*; using the baseline codec/)
  })

  it('the kernel the server picks rebuilds what the baseline encoded', async () => {
    const simd = await loadCodec('simd')
    const base = await loadBaselineCodec()
    const k = 4
    const m = 2
    const len = 4096 + 7
    const data = Array.from({ length: k }, () => crypto.getRandomValues(new Uint8Array(len)))
    const parity = Array.from({ length: m }, () => new Uint8Array(len))
    base.encode(data, parity)
    const shards: (Uint8Array | undefined)[] = [...data.map((d) => d.slice()), ...parity.map((p) => p.slice())]
    shards[0] = undefined
    shards[3] = undefined
    const present = shards.map((s) => s !== undefined)
    const rebuilt = simd.reconstruct(shards, present, k)
    expect(rebuilt[0]).toEqual(data[0])
    expect(rebuilt[3]).toEqual(data[3])
  })
})
