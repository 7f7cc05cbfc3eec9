/**
 * The Reed–Solomon kernel's source: a generator of WebAssembly text (WAT), one function per
 * output-group size, unrolled here because WAT has no macros. Used by build.mjs only.
 */

/*
 * What the module does (all addresses are byte offsets in its own exported memory; the host lays
 * out tables, pointer arrays and buffers, the module allocates nothing):
 *
 *   macG(tbl, ins, n, outs, len)   for G in 1..4
 *     out[g][x] = XOR over i < n of  c[g][i] · in[i][x]      for g < G, x < len
 *     ins/outs: arrays of n / G i32 pointers; tbl: for each input i, for each output g,
 *     32 bytes at tbl + (i·G + g)·32 = { c·x for x in 0..15 } ‖ { c·(x<<4) for x in 0..15 }.
 *   differs(a, b, len) -> 1 when the two ranges differ (verify without a JS byte loop)
 *
 * The split-nibble trick (ISA-L, klauspost/reedsolomon): c·x = c·(x & 15) ^ c·(x & 0xf0) in
 * GF(2^8), and each half is a 16-entry lookup, i.e. one i8x16.swizzle per 16 bytes.
 * Loop order: for each column block, each input's bytes are loaded and split into nibbles once,
 * then multiplied into all G outputs' accumulators while still in registers; outputs are stored
 * once per block. G is capped at 4 and the block width W per G keeps accumulators + nibbles +
 * two table vectors within the 16 xmm registers V8 gives wasm (measured: more spills and slows).
 */

/** Vectors of 16 bytes per input per block, by group size G (tuned with measure.ts). */
export const BLOCK_VECTORS = { 1: 4, 2: 2, 3: 2, 4: 1 }

const range = (n) => Array.from({ length: n }, (_, i) => i)

function macFunction(G, W, swizzle) {
  const S = 16 * W
  const locals = [
    '(local $off i32) (local $end i32) (local $q i32) (local $qend i32) (local $t i32) (local $p i32) (local $mask v128)',
    '(local $tl v128) (local $th v128)',
    range(W)
      .map((w) => `(local $x${w} v128) (local $l${w} v128) (local $h${w} v128)`)
      .join(' '),
    range(G)
      .map((g) =>
        range(W)
          .map((w) => `(local $a${g}_${w} v128)`)
          .join(' '),
      )
      .join(' '),
  ]

  /** One pass over [off, end) in steps of 16·w bytes. */
  function columnLoop(label, w) {
    const step = 16 * w
    const lines = []
    lines.push(`(local.set $end (i32.and (local.get $len) (i32.const ${-step})))`)
    lines.push(`(block $${label}_done (loop $${label}`)
    lines.push(`  (br_if $${label}_done (i32.ge_u (local.get $off) (local.get $end)))`)
    for (const g of range(G)) for (const v of range(w)) lines.push(`  (local.set $a${g}_${v} (v128.const i64x2 0 0))`)
    lines.push('  (local.set $q (local.get $ins)) (local.set $t (local.get $tbl))')
    lines.push(`  (loop $${label}_in`)
    lines.push('    (local.set $p (i32.add (i32.load (local.get $q)) (local.get $off)))')
    for (const v of range(w)) {
      lines.push(`    (local.set $x${v} (v128.load offset=${16 * v} align=1 (local.get $p)))`)
      lines.push(`    (local.set $l${v} (v128.and (local.get $x${v}) (local.get $mask)))`)
      // i16x8 shift + mask: one psrlw; an i8x16 shift would cost V8 several instructions.
      lines.push(`    (local.set $h${v} (v128.and (i16x8.shr_u (local.get $x${v}) (i32.const 4)) (local.get $mask)))`)
    }
    for (const g of range(G)) {
      lines.push(`    (local.set $tl (v128.load offset=${32 * g} (local.get $t)))`)
      lines.push(`    (local.set $th (v128.load offset=${32 * g + 16} (local.get $t)))`)
      for (const v of range(w)) {
        lines.push(
          `    (local.set $a${g}_${v} (v128.xor (local.get $a${g}_${v}) (v128.xor (${swizzle} (local.get $tl) (local.get $l${v})) (${swizzle} (local.get $th) (local.get $h${v})))))`,
        )
      }
    }
    lines.push(`    (local.set $t (i32.add (local.get $t) (i32.const ${32 * G})))`)
    lines.push('    (local.set $q (i32.add (local.get $q) (i32.const 4)))')
    lines.push(`    (br_if $${label}_in (i32.lt_u (local.get $q) (local.get $qend))))`)
    for (const g of range(G)) {
      lines.push(`  (local.set $p (i32.add (i32.load offset=${4 * g} (local.get $outs)) (local.get $off)))`)
      for (const v of range(w))
        lines.push(`  (v128.store offset=${16 * v} align=1 (local.get $p) (local.get $a${g}_${v}))`)
    }
    lines.push(`  (local.set $off (i32.add (local.get $off) (i32.const ${step})))`)
    lines.push(`  (br $${label})))`)
    return lines
  }

  const body = [
    '(local.set $mask (i8x16.splat (i32.const 15)))',
    '(local.set $qend (i32.add (local.get $ins) (i32.shl (local.get $n) (i32.const 2))))',
    ...columnLoop('wide', W),
    ...(W > 1 ? columnLoop('narrow', 1) : []),
    `(call $tail (local.get $tbl) (local.get $ins) (local.get $n) (local.get $outs) (i32.const ${G}) (local.get $off) (local.get $len))`,
  ]
  return [
    `(func (export "mac${G}") (param $tbl i32) (param $ins i32) (param $n i32) (param $outs i32) (param $len i32)`,
    ...locals.map((l) => `  ${l}`),
    ...body.map((l) => `  ${l}`),
    ')',
    `;; block = ${S} bytes per input`,
  ].join('\n')
}

