/**
 * Builds the committed kernels: wasm/kernel.mjs → WAT → wabt (npm devDependency) → .wasm.
 * `node wasm/build.mjs` writes them; `node wasm/build.mjs --check` fails if they are stale.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import wabtInit from 'wabt'
import { kernelWat } from './kernel.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const check = process.argv.includes('--check')

/** FORMAT: file names the runtime loads (src/storage/codec-simd.ts documents them too). */
const BUILDS = [
  { file: 'rs-simd.wasm', relaxed: false, features: { simd: true } },
  { file: 'rs-relaxed-simd.wasm', relaxed: true, features: { simd: true, relaxed_simd: true } },
]

const wabt = await wabtInit()
let stale = 0
for (const { file, relaxed, features } of BUILDS) {
  const wat = kernelWat({ relaxed })
  const mod = wabt.parseWat(file.replace('.wasm', '.wat'), wat, features)
  mod.validate()
  const bytes = Buffer.from(mod.toBinary({ log: false, canonicalize_lebs: true, write_debug_names: false }).buffer)
  mod.destroy()
  const path = join(here, file)
  if (check) {
    let old = Buffer.alloc(0)
    try {
      old = readFileSync(path)
    } catch {}
    if (!old.equals(bytes)) {
      console.error(`stale: ${file} differs from a fresh build; run node wasm/build.mjs`)
      stale++
    }
  } else {
    writeFileSync(path, bytes)
    // The plain build's text, for reading and review; generated, never edited.
    if (!relaxed) writeFileSync(join(here, 'rs-simd.wat'), wat)
    console.log(`wrote wasm/${file} (${bytes.length} bytes)`)
  }
}
if (check) {
  if (stale) process.exit(1)
  console.log('wasm builds are up to date')
}
