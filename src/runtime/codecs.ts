/**
 * Loads the erasure codec's WebAssembly from node_modules (node:fs works on Node, Deno and Bun)
 * and hands the bytes to src/storage, which never touches the filesystem itself.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { loadWasmCodec, type ErasureCodec } from '../storage/index.ts'

export async function loadBaselineCodec(): Promise<ErasureCodec> {
  const pkg = createRequire(import.meta.url).resolve('@subspace/reed-solomon-erasure.wasm/package.json')
  return loadWasmCodec(await readFile(join(dirname(pkg), 'dist', 'reed_solomon_erasure_bg.wasm')))
}