/** The last len % 16 bytes, one at a time (at most 15 per call). */
const TAIL = `(func $tail (param $tbl i32) (param $ins i32) (param $n i32) (param $outs i32) (param $G i32) (param $x i32) (param $len i32)
  (local $g i32) (local $q i32) (local $qend i32) (local $t i32) (local $b i32) (local $acc i32) (local $stride i32)
  (local.set $qend (i32.add (local.get $ins) (i32.shl (local.get $n) (i32.const 2))))
  (local.set $stride (i32.shl (local.get $G) (i32.const 5)))
  (block $done (loop $bytes
    (br_if $done (i32.ge_u (local.get $x) (local.get $len)))
    (local.set $g (i32.const 0))
    (loop $outputs
      (local.set $acc (i32.const 0))
      (local.set $q (local.get $ins))
      (local.set $t (i32.add (local.get $tbl) (i32.shl (local.get $g) (i32.const 5))))
      (loop $inputs
        (local.set $b (i32.load8_u (i32.add (i32.load (local.get $q)) (local.get $x))))
        (local.set $acc (i32.xor (local.get $acc) (i32.xor
          (i32.load8_u (i32.add (local.get $t) (i32.and (local.get $b) (i32.const 15))))
          (i32.load8_u offset=16 (i32.add (local.get $t) (i32.shr_u (local.get $b) (i32.const 4)))))))
        (local.set $t (i32.add (local.get $t) (local.get $stride)))
        (local.set $q (i32.add (local.get $q) (i32.const 4)))
        (br_if $inputs (i32.lt_u (local.get $q) (local.get $qend))))
      (i32.store8 (i32.add (i32.load (i32.add (local.get $outs) (i32.shl (local.get $g) (i32.const 2)))) (local.get $x)) (local.get $acc))
      (local.set $g (i32.add (local.get $g) (i32.const 1)))
      (br_if $outputs (i32.lt_u (local.get $g) (local.get $G))))
    (local.set $x (i32.add (local.get $x) (i32.const 1)))
    (br $bytes)))
)`

const DIFFERS = `(func (export "differs") (param $a i32) (param $b i32) (param $len i32) (result i32)
  (local $off i32) (local $end i32)
  (local.set $end (i32.and (local.get $len) (i32.const -16)))
  (block $done (loop $vec
    (br_if $done (i32.ge_u (local.get $off) (local.get $end)))
    (if (v128.any_true (v128.xor
          (v128.load align=1 (i32.add (local.get $a) (local.get $off)))
          (v128.load align=1 (i32.add (local.get $b) (local.get $off)))))
      (then (return (i32.const 1))))
    (local.set $off (i32.add (local.get $off) (i32.const 16)))
    (br $vec)))
  (block $done2 (loop $bytes
    (br_if $done2 (i32.ge_u (local.get $off) (local.get $len)))
    (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $off))) (i32.load8_u (i32.add (local.get $b) (local.get $off))))
      (then (return (i32.const 1))))
    (local.set $off (i32.add (local.get $off) (i32.const 1)))
    (br $bytes)))
  (i32.const 0)
)`

/** The whole module's text; `relaxed` swaps in i8x16.relaxed_swizzle (same result for indices < 16). */
export function kernelWat({ relaxed = false, blockVectors = BLOCK_VECTORS } = {}) {
  const swizzle = relaxed ? 'i8x16.relaxed_swizzle' : 'i8x16.swizzle'
  return [
    `;; Reed–Solomon GF(2^8) multiply-accumulate, ${relaxed ? 'relaxed SIMD' : 'SIMD'} build. GENERATED by wasm/kernel.mjs — edit that.`,
    '(module',
    '(memory (export "memory") 1)',
    ...[1, 2, 3, 4].map((G) => macFunction(G, blockVectors[G], swizzle)),
    TAIL,
    DIFFERS,
    ')',
    '',
  ].join('\n')
}
