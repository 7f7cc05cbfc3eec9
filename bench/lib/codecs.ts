/**
 * Finds the codecs to compare: the baseline (@subspace/reed-solomon-erasure.wasm, as the server
 * loads it) and our SIMD kernel builds when this checkout has them; otherwise says why not.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import type { ErasureCodec } from '../../src/storage/codec.ts'

export interface Codecs {
  baseline: ErasureCodec
  /** Our kernel, one entry per build this runtime can run ("simd", "relaxed-simd"). */
  ours: { label: string; codec: ErasureCodec }[]
  /** Why there is no SIMD codec (shown in the table instead of numbers). */
  oursMissing?: string
}

type SimdModule = {
  createSimdCodec(wasm: { simd: Uint8Array; relaxed?: Uint8Array }): ErasureCodec & { variant?: string }
}

/** docs/architecture.md §8: Node 20 runs relaxed SIMD only behind this V8 flag, settable before compiling. */
const RELAXED_FLAG = '--experimental-wasm-relaxed-simd'

/**
 * Our kernel from wasm/ (the committed builds), through src/storage/codec-simd.ts's
 * createSimdCodec: the plain SIMD build always, and the relaxed-SIMD build when this runtime
 * validates it, if need be after setting the V8 flag (as the server may at start-up).
 */
async function loadOurs(repoRoot: string): Promise<{ ours: Codecs['ours']; why?: string }> {
  const wasmDir = join(repoRoot, 'wasm')
  const simdFile = join(wasmDir, 'rs-simd.wasm')
  const relaxedFile = join(wasmDir, 'rs-relaxed-simd.wasm')
  if (!existsSync(join(repoRoot, 'src/storage/codec-simd.ts')))
    return { ours: [], why: 'src/storage/codec-simd.ts not in this checkout' }
  if (!existsSync(simdFile)) return { ours: [], why: 'wasm/rs-simd.wasm not built' }
  try {
    const mod = (await import('../../src/storage/codec-simd.ts')) as unknown as SimdModule
    if (typeof mod.createSimdCodec !== 'function') return { ours: [], why: 'codec-simd.ts exports no createSimdCodec' }
    const simd = new Uint8Array(readFileSync(simdFile))
    const ours: Codecs['ours'] = [{ label: 'simd', codec: mod.createSimdCodec({ simd }) }]
    if (existsSync(relaxedFile)) {
      const relaxed = new Uint8Array(readFileSync(relaxedFile))
      if (!WebAssembly.validate(relaxed)) setFlagsFromString(RELAXED_FLAG)
      if (WebAssembly.validate(relaxed)) {
        const codec = mod.createSimdCodec({ simd, relaxed })
        if (codec.variant === undefined || codec.variant === 'relaxed-simd') ours.push({ label: 'relaxed simd', codec })
      }
    }
    return { ours }
  } catch (e) {
    return { ours: [], why: `SIMD codec did not load: ${(e as Error).message.split('\n')[0]}` }
  }
}

export async function loadCodecs(repoRoot: string): Promise<Codecs> {
  const { loadBaselineCodec } = await import('../../src/runtime/codecs.ts')
  const baseline = await loadBaselineCodec()
  const ours = await loadOurs(repoRoot)
  return { baseline, ours: ours.ours, oursMissing: ours.why }
}
