/**
 * ErasureCodec over our own WebAssembly SIMD kernel (wasm/rs-simd.wasm, rs-relaxed-simd.wasm):
 * split-nibble GF(2^8) multiply-accumulate. Web APIs only: the caller supplies the .wasm bytes.
 */
import { checkBlocks, checkGeometry, prepareReconstruct, type ErasureCodec } from './codec.ts'
import { decodeRows, encodingMatrix, nibbleTables, type Matrix } from './gf256.ts'

interface KernelExports {
  memory: WebAssembly.Memory
  mac1(tbl: number, ins: number, n: number, outs: number, len: number): void
  mac2(tbl: number, ins: number, n: number, outs: number, len: number): void
  mac3(tbl: number, ins: number, n: number, outs: number, len: number): void
  mac4(tbl: number, ins: number, n: number, outs: number, len: number): void
  differs(a: number, b: number, len: number): number
}

export type WasmSource = BufferSource | WebAssembly.Module
/** Both builds of wasm/: `relaxed` is used when this runtime validates it, else `simd`. */
export interface SimdWasm {
  simd: WasmSource
  relaxed?: WasmSource
}
export type SimdVariant = 'relaxed-simd' | 'simd'

export interface SimdCodec extends ErasureCodec {
  readonly variant: SimdVariant
  /**
   * `count` blocks of `len` bytes inside the kernel's memory: encode/reconstruct/verify read and
   * write such views in place, with no copy in or out. One workspace per codec: a later call
   * reuses (and may move) it, and views from an earlier call then alias or read as length 0.
   */
  shardViews(count: number, len: number): Uint8Array[]
}

// Memory map (byte offsets). The kernel allocates nothing; these regions never move, and memory
// grows only in shardViews, so a call in progress never sees its views detached.
const INS = 0 // up to 256 i32 pointers (MAX_SHARDS in codec.ts)
const OUTS = 1024 // up to 4 i32 pointers (one output group)
const TABLES = 4096
/** Room for the tables of several plans; one plan needs at most 128·128·32 = 512 KiB. */
const TABLES_SIZE = 1 << 20
const SCRATCH = TABLES + TABLES_SIZE
/** Copy-through area for JS buffers, processed in column chunks so every copy hits cache. */
const SCRATCH_SIZE = 1 << 20
const VIEWS = SCRATCH + SCRATCH_SIZE
/** Bytes per shard per chunk when copying: large enough to amortise calls, small enough for L2. */
const CHUNK = 32 * 1024
const ALIGN = 64
const PAGE = 65536

/** The kernel's output group limit (mac1..mac4): more outputs run as several groups. */
const GROUP = 4

interface Plan {
  /** Tables of all groups, back to back; uploaded into the TABLES arena when needed. */
  bytes: Uint8Array
  groups: { offset: number; size: number; first: number }[]
  at: number
  generation: number
}

/** Picks the build: relaxed SIMD if this runtime validates it (Node 20 does not, unflagged). */
export function pickSimdBuild(wasm: SimdWasm): { variant: SimdVariant; source: WasmSource } {
  if (!wasm?.simd)
    throw new TypeError(
      'SIMD codec: pass the builds, { simd: <wasm/rs-simd.wasm>, relaxed?: <wasm/rs-relaxed-simd.wasm> }',
    )
  const r = wasm.relaxed
  if (r && (r instanceof WebAssembly.Module || WebAssembly.validate(r))) return { variant: 'relaxed-simd', source: r }
  return { variant: 'simd', source: wasm.simd }
}

/** Synchronous: compiles the chosen build if it is bytes. */
export function createSimdCodec(wasm: SimdWasm): SimdCodec {
  const { variant, source } = pickSimdBuild(wasm)
  const module = source instanceof WebAssembly.Module ? source : new WebAssembly.Module(source)
  return codecOver(new WebAssembly.Instance(module).exports as unknown as KernelExports, variant)
}

