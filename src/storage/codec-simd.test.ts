import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { describe, expect, it } from 'vitest'
import { codecContract } from './codec.contract.ts'
import { createSimdCodec, loadSimdCodec, pickSimdBuild } from './codec-simd.ts'
import { createWasmCodec } from './codec-wasm.ts'
import { encodingMatrix } from './gf256.ts'

/** What a runtime does: read the committed builds from wasm/ and pass the bytes. */
const WASM_DIR = join(import.meta.dirname, '..', '..', 'wasm')
const simdBytes = () => readFileSync(join(WASM_DIR, 'rs-simd.wasm'))
const relaxedBytes = () => readFileSync(join(WASM_DIR, 'rs-relaxed-simd.wasm'))
const files = () => ({ simd: simdBytes(), relaxed: relaxedBytes() })

// Node 20 validates relaxed SIMD only behind this V8 flag; src/runtime/codecs.ts sets it the same
// way before the first compile, so both builds run (and are checked) on every runtime we support.
if (!WebAssembly.validate(relaxedBytes())) setFlagsFromString('--experimental-wasm-relaxed-simd')

function baseline() {
  const pkg = createRequire(import.meta.url).resolve('@subspace/reed-solomon-erasure.wasm/package.json')
  return createWasmCodec(readFileSync(join(dirname(pkg), 'dist', 'reed_solomon_erasure_bg.wasm')))
}

function random(len: number): Uint8Array {
  const b = new Uint8Array(len)
  for (let i = 0; i < len; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536))
  return b
}
const eq = (a: Uint8Array, b: Uint8Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))
const randInt = (n: number) => crypto.getRandomValues(new Uint32Array(1))[0]! % n

/** `count` distinct shard indexes below n, at random. */
function pick(n: number, count: number): number[] {
  const all = [...Array(n).keys()]
  for (let i = n - 1; i > 0; i--) {
    const j = randInt(i + 1)
    ;[all[i], all[j]] = [all[j]!, all[i]!]
  }
  return all.slice(0, count).sort((a, b) => a - b)
}

codecContract('simd (sync, relaxed SIMD build)', () => createSimdCodec(files()))
codecContract('simd (plain SIMD build only)', () => createSimdCodec({ simd: simdBytes() }))
codecContract('simd (async, from Responses)', () =>
  loadSimdCodec({
    simd: new Response(new Uint8Array(simdBytes())),
    relaxed: new Response(new Uint8Array(relaxedBytes())),
  }),
)

const BUILDS = [
  ['relaxed SIMD', () => createSimdCodec(files())],
  ['plain SIMD', () => createSimdCodec({ simd: simdBytes() })],
] as const

