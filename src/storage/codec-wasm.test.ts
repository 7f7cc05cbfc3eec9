import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { codecContract } from './codec.contract.ts'
import { createWasmCodec, loadWasmCodec } from './codec-wasm.ts'

/** What a runtime does: resolve the package, read reed_solomon_erasure_bg.wasm, pass the bytes. */
function wasmBytes(): Uint8Array {
  const pkg = createRequire(import.meta.url).resolve('@subspace/reed-solomon-erasure.wasm/package.json')
  return readFileSync(join(dirname(pkg), 'dist', 'reed_solomon_erasure_bg.wasm'))
}

codecContract('wasm (sync, from bytes)', () => createWasmCodec(wasmBytes()))
codecContract('wasm (async, from a Response)', () => loadWasmCodec(new Response(new Uint8Array(wasmBytes()))))