/** Asynchronous: each build may also be a fetch() Response. */
export async function loadSimdCodec(wasm: {
  simd: WasmSource | Response | PromiseLike<Response>
  relaxed?: WasmSource | Response | PromiseLike<Response>
}): Promise<SimdCodec> {
  const bytes = async (s: WasmSource | Response | PromiseLike<Response>): Promise<WasmSource> => {
    const v = await s
    return v instanceof Response ? v.arrayBuffer() : v
  }
  const { variant, source } = pickSimdBuild({
    simd: await bytes(wasm.simd),
    relaxed: wasm.relaxed && (await bytes(wasm.relaxed)),
  })
  const instance =
    source instanceof WebAssembly.Module
      ? await WebAssembly.instantiate(source)
      : (await WebAssembly.instantiate(source)).instance
  return codecOver(instance.exports as unknown as KernelExports, variant)
}

function codecOver(x: KernelExports, variant: SimdVariant): SimdCodec {
  const grow = (bytes: number) => {
    const need = Math.ceil(bytes / PAGE) - x.memory.buffer.byteLength / PAGE
    if (need > 0) x.memory.grow(need)
  }
  grow(VIEWS)
  let mem = new Uint8Array(x.memory.buffer)
  let ptrs = new Uint32Array(x.memory.buffer)
  const refresh = () => {
    if (mem.buffer !== x.memory.buffer) {
      mem = new Uint8Array(x.memory.buffer)
      ptrs = new Uint32Array(x.memory.buffer)
    }
  }
  const macs = [x.mac1, x.mac2, x.mac3, x.mac4]

  // Plans (tables per geometry and erasure pattern) are computed once and cached; the arena in
  // wasm memory is reset when full, which bumps the generation so plans re-upload lazily.
  const matrices = new Map<string, Matrix>()
  const plans = new Map<string, Plan>()
  let arenaUsed = 0
  let generation = 0

  function matrix(k: number, m: number): Matrix {
    const key = `${k}+${m}`
    let mat = matrices.get(key)
    if (!mat) {
      mat = encodingMatrix(k, m)
      matrices.set(key, mat)
    }
    return mat
  }

  function plan(key: string, rows: () => Matrix): Plan {
    let p = plans.get(key)
    if (!p) {
      if (plans.size >= 1024) plans.clear() // bounded: erasure patterns are few in practice
      const all = rows()
      const groups: Plan['groups'] = []
      const parts: Uint8Array[] = []
      let offset = 0
      for (let first = 0; first < all.length; first += GROUP) {
        const t = nibbleTables(all.slice(first, first + GROUP))
        groups.push({ offset, size: Math.min(GROUP, all.length - first), first })
        parts.push(t)
        offset += t.length
      }
      const bytes = new Uint8Array(offset)
      for (let i = 0, o = 0; i < parts.length; o += parts[i]!.length, i++) bytes.set(parts[i]!, o)
      p = { bytes, groups, at: 0, generation: -1 }
      plans.set(key, p)
    }
    if (p.generation !== generation) {
      const size = Math.ceil(p.bytes.length / ALIGN) * ALIGN
      if (arenaUsed + size > TABLES_SIZE) {
        generation++
        arenaUsed = 0
      }
      p.at = TABLES + arenaUsed
      arenaUsed += size
      p.generation = generation
      refresh()
      mem.set(p.bytes, p.at)
    }
    return p
  }

  /** A view we may address in place: inside the shardViews workspace of the live memory. */
  const inPlace = (b: Uint8Array) => b.buffer === x.memory.buffer && b.byteOffset >= VIEWS

  /**
   * Runs the plan: outputs[g] = rows[g] · inputs. Views into our workspace are used in place;
   * other buffers go through scratch in column chunks. With `compare`, outputs are computed into
   * scratch and compared with the given buffers instead (verify); returns false on a mismatch.
   */
  function run(
    p: Plan,
    inputs: readonly Uint8Array[],
    outputs: readonly Uint8Array[],
    len: number,
    compare = false,
  ): boolean {
    refresh()
    const n = inputs.length
    const direct = (b: Uint8Array) => !compare && inPlace(b)
    let slots = 0
    for (const b of inputs) if (!inPlace(b)) slots++
    for (const b of outputs) slots += direct(b) ? 0 : compare && !inPlace(b) ? 2 : 1
    const chunk = slots === 0 ? len : Math.max(ALIGN, Math.min(CHUNK, Math.floor(SCRATCH_SIZE / slots / ALIGN) * ALIGN))
    const inSlot = inputs.map(() => -1)
    const outSlot = outputs.map(() => -1)
    const cmpSlot = outputs.map(() => -1)
    let s = 0
    for (let i = 0; i < n; i++) if (!inPlace(inputs[i]!)) inSlot[i] = SCRATCH + chunk * s++
    for (let j = 0; j < outputs.length; j++) {
      if (!direct(outputs[j]!)) outSlot[j] = SCRATCH + chunk * s++
      if (compare && !inPlace(outputs[j]!)) cmpSlot[j] = SCRATCH + chunk * s++
    }
    for (let a = 0; a < len; a += chunk) {
      const c = Math.min(chunk, len - a)
      for (let i = 0; i < n; i++) {
        const b = inputs[i]!
        if (inSlot[i]! < 0) ptrs[(INS >> 2) + i] = b.byteOffset + a
        else {
          mem.set(c === b.length ? b : b.subarray(a, a + c), inSlot[i])
          ptrs[(INS >> 2) + i] = inSlot[i]!
        }
      }
      for (const g of p.groups) {
        for (let j = 0; j < g.size; j++) {
          const o = g.first + j
          ptrs[(OUTS >> 2) + j] = outSlot[o]! < 0 ? outputs[o]!.byteOffset + a : outSlot[o]!
        }
        macs[g.size - 1]!(p.at + g.offset, INS, n, OUTS, c)
      }
      for (let j = 0; j < outputs.length; j++) {
        const b = outputs[j]!
        if (compare) {
          let theirs = b.byteOffset + a
          if (cmpSlot[j]! >= 0) {
            theirs = cmpSlot[j]!
            mem.set(b.subarray(a, a + c), theirs)
          }
          if (x.differs(outSlot[j]!, theirs, c)) return false
        } else if (outSlot[j]! >= 0) {
          const src = mem.subarray(outSlot[j], outSlot[j]! + c)
          if (c === b.length) b.set(src)
          else b.set(src, a)
        }
      }
    }
    return true
  }

  const encodePlan = (k: number, m: number) => plan(`${k}+${m}:encode`, () => matrix(k, m).slice(k))

  function encode(data: readonly Uint8Array[], parity: readonly Uint8Array[]): void {
    const k = data.length
    const m = parity.length
    checkGeometry(k, m)
    const len = checkBlocks([...data, ...parity], 'encode')
    if (m === 0 || len <= 0) return
    run(encodePlan(k, m), data, parity, len)
  }

  return {
    name: `wasm:rs-${variant}`,
    variant,
    encode,

    reconstruct(shards, present, k, dataOnly = false) {
      const { m, len } = prepareReconstruct(shards, present, k, dataOnly)
      // Indexed loop: holes in a sparse `present` read as missing.
      const from: number[] = []
      const wanted: number[] = []
      for (let i = 0; i < shards.length; i++) {
        if (present[i]) {
          if (from.length < k) from.push(i) // data first: those rows are the identity
        } else if (!(dataOnly && i >= k)) wanted.push(i)
      }
      if (wanted.length === 0 || len <= 0) return shards as Uint8Array[]
      const p = plan(`${k}+${m}:${from.join(',')}>${wanted.join(',')}`, () => decodeRows(matrix(k, m), from, wanted))
      run(
        p,
        from.map((i) => shards[i]!),
        wanted.map((i) => shards[i]!),
        len,
      )
      return shards as Uint8Array[]
    },

    verify(shards, k) {
      const m = shards.length - k
      checkGeometry(k, m)
      const len = checkBlocks(shards, 'verify')
      if (m === 0 || len <= 0) return true
      return run(encodePlan(k, m), shards.slice(0, k), shards.slice(k), len, true)
    },

    shardViews(count, len) {
      if (!(count >= 0 && len >= 0)) throw new RangeError(`shardViews: bad count ${count} or length ${len}`)
      const stride = Math.ceil(len / ALIGN) * ALIGN
      grow(VIEWS + count * stride)
      refresh()
      return Array.from({ length: count }, (_, i) => new Uint8Array(x.memory.buffer, VIEWS + i * stride, len))
    },
  }
}