describe.each(BUILDS)('simd codec (%s build) against the baseline codec', (_build, make) => {
  const base = baseline()
  const ours = make()
  const GEOMETRIES = [
    [4, 2],
    [8, 4],
    [12, 4],
  ] as const

  it('has the baseline parity matrix (unit vectors through the baseline)', () => {
    for (const [k, m] of [...GEOMETRIES, [10, 6], [3, 1]] as const) {
      const mat = encodingMatrix(k, m)
      for (let j = 0; j < k; j++) {
        const data = Array.from({ length: k }, (_, i) => Uint8Array.of(i === j ? 1 : 0))
        const parity = Array.from({ length: m }, () => new Uint8Array(1))
        base.encode(data, parity)
        for (let i = 0; i < m; i++) expect(parity[i]![0], `${k}+${m} c[${i}][${j}]`).toBe(mat[k + i]![j])
      }
    }
  })

  it('encodes byte-identically on random sizes, tails included', () => {
    const sizes = [1, 15, 16, 17, 31, 33, 63, 64, 65, 127, 1000, 4097, 65535, 65536 + 48 + 7, 32768 * 3 + 5]
    for (let r = 0; r < 6; r++) sizes.push(1 + randInt(300_000))
    for (const [k, m] of GEOMETRIES) {
      for (const len of sizes) {
        const data = Array.from({ length: k }, () => random(len))
        const want = Array.from({ length: m }, () => new Uint8Array(len))
        const got = Array.from({ length: m }, () => random(len))
        base.encode(data, want)
        ours.encode(data, got)
        for (let j = 0; j < m; j++) if (!eq(got[j]!, want[j]!)) expect.fail(`${k}+${m} len ${len}: parity ${j} differs`)
      }
    }
  })

  it('reconstructs what the baseline wrote, random erasure patterns up to m (12+4 and 8+4 included)', () => {
    for (const [k, m] of GEOMETRIES) {
      const len = 1 + randInt(100_000)
      const data = Array.from({ length: k }, () => random(len))
      const parity = Array.from({ length: m }, () => new Uint8Array(len))
      base.encode(data, parity)
      const full = [...data, ...parity]
      for (let t = 0; t < 12; t++) {
        const lost = pick(k + m, 1 + (t % m))
        const present = full.map((_, i) => !lost.includes(i))
        const got = ours.reconstruct(
          full.map((b, i) => (present[i] ? b : undefined)),
          present,
          k,
        )
        for (let i = 0; i < k + m; i++)
          if (!eq(got[i]!, full[i]!)) expect.fail(`${k}+${m} len ${len} lost ${lost}: shard ${i}`)
      }
    }
  })

  it('works in place on shardViews, alone and mixed with plain buffers', () => {
    for (const [k, m] of GEOMETRIES) {
      const len = 70_001
      const views = ours.shardViews(k + m, len)
      expect(views.every((v) => v.length === len)).toBe(true)
      const data = Array.from({ length: k }, () => random(len))
      const want = Array.from({ length: m }, () => new Uint8Array(len))
      base.encode(data, want)
      for (const [i, d] of data.entries()) views[i]!.set(d)
      ours.encode(views.slice(0, k), views.slice(k))
      for (let j = 0; j < m; j++) expect(eq(views[k + j]!, want[j]!)).toBe(true)
      expect(ours.verify(views, k)).toBe(true)
      // Mixed: data in views, parity in JS buffers, and the other way round.
      const plainParity = Array.from({ length: m }, () => new Uint8Array(len))
      ours.encode(views.slice(0, k), plainParity)
      for (let j = 0; j < m; j++) expect(eq(plainParity[j]!, want[j]!)).toBe(true)
      // Lose the first m shards of the views and rebuild them in place.
      const present = views.map((_, i) => i >= m)
      for (let i = 0; i < m; i++) views[i]!.fill(0)
      ours.reconstruct(views, present, k)
      for (let i = 0; i < k; i++) expect(eq(views[i]!, data[i]!)).toBe(true)
      views[k]![len - 1]! ^= 1
      expect(ours.verify(views, k)).toBe(false)
    }
  })

  it('stays correct when the table arena fills and is reused (large geometries)', () => {
    const k = 100
    const m = 100 // each plan is 100·100·32 bytes: four of them overflow the 1 MiB arena
    const len = 200
    const data = Array.from({ length: k }, () => random(len))
    const want = Array.from({ length: m }, () => new Uint8Array(len))
    base.encode(data, want)
    const full = [...data, ...want]
    for (let t = 0; t < 5; t++) {
      const lost = pick(k + m, 60 + t)
      const present = full.map((_, i) => !lost.includes(i))
      const got = ours.reconstruct(
        full.map((b, i) => (present[i] ? b : undefined)),
        present,
        k,
      )
      for (let i = 0; i < k + m; i++) if (!eq(got[i]!, full[i]!)) expect.fail(`round ${t}: shard ${i}`)
      const parity = Array.from({ length: m }, () => new Uint8Array(len))
      ours.encode(data, parity) // its plan may have been evicted by the reconstructs: re-uploaded
      for (let j = 0; j < m; j++) expect(eq(parity[j]!, want[j]!)).toBe(true)
    }
  })
})

describe('simd build selection', () => {
  it('this runtime validates the relaxed build once the flag is set, and the codec picks it', () => {
    expect(WebAssembly.validate(relaxedBytes())).toBe(true)
    expect(pickSimdBuild(files()).variant).toBe('relaxed-simd')
    expect(createSimdCodec(files()).name).toBe('wasm:rs-relaxed-simd')
    expect(createSimdCodec({ simd: simdBytes() }).name).toBe('wasm:rs-simd')
  })

  it('falls back to the plain SIMD build when the relaxed one does not validate', () => {
    const junk = Uint8Array.of(0, 0x61, 0x73, 0x6d, 9, 9, 9, 9)
    expect(pickSimdBuild({ simd: simdBytes(), relaxed: junk }).variant).toBe('simd')
    expect(pickSimdBuild({ simd: simdBytes() }).variant).toBe('simd')
  })

  it('the relaxed and plain builds give the same parity', () => {
    const relaxed = createSimdCodec(files())
    const plain = createSimdCodec({ simd: simdBytes() })
    expect(relaxed.variant).toBe('relaxed-simd')
    const data = Array.from({ length: 8 }, () => random(9_999))
    const a = Array.from({ length: 4 }, () => new Uint8Array(9_999))
    const b = Array.from({ length: 4 }, () => new Uint8Array(9_999))
    relaxed.encode(data, a)
    plain.encode(data, b)
    for (let j = 0; j < 4; j++) expect(eq(a[j]!, b[j]!)).toBe(true)
  })
})
