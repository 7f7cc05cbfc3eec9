/**
 * Loads the erasure codecs' WebAssembly (node:fs works on Node, Deno and Bun) and hands the bytes
 * to src/storage, which never touches the filesystem itself: our SIMD kernel from wasm/, or the
 * baseline package from node_modules.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { createSimdCodec, loadWasmCodec, type ErasureCodec, type SimdCodec } from '../storage/index.ts'

export type CodecName = 'simd' | 'baseline'

const WASM_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'wasm')

/**
 * docs/architecture.md §8: Node 20 runs relaxed SIMD only behind this V8 flag; Node 24, Deno and Bun
 * validate it as is (so the flag is never set there).
 */
const RELAXED_FLAG = '--experimental-wasm-relaxed-simd'

export async function loadBaselineCodec(): Promise<ErasureCodec> {
  const pkg = createRequire(import.meta.url).resolve('@subspace/reed-solomon-erasure.wasm/package.json')
  return loadWasmCodec(await readFile(join(dirname(pkg), 'dist', 'reed_solomon_erasure_bg.wasm')))
}

/**
 * Our kernel: the relaxed-SIMD build where this runtime validates it (after asking V8 for the
 * feature, which it accepts before the first module using it compiles), else the plain SIMD build.
 */
export async function loadSimdCodec(wasmDir = WASM_DIR): Promise<SimdCodec> {
  const simd = new Uint8Array(await readFile(join(wasmDir, 'rs-simd.wasm')))
  const relaxed = new Uint8Array(await readFile(join(wasmDir, 'rs-relaxed-simd.wasm')))
  if (!WebAssembly.validate(relaxed)) {
    try {
      setFlagsFromString(RELAXED_FLAG)
    } catch {
      // A runtime without V8 flags (or a stub node:v8) keeps the plain SIMD build.
    }
  }
  return createSimdCodec(WebAssembly.validate(relaxed) ? { simd, relaxed } : { simd })
}

/**
 * The codec the server runs. The SIMD kernel needs WebAssembly SIMD (every runtime we support has
 * it); should this one refuse the module, the baseline codec keeps the server up — the parity is
 * byte-identical, so either reads what the other wrote.
 */
export async function loadCodec(
  name: CodecName,
  warn: (message: string) => void = () => {},
  wasmDir = WASM_DIR,
): Promise<ErasureCodec> {
  if (name === 'simd') {
    try {
      return await loadSimdCodec(wasmDir)
    } catch (e) {
      warn(`SIMD codec unavailable (${(e as Error).message}); using the baseline codec`)
    }
  }
  return loadBaselineCodec()
}
