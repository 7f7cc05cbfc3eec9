import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

// The committed .wasm files are what `npm ci` users run; this keeps them the build of the
// committed source (wasm/kernel.mjs through wabt), so nobody ships a kernel nobody can rebuild.
describe('wasm/ builds', () => {
  it('the committed rs-simd.wasm and rs-relaxed-simd.wasm are what wasm/build.mjs produces', () => {
    const root = join(import.meta.dirname, '..', '..')
    const r = spawnSync(process.execPath, [join(root, 'wasm', 'build.mjs'), '--check'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/up to date/)
  })
})
