/**
 * ErasureCodec over the reed-solomon-erasure Rust crate compiled to wasm
 * (@subspace/reed-solomon-erasure.wasm). Web APIs only: the caller supplies the .wasm bytes.
 */
import { checkBlocks, checkGeometry, prepareReconstruct, type ErasureCodec } from './codec.ts'

/*
 * Why our own glue instead of the package's JS: its index.js is CommonJS that requires 'fs' at
 * load (a Node built-in, which src/storage must not pull in) and mallocs + frees a buffer on every call. The .wasm
 * itself has no imports and exports only memory, malloc/free, encode and reconstruct, so a few
 * lines drive it directly and keep one scratch allocation alive across calls (the shard buffer is
 * borrowed by the Rust side; see reconstruct for the flags, which it takes ownership of).
 */
interface RsExports {
  memory: WebAssembly.Memory
  encode(ptr: number, len: number, k: number, m: number): number
  reconstruct(ptr: number, len: number, k: number, m: number, flags: number, flagsLen: number): number
  __wbindgen_malloc(size: number): number
  __wbindgen_free(ptr: number, size: number): void
}

/** The crate's RESULT_* codes, for error messages. */
const RESULTS = [
  'OK',
  'TOO_FEW_SHARDS',
  'TOO_MANY_SHARDS',
  'TOO_FEW_DATA_SHARDS',
  'TOO_MANY_DATA_SHARDS',
  'TOO_FEW_PARITY_SHARDS',
  'TOO_MANY_PARITY_SHARDS',
  'TOO_FEW_BUFFER_SHARDS',
  'TOO_MANY_BUFFER_SHARDS',
  'INCORRECT_SHARD_SIZE',
  'TOO_FEW_SHARDS_PRESENT',
  'EMPTY_SHARD',
  'INVALID_SHARD_FLAGS',
  'INVALID_INDEX',
]
/** Accepted wasm sources: the bytes of reed_solomon_erasure_bg.wasm, or a compiled module. */
export type WasmSource = BufferSource | WebAssembly.Module

/** Synchronous: compiles `wasm` if it is bytes (fine on servers; browsers limit sync compiles). */
export function createWasmCodec(wasm: WasmSource): ErasureCodec {
  const module = wasm instanceof WebAssembly.Module ? wasm : new WebAssembly.Module(wasm)
  return codecOver(new WebAssembly.Instance(module).exports as unknown as RsExports)
}

/** Asynchronous: also takes a fetch() Response (Deno and Bun can fetch file: URLs). */
export async function loadWasmCodec(source: WasmSource | Response | PromiseLike<Response>): Promise<ErasureCodec> {
  const s = await source
  if (s instanceof WebAssembly.Module) return createWasmCodec(s)
  const bytes = s instanceof Response ? await s.arrayBuffer() : s
  const { instance } = await WebAssembly.instantiate(bytes)
  return codecOver(instance.exports as unknown as RsExports)
}

function codecOver(x: RsExports): ErasureCodec {
  let ptr = 0
  let cap = 0

  /** Ensures the scratch area holds `n` bytes; returns a view of wasm memory (it may have grown). */
  function scratch(n: number): Uint8Array {
    if (n > cap) {
      if (cap > 0) x.__wbindgen_free(ptr, cap)
      cap = 0
      ptr = x.__wbindgen_malloc(n)
      cap = n
    }
    return new Uint8Array(x.memory.buffer)
  }

  function check(code: number, op: string, k: number, m: number): void {
    if (code !== 0) throw new Error(`reed-solomon ${op} failed for ${k}+${m}: ${RESULTS[code] ?? code}`)
  }

  function encode(data: readonly Uint8Array[], parity: readonly Uint8Array[]): void {
    const k = data.length
    const m = parity.length
    checkGeometry(k, m)
    const len = checkBlocks([...data, ...parity], 'encode')
    if (m === 0 || len === 0) return // the crate rejects both; nothing to compute
    const mem = scratch((k + m) * len)
    for (let i = 0; i < k; i++) mem.set(data[i]!, ptr + i * len)
    check(x.encode(ptr, (k + m) * len, k, m), 'encode', k, m)
    const out = new Uint8Array(x.memory.buffer)
    for (let j = 0; j < m; j++) parity[j]!.set(out.subarray(ptr + (k + j) * len, ptr + (k + j + 1) * len))
  }

  return {
    name: 'wasm:reed-solomon-erasure',
    encode,

    reconstruct(shards, present, k, dataOnly = false) {
      const { m, len } = prepareReconstruct(shards, present, k, dataOnly)
      const n = shards.length
      // Indexed loops throughout: a sparse `present` (holes) must read as missing, and
      // Array methods like map/some skip holes.
      const flagsOf = Array.from({ length: n }, (_, i) => (present[i] ? 1 : 0))
      let dataMissing = false
      for (let i = 0; i < k; i++) if (!present[i]) dataMissing = true
      if (dataMissing && len > 0) {
        const mem = scratch(n * len)
        for (let i = 0; i < n; i++) if (present[i]) mem.set(shards[i]!, ptr + i * len)
        // The flags are a Vec<u8> passed by value: the Rust side frees them. (The package's own
        // index.js frees them again, a double free that corrupts the allocator: every later
        // reconstruct then fails with TOO_FEW_SHARDS_PRESENT. Pinned by the contract's repeats.)
        const flags = x.__wbindgen_malloc(n)
        new Uint8Array(x.memory.buffer).set(flagsOf, flags)
        check(x.reconstruct(ptr, n * len, k, m, flags, n), 'reconstruct', k, m)
        // The crate rebuilds data shards only (reconstruct_data); parity is re-encoded below.
        const out = new Uint8Array(x.memory.buffer)
        for (let i = 0; i < k; i++) if (!present[i]) shards[i]!.set(out.subarray(ptr + i * len, ptr + (i + 1) * len))
      }
      let parityMissing = false
      for (let i = k; i < n; i++) if (!present[i]) parityMissing = true
      if (!dataOnly && parityMissing) {
        // Present parity is recomputed into scratch buffers: one encode call, caller's bytes untouched.
        const out = Array.from({ length: m }, (_, j) => (present[k + j] ? new Uint8Array(len) : shards[k + j]!))
        encode(shards.slice(0, k) as Uint8Array[], out)
      }
      return shards as Uint8Array[]
    },

    verify(shards, k) {
      const m = shards.length - k
      checkGeometry(k, m)
      const len = checkBlocks(shards, 'verify')
      if (m === 0) return true
      const parity = Array.from({ length: m }, () => new Uint8Array(len))
      encode(shards.slice(0, k), parity)
      for (let j = 0; j < m; j++) {
        const a = parity[j]!
        const b = shards[k + j]!
        for (let i = 0; i < len; i++) if (a[i] !== b[i]) return false
      }
      return true
    },
  }
}
